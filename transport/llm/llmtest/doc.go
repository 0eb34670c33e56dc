// Package llmtest holds wire-faithful fake servers of the LLM vendors (OpenAI and compatible
// servers, Anthropic, Gemini) for the adapters' tests and the end-to-end tests. Each fake is a
// loopback HTTP server that checks requests the way its vendor does, answers a schema-valid
// JSON object built from the request's answer schema with the vendor's usage block, records
// every request, and can be scripted to fail (429 with retry hints, 5xx, 529, context-length
// 400s, stalls until the client disconnects). Test code only.
package llmtest
