// Package llmtest holds wire-faithful fake servers of the LLM vendors (OpenAI and compatible
// servers, Anthropic, Gemini) for the adapters' tests and the end-to-end tests. Each fake is a
// loopback HTTP server that checks requests the way its vendor does, answers a schema-valid
// JSON object built from the request's answer schema with the vendor's usage block, records
// every request, and can be scripted to fail (429 with retry hints, 5xx, 529, context-length
// 400s, stalls until the client disconnects). Each fake also serves its vendor's batch API
// (OpenAI Batch with its files, Anthropic Message Batches, Gemini batch mode): batches live in
// the test process's memory (so they outlive a server under test that is killed), end after a
// delay (SetBatchDelay) or on demand (EndBatches), can be cancelled, answer each request with
// the fake's normal answer logic, and are counted (BatchCounts). Test code only.
package llmtest
