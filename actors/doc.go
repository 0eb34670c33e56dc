// Package actors is the enrichment engine: protoactor-go actors that run jobs, and the Engine
// facade the HTTP front end calls.
//
// The tree:
//
//	Engine (engine.go: the facade; launch.go prepares and starts jobs, recovery.go restarts them)
//	├── supervisor (supervisor.go): admission, registry of running jobs, routes by job id
//	│   ├── job (job.go): one enrichment, a batch entity, or a fusion job; owns its journal
//	│   │   ├── expertise (expertise.go): the classification call
//	│   │   ├── model (model.go), one per requested model: runs the LLM calls of its strategy
//	│   │   │   itself (callRun in expertise.go), no child actor
//	│   │   └── fusion (fusion.go): the rule merge, then
//	│   │       └── expertise: the arbitration call
//	│   ├── batch (batch.go): starts entity jobs within its room; owns the batch's journal
//	│   │   ├── job, one per entity in flight (entity.go: forwarding with the entity index)
//	│   │   └── provider batch collector (provbatch.go), one per model of an execution
//	│   │       provider_batch batch: its calls go there, and on to the vendor's batch API
//	│   └── schema job (schemajob.go): owns its journal
//	│       └── expertise: the generation or edit call
//	├── provider (provider.go), one per provider: concurrency cap, FIFO queue, cool-down,
//	│   transport retries; every call (callRun, in a model or expertise actor) asks its provider actor (or its batch's
//	│   provider batch collector). With a cluster-wide cap, its permit keeper (permits.go: a
//	│   goroutine the Engine owns) lends it permits
//	├── persister (persister.go): group-commits events, records and job snapshots; answers persisted
//	└── webhook worker (webhook.go): a goroutine the Engine owns, not an actor
//
// Every message and who sends it is listed in messages.go. A job (or batch, or schema job) owns
// its journal (journal.go): it is the only writer of its event sequence, numbers each event,
// applies the byte budgets and hands it to the persister; once the persister answers
// persisted it publishes the event to its own subscribers. SSE subscribers (stream.go)
// register with the job's actor by message, through the supervisor (Engine.Subscribe waits,
// no actor does), replay the stored log, then follow the live lane; one that falls behind
// reads the log and rejoins. A job that ended is served from the stored log alone; one that
// runs on another node sharing the store is followed through the store's EventFollower
// (follow.go), or without one served from the stored log to its current end.
// A fusion job is a job whose only child is a fusion actor.
//
// Rules kept everywhere: nothing blocks inside Receive (LLM calls and storage writes run in
// goroutines owned by the actor that started them, which report back with a message); job
// actors and their children are stopped, never restarted, on failure; messages are pointers to
// structs that are not changed after sending.
package actors
