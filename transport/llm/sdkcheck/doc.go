// Package sdkcheck holds no code of its own: its tests check the vendor wire formats against
// the vendors' official Go SDKs. The SDKs decode what the llmtest fake servers send (answers,
// usage, error bodies), and the Gemini adapter's request body equals the one genai sends.
//
// It is a module of its own so that the SDKs (genai alone brings about 200 packages, gRPC
// among them) are compiled only when these checks run: `go test ./...` at the repository root
// does not build them; CI runs `go test ./...` in this directory as a separate step.
package sdkcheck
