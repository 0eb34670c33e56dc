// Package enricher is the pure domain of Entity Enricher: entities, schemas, model keys,
// accounts, records, jobs and events, plus the rules that act on them (schema parsing and
// validation, answer validation, prompt building, fusion) and the error vocabulary shared by
// every layer.
//
// The package imports nothing of this module and only the standard library. Its functions do no
// I/O, start no goroutines and read no clock: callers pass the current time and random values in.
// Every exported function is safe for concurrent use unless its comment says otherwise.
package enricher
