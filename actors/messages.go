package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
)

// Every message of the engine, grouped by the actor that receives it. Each comment names the
// sender and, for a request, the reply. Messages are pointers to structs that are not changed
// after sending. Self-messages (an actor's own timers and goroutine reports) are listed with
// their receiver; those that may arrive after the actor stopped implement
// IgnoreDeadLetterLogging.

// ---- supervisor ----

// Supervisor commands.
type (
	// reserve asks for an admission slot for a new job of Org whose work needs
	// Need provider calls at once. Hold takes them at the gates on admission (single jobs;
	// batches take room per entity). Recovered skips the caps: the job was admitted before.
	// Sender: the engine (a request). Reply: reserved.
	reserve struct {
		Org       string
		Need      callNeed
		Hold      bool
		Recovered bool
	}
	// reserved answers reserve: nil Err, or a KindTooMany/KindUnavailable error.
	reserved struct{ Err error }
	// release gives back a slot (and Held calls) whose job could not be stored.
	// Sender: the engine. No reply.
	release struct {
		Org  string
		Held callNeed
	}
	// spawnJob starts the actor of a stored job whose slot is reserved; Held are the calls it
	// took at admission, given back when it ends. Sender: the engine. No reply.
	spawnJob struct {
		Job   *enricher.Job
		Props *actor.Props
		Held  callNeed
	}
	// toJob forwards Msg to the running job JobID of organization Org; the job answers the
	// original sender. When no job of Org by that id is running here the supervisor answers
	// jobReply with a KindNotFound error (nobody when the sender is not waiting: unsubscribe).
	// Sender: the engine (a request). Reply: jobReply.
	toJob struct {
		Org   string
		JobID string
		Msg   any
	}
	// stopAdmitting makes every later reserve fail with 503 (shutdown).
	// Sender: the engine (a request). Reply: true.
	stopAdmitting struct{}
	// jobFinished tells the supervisor a job is done: its terminal event is stored (Ended),
	// or it cannot store its events. An ended job answers what was queued for it before it
	// stops (the supervisor poisons it); a failed one is stopped at once.
	// Sender: a job, batch or schema job actor, to its parent. No reply.
	jobFinished struct {
		JobID, OrgID string
		Status       enricher.JobStatus
		Ended        bool
	}
)

// ---- job actor (single enrichment, batch entity, fusion job) ----

// Job commands (from the engine, through the supervisor's toJob) and their reply. A batch actor
// and a schema job actor take cancelJob too.
type (
	cancelJob   struct{ Reason string }
	continueJob struct{}
	// jobReply answers cancelJob and continueJob: nil Err, or a domain error (409).
	jobReply struct {
		Status enricher.JobStatus
		Err    error
	}
	// pauseExpired is the job's own timer: a paused job that was not continued in time is
	// cancelled.
	pauseExpired struct{}
)

// The journal's messages: a job, batch or schema job actor receives them for its journal
// (journal.go) and passes them to journal.serve. Sender: the engine, through the supervisor's
// toJob (Subscribe, and a Stream's rejoin and Close).
type (
	// subscribe registers a live subscriber. Reply: subscribed (or KindTooMany in Err; no Sub
	// and the terminal seq in Final once the job ended).
	subscribe struct{}
	// rejoinLive gives Sub, which fell behind, a new lane. Reply: subscribed.
	rejoinLive struct{ Sub *Subscription }
	// unsubscribe frees Sub's place (a Stream closed). No reply.
	unsubscribe struct{ Sub *Subscription }
	// subscribed answers subscribe and rejoinLive.
	subscribed struct {
		Sub   *Subscription
		Lane  *lane
		Final int64
		Err   error
	}
)

// Messages from a model actor to its job. No replies.
type (
	// modelProgress carries a call's progress (callStarted or callAttemptFailed).
	modelProgress struct {
		Model string
		Msg   any
	}
	// expertiseDone reports one domain of a multi_expertise run.
	expertiseDone struct {
		Model string
		Event enricher.ExpertiseCompletedEvent
	}
	// modelDone is the end of a run: its result and its record (nil when the run made no call
	// and holds no classification).
	modelDone struct {
		Model  string
		Result enricher.ModelResult
		Output map[string]any
		Record *enricher.Record
	}
)

// fusionMerged is the rule-based merge of a fusion actor, or why it failed (Err). Pending are
// the conflicts sent to the arbiter next (empty: no arbitration follows, and the fusion actor
// has stopped). Sender: the job's fusion actor. No reply.
type fusionMerged struct {
	Merged  map[string]any
	Report  enricher.ConflictReport
	Pending []enricher.FieldConflict
	Err     error
}

// The job actor also receives, from its fusion actor, the arbitration call's callStarted,
// callAttemptFailed and callResult; from the expertise actor it starts itself (classification):
// the same three messages (see the model actor below);
// and from the persister: persisted and persistFailed.

// ---- model actor ----

// cancelRun asks a model actor to abort its calls and report what it has (a modelDone).
// Sender: its job actor. No other reply.
type cancelRun struct{}

// The reports of a call (callRun, expertise.go): an expertise actor sends them to its parent (a
// job actor for classification, a fusion actor for arbitration, a schema job actor); a model
// actor's own calls hand them to it by a function call, not as messages. No replies.

// callAttemptFailed reports one failed try or invalid answer of a call to its parent.
type callAttemptFailed struct {
	Spec      *callSpec
	Attempt   int
	ErrorKind string
	Errors    []string
	WillRetry bool
	Answer    *enricher.Attempt // the billed answer that failed validation; nil for transport failures
}

// callStarted reports the attempt a call is on (for the current_attempt header field).
type callStarted struct {
	Spec    *callSpec
	Attempt int
}

// callResult is the outcome of a call: the checked result on success, else an error code and
// message. Call holds the prompt record with every answer received. It is the call's last
// report; an expertise actor stops itself after sending it.
type callResult struct {
	Spec    *callSpec
	Success bool
	Output  any
	Code    string
	Message string
	Call    enricher.PromptCall
}

// ---- batch actor ----

// Messages from an entity job (a job actor in batch mode) to its batch. No replies.
type (
	// entityEvent is one event of an entity, for the batch to number and store.
	entityEvent struct {
		Index     int
		Type      string
		Payload   any
		Records   []*enricher.Record
		Running   []string
		Current   *string
		Attempt   int
		LastError *string
	}
	// entityDone ends an entity: its outcome, and why it was cut short ("" when it ran to the
	// end; a cancel reason otherwise). Records are written with its entity_completed.
	entityDone struct {
		Index   int
		Outcome *enricher.EnrichmentOutcome
		Reason  string
		Records []*enricher.Record
	}
)

// entitiesRead is the answer of one window read of an entity source.
// Sender: the reading goroutine of the batch's entity source.
type entitiesRead struct {
	indices []int
	data    [][]byte
	err     error
}

// retryFill makes a batch that found no provider room try again (roomRetry later).
// Sender: the batch's own timer.
type retryFill struct{}

func (*retryFill) IgnoreDeadLetterLogging() {}

// providerBatchNotice is an event of one of the batch's provider batch collectors
// (provider_batch_submitted, _progress, _ended), for the batch to number and store.
// Sender: a collector (provbatch.go), to its parent batch actor. No reply.
type providerBatchNotice struct {
	Type    string
	Payload any
}

// cancelProviderBatches makes a collector cancel its open vendor batches and end its
// pending calls (the job is cancelled). Sender: its batch actor. No reply.
type cancelProviderBatches struct{}

// Messages of a provider batch collector (provbatch.go) to itself: its timers (pbFlush,
// pbPoll) and the reports of the goroutines that call the vendor's batch API (pbSubmitted,
// pbPolled, pbResults), and a call that goes round again (pbRequeue). No reply.
type (
	pbFlush     struct{}
	pbPoll      struct{ id string }
	pbSubmitted struct {
		calls []*providerCall
		ids   []string
		id    string
		err   error
	}
	pbPolled struct {
		id    string
		state *llm.BatchState
		err   error
	}
	pbResults struct {
		id      string
		results []llm.BatchResult
		err     error
	}
	pbRequeue struct{ call *providerCall }
)

func (*pbFlush) IgnoreDeadLetterLogging()     {}
func (*pbPoll) IgnoreDeadLetterLogging()      {}
func (*pbSubmitted) IgnoreDeadLetterLogging() {}
func (*pbPolled) IgnoreDeadLetterLogging()    {}
func (*pbResults) IgnoreDeadLetterLogging()   {}
func (*pbRequeue) IgnoreDeadLetterLogging()   {}

// The batch actor also receives cancelJob and continueJob (answered with jobReply), and
// persisted and persistFailed from the persister.

// ---- schema job actor ----

// schemaSaved reports the save of a generated or edited schema (from the saving goroutine).
type schemaSaved struct {
	Schema *enricher.SavedSchema
	Reused bool
	Err    error
}

// The schema job actor also receives the messages of its expertise actor (callStarted,
// callAttemptFailed, callResult), cancelJob, and persisted and persistFailed.

// ---- the host of a call: an expertise actor or a model actor ----

// The actor hosting a call (callRun) receives the replies of its provider actor to a
// providerCall: providerRetry (zero or more) then one providerResult. The high 32 bits of
// their ID are the call's tag (callTag), by which a model actor tells its calls apart.

// providerResult is the final outcome of a providerCall: a response, or the error of the last
// try. Elapsed is the duration of the last try.
type providerResult struct {
	ID      uint64
	Resp    *llm.Response
	Err     error
	Tries   int
	Elapsed time.Duration
	// Batch is true when the answer came through the vendor's batch API (its batch price
	// applies).
	Batch bool
}

// providerRetry reports a failed try that will be retried after Delay (attempt_failed events).
type providerRetry struct {
	ID    uint64
	Try   int
	Err   error
	Delay time.Duration
}

// ---- provider actor ----

// providerCall asks the provider actor for one answer. Ctx is cancelled when the caller stops;
// a call whose ctx is done is dropped from the queue or aborted in flight. ID correlates the
// replies (providerResult, providerRetry) sent to ReplyTo. Sender: a call's host (an expertise or
// model actor).
type providerCall struct {
	ID      uint64
	Ctx     context.Context
	Req     *llm.Request
	ReplyTo *actor.PID
	// Key names the call within its job (callSpec.Key): a provider batch collector makes
	// its custom id of it.
	Key string

	tries  int           // tries made so far (provider-owned)
	waited time.Duration // backoff waited so far (provider-owned)
	start  time.Time     // when the current try started (provider-owned)
	// reserved is the token estimate the current try took from its model's budget
	// (provider-owned; budget.go)
	reserved int
}

// model is the call's model key for budgets and metrics: the hints' key, else the upstream id.
func (c *providerCall) model() string {
	if h := c.Req.Hints; h != nil && h.ModelKey != "" {
		return h.ModelKey
	}
	return c.Req.Model
}

// tryDone is a finished HTTP try, reported by the goroutine that made it.
type tryDone struct {
	call *providerCall
	resp *llm.Response
	err  error
}

// requeue puts a call waiting for its backoff back at the head of the queue (the provider's
// own timer).
type requeue struct{ call *providerCall }

// wake re-runs the pump when a cool-down ends (the provider's own timer).
type wake struct{}

// permitsGranted tells a provider actor that its permit keeper (permits.go) lent it n more
// permits of the cluster-wide cap (negative: permits lost with the store's session, to stop
// using) and the most it should keep while it has work (its fair share while another node
// waits, the cap otherwise). Sent by the keeper's goroutine.
type permitsGranted struct {
	n    int
	keep int
}

func (*tryDone) IgnoreDeadLetterLogging() {}
func (*requeue) IgnoreDeadLetterLogging() {}
func (*wake) IgnoreDeadLetterLogging()    {}

// ---- persister ----

// persist asks the persister to write one job's batch (group-committed with others), then
// tell notify (if set) that everything up to seq upTo is stored: one reply per request, or,
// when cumulative, one per commit for the last request of notify in it (a journal's acks are
// cumulative: "everything up to upTo"). Sender: a job, batch or schema job actor (its
// journal: one request with every write of the message it handled). Reply, to notify:
// persisted, or persistFailed.
type persist struct {
	batch      storage.Batch
	notify     *actor.PID
	upTo       int64
	cumulative bool
}

// persisted tells a job that its events up to upTo are stored; the job's journal publishes
// them to its subscribers.
type persisted struct{ upTo int64 }

// persistFailed tells a job that a write failed; the job cannot go on.
type persistFailed struct{ err error }

// drain asks the persister to answer once every pending write is done (shutdown).
// Sender: the engine (a request). Reply: true.
type drain struct{}

// committed is the persister's own report of one group commit (from its writing goroutine).
type committed struct {
	reqs []*persist
	err  error
}

// retryCommit makes a persister holding its writes (low disk space) try again (its own timer).
type retryCommit struct{}

func (*retryCommit) IgnoreDeadLetterLogging() {}
