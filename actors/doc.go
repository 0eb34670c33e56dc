// Package actors is the enrichment engine: protoactor-go actors that run jobs, and the Engine
// facade the HTTP front end calls.
//
// The tree:
//
//	Engine (engine.go: the facade; launch.go prepares and starts jobs, recovery.go restarts them)
//	├── supervisor (supervisor.go): admission, registry of running jobs
//	│   ├── job (job.go): one enrichment, a batch entity, or a fusion job
//	│   │   ├── expertise (expertise.go): the classification call
//	│   │   ├── model (model.go), one per requested model
//	│   │   │   └── expertise, one per LLM call of its strategy
//	│   │   └── fusion (fusion.go): the rule merge, then
//	│   │       └── expertise: the arbitration call
//	│   ├── batch (batch.go): starts entity jobs within its room and numbers their events
//	│   │   └── job, one per entity in flight (entity.go: forwarding with the entity index)
//	│   └── schema job (schemajob.go)
//	│       └── expertise: the generation or edit call
//	├── provider (provider.go), one per provider: concurrency cap, FIFO queue, cool-down,
//	│   transport retries; every expertise actor asks its provider actor
//	├── persister (persister.go): group-commits events, records and job snapshots
//	└── webhook worker (webhook.go): a goroutine the Engine owns, not an actor
//
// Every message and who sends it is listed in messages.go. A job (or batch) is the only
// writer of its event sequence: it numbers each event (events.go) and hands it to the
// persister, which stores it and only then publishes it to the job's hub (hub.go), from which
// SSE subscribers read (stream.go). A fusion job is a job whose only child is a fusion actor.
//
// Rules kept everywhere: nothing blocks inside Receive (LLM calls and storage writes run in
// goroutines owned by the actor that started them, which report back with a message); job
// actors and their children are stopped, never restarted, on failure; messages are pointers to
// structs that are not changed after sending.
package actors
