// Package actors is the enrichment engine: protoactor-go actors that run jobs, and the Engine
// facade the HTTP front end calls.
//
// The tree: a supervisor admits and registers jobs; each job actor drives one
// model actor per requested model, which drives one expertise actor per LLM call of its strategy;
// every call goes through the provider actor of its provider (concurrency cap, FIFO queue,
// cool-down, transport retries). A persister actor group-commits events, records and job
// snapshots to storage and only then publishes the events to the job's hub, from which SSE
// subscribers read.
//
// Rules kept everywhere: nothing blocks inside Receive (LLM calls and storage writes run in
// goroutines owned by the actor that started them, which report back with a message); job
// actors and their children are stopped, never restarted, on failure; messages are pointers to
// structs that are not changed after sending.
package actors
