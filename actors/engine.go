package actors

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// Config holds the engine's limits. Zero values mean the documented default.
type Config struct {
	MaxJobs             int           // non-terminal jobs on the server; default 200
	MaxJobsPerOrg       int           // per organization; default 20
	MaxAttempts         int           // answers per call (max_validation_retries + 1); default 6
	MaxOutputTokens     int           // per call; default 8192
	LLMTimeout          time.Duration // one provider try; default 120s
	ProviderConcurrency int           // ceiling of calls in flight per provider without its own cap; default 8
	// ProviderFixed turns the adaptive limit off (provider_adaptive=false): every provider
	// keeps its ceiling of calls in flight. Default false: limits adapt (limiter.go).
	ProviderFixed bool
	// ClusterProviderConcurrency caps the calls in flight per provider on all the nodes of a
	// cluster together (cluster_provider_concurrency), shared through Deps.Permits
	// (permits.go). Default 0: no cluster-wide cap; each node has only its own ceiling.
	ClusterProviderConcurrency int
	// ProviderQueue bounds the calls of one provider that running work holds (waiting or in
	// flight): batches start entities only within it, and new jobs are refused (429) while it
	// is reached. Default 1000.
	ProviderQueue     int
	Retry             llm.RetryPolicy
	PauseTimeout      time.Duration // default 300s
	ClassifyMaxChars  int           // default 3000
	SSEBuffer         int           // events buffered per subscriber; default 256
	SSEMaxSubscribers int           // per job; default 32
	EventMaxBytes     int           // default 1 MiB
	JobEventsMaxBytes int           // default 256 MiB
	Logger            *slog.Logger  // default: discard
	Now               func() time.Time
	// OnRetry, when set, is told of every transport retry a provider schedules (metrics, tests).
	// It is called from the provider actor and must not block.
	OnRetry func(provider string, try int, delay time.Duration)
	// MaxSchemasPerOrg caps the live schemas a generation job may leave (default 1000).
	MaxSchemasPerOrg int
	// BatchConcurrency is the number of entities in flight per batch (default 8).
	BatchConcurrency int
	// Observer is told of calls, retries, provider load and jobs (metrics). Default: none.
	Observer Observer
	// Webhooks sets the delivery worker (webhook.go).
	Webhooks WebhookConfig
	// ProviderBatch sets batches run with execution provider_batch (provbatch.go).
	ProviderBatch ProviderBatchConfig

	fuse fuseFunc // the rule-based merge of fusion actors; nil: enricher.Fuse (tests replace it)
}

// ProviderBatchConfig sets the vendor batches of provider_batch jobs. Zero values mean the
// documented default.
type ProviderBatchConfig struct {
	// Poll is the interval between two looks at an open vendor batch; default 30s.
	Poll time.Duration
	// Window is how long a vendor batch may stay open; past it, it is cancelled and its open
	// calls are made realtime. Default 24h.
	Window time.Duration
	// Linger is how long a model's calls gather after the last one came before they are
	// submitted; default 2s.
	Linger time.Duration
	// Max is the most requests of one vendor batch, and the entities a provider_batch job
	// has in flight; default 1000.
	Max int
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	pb := &c.ProviderBatch
	if pb.Poll <= 0 {
		pb.Poll = 30 * time.Second
	}
	if pb.Window <= 0 {
		pb.Window = 24 * time.Hour
	}
	if pb.Linger <= 0 {
		pb.Linger = 2 * time.Second
	}
	if pb.Max <= 0 {
		pb.Max = 1000
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxJobs, 200)
	def(&c.MaxJobsPerOrg, 20)
	def(&c.MaxAttempts, 6)
	def(&c.MaxOutputTokens, 8192)
	def(&c.ProviderConcurrency, 8)
	def(&c.ProviderQueue, 1000)
	def(&c.ClassifyMaxChars, 3000)
	def(&c.SSEBuffer, 256)
	def(&c.SSEMaxSubscribers, 32)
	def(&c.EventMaxBytes, 1<<20)
	def(&c.JobEventsMaxBytes, 256<<20)
	def(&c.MaxSchemasPerOrg, 1000)
	def(&c.BatchConcurrency, 8)
	if c.LLMTimeout <= 0 {
		c.LLMTimeout = 120 * time.Second
	}
	if c.PauseTimeout <= 0 {
		c.PauseTimeout = 300 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

// Store is the storage the engine needs (storage.DB).
type Store interface {
	Committer
	// CreateJob stores a new job and, with bind, its Idempotency-Key in the same write.
	CreateJob(j *enricher.Job, bind *enricher.IdempotencyBinding) error
	Job(org, id string) (*enricher.Job, error)
	ActiveJobs() ([]*enricher.Job, error)
	Events(job string, after, upTo int64, fn func(seq int64, data []byte) error) error
	RecordsOfJob(org, job string) ([]*enricher.Record, error)
	// RecordsOfOpenEntities returns the records of the batch entities that have not ended.
	RecordsOfOpenEntities(org, job string) ([]*enricher.Record, error)
	Record(org, id string) (*enricher.Record, error)
	JobWithSpec(org, id string) (*enricher.Job, error)
	FinishedEntities(job string) ([]int, error)
	// StartedEntities returns the batch entities that started and did not end.
	StartedEntities(job string) ([]int, error)
	EntityStore
}

// Catalog resolves model keys (transport/llm's catalog).
type Catalog interface {
	Lookup(key string) (enricher.ModelInfo, error)
}

// Provider is one provider's implementation, its concurrency cap (0: the default), its
// models' rate-limit budgets by model key (none: calls go as capacity allows; budget.go) and
// its batch API.
type Provider struct {
	Impl        llm.Provider
	Concurrency int
	Budgets     map[string]Budget
	// Batch is the provider's batch API; nil when it has none (execution provider_batch is
	// then refused for its models).
	Batch llm.Batcher
}

// Deps are the engine's collaborators. All are required.
type Deps struct {
	Store     Store
	Catalog   Catalog
	Providers map[string]Provider // by provider name
	Schemas   SchemaStore         // where schema jobs save; nil refuses schema jobs
	// Webhooks and WebhookSender, when both set, run the delivery worker; without them
	// deliveries are still stored with their events but not sent.
	Webhooks      WebhookStore
	WebhookSender WebhookSender
	// Follower, when set, lets streams follow jobs that run on another node sharing the store
	// (follow.go); nil (one node, badger): such a job's stream is its stored log to its end.
	Follower EventFollower
	// Placement and Fence, both set, run jobs on the node that owns them (placement.go);
	// both nil (the default) run every job here. Placement may be bound to the engine
	// after New, before the first job starts.
	Placement Placement
	Fence     Fence
	// Permits, with Config.ClusterProviderConcurrency above 0, shares the providers' cap of
	// calls in flight with the other nodes (permits.go); nil: no cluster-wide cap.
	Permits Permits
}

// Engine is the facade the front end calls: it starts, streams, cancels and continues jobs. It
// owns the actor system; Stop ends it. Safe for concurrent use.
type Engine struct {
	cfg       Config
	deps      Deps
	log       *slog.Logger
	sys       *actor.ActorSystem
	sup       *actor.PID
	persister *actor.PID
	providers map[string]*actor.PID
	batchers  map[string]llm.Batcher // the providers' batch APIs, by provider name
	keepers   []*permitKeeper        // one per provider with a cluster-wide cap; stopped after the providers
	cancels   sync.WaitGroup         // vendor batch cancels that outlive their collector; waited for by Stop
	stats     map[string]*ProviderStats
	gates     gates
	active    atomic.Int64 // non-terminal jobs, kept by the supervisor
	schemas   *schemaCache
	answers   *answerSchemas
	webhooks  *webhookWorker // nil without a sender
	follows   followers      // streams on this node following jobs that run elsewhere
	stopped   atomic.Bool
	stopOnce  sync.Once
	releases  *fenceReleases // nil without a Fence
}

// New starts the engine and resumes every job that was not finished.
func New(cfg Config, deps Deps) (*Engine, error) {
	cfg = cfg.WithDefaults()
	if deps.Store == nil || deps.Catalog == nil {
		return nil, errors.New("actors: Store and Catalog are required")
	}
	if (deps.Placement == nil) != (deps.Fence == nil) {
		return nil, errors.New("actors: Placement and Fence go together")
	}
	log := cfg.Logger.With("component", "engine")
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log.With("subsystem", "protoactor") }),
		actor.WithDeadLetterRequestLogging(false),
	)
	e := &Engine{cfg: cfg, deps: deps, log: log, sys: sys, providers: map[string]*actor.PID{}, batchers: map[string]llm.Batcher{}, stats: map[string]*ProviderStats{},
		schemas: newSchemaCache(256), answers: newAnswerSchemas(1024)}
	var released func(string)
	if deps.Fence != nil {
		e.releases = &fenceReleases{fence: deps.Fence, log: log}
		released = e.releases.release
	}
	if deps.Webhooks != nil && deps.WebhookSender != nil {
		e.webhooks = startWebhookWorker(cfg.Webhooks, deps.Webhooks, deps.WebhookSender, cfg.Now, log)
	}
	e.persister = sys.Root.Spawn(actor.PropsFromProducer(newPersister(deps.Store, log, persistRetry, e.webhooksStored)))
	names := make([]string, 0, len(deps.Providers))
	for name := range deps.Providers {
		names = append(names, name)
	}
	e.gates = newGates(names, cfg.ProviderQueue)
	for name, p := range deps.Providers {
		conc := p.Concurrency
		if conc <= 0 {
			conc = cfg.ProviderConcurrency
		}
		st := &ProviderStats{}
		e.stats[name] = st
		pc := ProviderConfig{Name: name, Concurrency: conc, Fixed: cfg.ProviderFixed, Retry: cfg.Retry, Timeout: cfg.LLMTimeout,
			OnRetry: cfg.OnRetry, Observer: cfg.Observer, Budgets: p.Budgets}
		if p.Batch != nil {
			e.batchers[name] = p.Batch
		}
		var keeper *permitKeeper
		if deps.Permits != nil && cfg.ClusterProviderConcurrency > 0 {
			keeper = newPermitKeeper(name, cfg.ClusterProviderConcurrency, deps.Permits, log, e.cfg.Observer)
			e.keepers = append(e.keepers, keeper)
		}
		e.providers[name] = sys.Root.Spawn(actor.PropsFromProducer(newProviderActor(pc, p.Impl, time.Now, st, keeper)))
		if keeper != nil {
			keeper.start(sys.Root, e.providers[name])
		}
	}
	e.sup = sys.Root.Spawn(actor.PropsFromProducer(newSupervisor(&e.cfg, e.gates, &e.active, log, released), actor.WithSupervisor(stopStrategy)))
	if deps.Placement != nil { // the placement's sweeper resumes stored jobs on their owners
		return e, nil
	}
	if err := e.recover(); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// webhooksStored wakes the delivery worker after deliveries were stored.
func (e *Engine) webhooksStored() {
	if e.webhooks != nil {
		e.webhooks.nudge()
	}
}

// askTimeout bounds every request-reply with an actor.
const askTimeout = 10 * time.Second

// Start admits, stores and starts a single enrichment, fusion or batch job. It returns once
// the job is stored. A batch's entities (spec.Entities) are stored by index under the job
// id first; the stored spec keeps only their count. Errors: KindTooMany (admission),
// KindUnavailable (shutdown or storage), KindInvalid (a model that vanished from the catalog).
func (e *Engine) Start(org string, by enricher.CreatedBy, spec *enricher.EnrichSpec) (*enricher.Job, error) {
	return e.StartBound(org, by, spec, nil)
}

// StartBound is Start that also stores bind (when not nil) with the job, in the same write: a
// job started under an Idempotency-Key is never stored without it. Errors as Start, and
// KindConflict when the key was bound by a concurrent start.
func (e *Engine) StartBound(org string, by enricher.CreatedBy, spec *enricher.EnrichSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	id := uuid.NewString()
	if spec.Entities == nil {
		return e.start(org, by, id, spec, bind)
	}
	if e.stopped.Load() {
		return nil, enricher.Errorf(enricher.KindUnavailable, "server is shutting down")
	}
	if err := e.stageEntities(id, spec.Entities); err != nil {
		return nil, err
	}
	stored := *spec
	stored.Entities, stored.EntityCount = nil, len(spec.Entities)
	job, err := e.start(org, by, id, &stored, bind)
	if err != nil {
		e.dropEntities(id)
	}
	return job, err
}

// StartStaged starts a batch whose spec.EntityCount entities are already stored under jobID
// (an NDJSON upload, see EntityStore), storing bind with the job as StartBound does. The
// caller deletes the staged entities when this fails. Errors as StartBound.
func (e *Engine) StartStaged(org string, by enricher.CreatedBy, jobID string, spec *enricher.EnrichSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	if spec.Entities != nil || spec.EntityCount <= 0 {
		return nil, enricher.Errorf(enricher.KindInvalid, "a staged batch has a count of stored entities and no inline ones")
	}
	return e.start(org, by, jobID, spec, bind)
}

// StartFusion checks the records to merge and starts a fusion job. Errors:
// KindNotFound for a record that is unknown, deleted or of another organization; KindInvalid
// for a record that is not a successful enrichment record, two records of one model, or
// records of different schema content or languages.
func (e *Engine) StartFusion(org string, by enricher.CreatedBy, ids []string, arbiter *string) (*enricher.Job, error) {
	return e.StartFusionBound(org, by, ids, arbiter, nil, nil)
}

// StartFusionBound is StartFusion with a callback target (webhook, optional) and bind stored
// with the job (see StartBound).
func (e *Engine) StartFusionBound(org string, by enricher.CreatedBy, ids []string, arbiter *string, webhook *enricher.WebhookTarget,
	bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	spec, err := e.fusionSpec(org, ids, arbiter, webhook)
	if err != nil {
		return nil, err
	}
	return e.StartBound(org, by, spec, bind)
}

// Subscribe opens a stream on job id of org that starts after seq after (the resume point).
// A running job registers the subscriber in its journal (a request to its actor; the caller
// waits, no actor does); a job that ended is served from the stored log alone; a job that
// neither runs here nor ended (it runs on another node) is followed through Deps.Follower up
// to its terminal event, or, without one, served from the stored log to its current end.
// KindNotFound for unknown jobs (or another organization's), KindTooMany at
// sse_max_subscribers (per job and node: the job's own subscribers where it runs, its
// followers elsewhere), KindUnavailable when the job does not answer.
func (e *Engine) Subscribe(org, id string, after int64) (*Stream, error) {
	s := logStream(e.deps.Store, id, after)
	// The running job first: it answers from memory, and only a job that does not run here
	// (ended, stopping, or on another node) costs a read of its snapshot.
	res, askErr := e.ask(org, id, &subscribe{})
	stopping := ErrStreamShutdown(askErr) || e.stopped.Load()
	if askErr != nil && !stopping {
		return nil, askErr
	}
	if r, ok := res.(*subscribed); ok {
		if r.Err != nil {
			return nil, r.Err
		}
		if r.Sub != nil {
			s.followLane(jobLink{e: e, org: org, id: id}, r.Sub, r.Lane)
		}
		s.final = r.Final
		return s, nil
	}
	// Not running here (or stopping: what is stored is served, then the stream ends as a
	// shutdown unless the job ended). Its snapshot lands with its terminal event, so a job
	// that just finished reads as ended.
	job, err := e.deps.Store.Job(org, id)
	if err != nil {
		return nil, err
	}
	if job.Status.Terminal() {
		s.final = job.LastSeq
	} else if stopping {
		s.tail = shutdownTail{}
	} else if e.deps.Follower != nil {
		if err := e.followStore(s, org); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ask sends msg to the running job id (through the supervisor) and returns its answer, or a
// *jobReply with a KindNotFound error when the job is not running. KindUnavailable when the
// engine stops or the job does not answer in time.
func (e *Engine) ask(org, id string, msg any) (any, error) {
	res, err := e.sys.Root.RequestFuture(e.sup, &toJob{Org: org, JobID: id, Msg: msg}, askTimeout).Result()
	if err != nil {
		if e.stopped.Load() {
			return nil, errStreamShutdown
		}
		return nil, enricher.Wrap(enricher.KindUnavailable, err, "job did not answer")
	}
	return res, nil
}

// Job returns the stored state of job id of org (KindNotFound otherwise).
func (e *Engine) Job(org, id string) (*enricher.Job, error) {
	return e.deps.Store.Job(org, id)
}

// Cancel cancels a pending, running or paused job and returns once the cancelled event is
// stored. KindConflict when the job already finished; KindNotFound when unknown.
func (e *Engine) Cancel(org, id string) error {
	return e.command(org, id, CommandCancel)
}

// Continue resumes a paused job. KindConflict when it is not paused.
func (e *Engine) Continue(org, id string) error {
	return e.command(org, id, CommandContinue)
}

// command delivers cmd to the job here, or, with a Placement, to its owner when it does not
// run here.
func (e *Engine) command(org, id string, cmd Command) error {
	err := e.commandLocal(org, id, cmd)
	if e.deps.Placement != nil && enricher.IsKind(err, enricher.KindNotFound) {
		if _, jerr := e.deps.Store.Job(org, id); jerr != nil {
			return jerr
		}
		return e.deps.Placement.Command(org, id, cmd)
	}
	if err != nil && enricher.IsKind(err, enricher.KindNotFound) {
		if _, jerr := e.deps.Store.Job(org, id); jerr == nil { // the job finished between the read and the request
			return enricher.Errorf(enricher.KindConflict, "job already finished")
		}
	}
	return err
}

// commandLocal delivers cmd to the job when it runs on this node: KindNotFound when it does
// not (or is unknown), KindConflict when it finished.
func (e *Engine) commandLocal(org, id string, cmd Command) error {
	var msg any = &cancelJob{Reason: enricher.ReasonUser}
	if cmd == CommandContinue {
		msg = &continueJob{}
	}
	j, err := e.deps.Store.Job(org, id)
	if err != nil {
		return err
	}
	if j.Status.Terminal() {
		return enricher.Errorf(enricher.KindConflict, "job already finished (status %s)", j.Status)
	}
	res, err := e.ask(org, id, msg)
	if err != nil {
		return err
	}
	return res.(*jobReply).Err
}

// ActiveJobs returns the number of non-terminal jobs (GET /health): an atomic the supervisor
// keeps, so a busy engine never delays a health check.
func (e *Engine) ActiveJobs() int {
	return int(e.active.Load())
}

// ProviderLoad is what tests, the bench and metrics read of one provider: calls waiting in its
// queue now and at most so far, and calls held by running work (waiting or in flight) now and
// at most so far.
type ProviderLoad struct {
	Queued, MaxQueued int
	Held, MaxHeld     int
}

// ProviderLoad returns the load figures of provider (zero for an unknown one).
func (e *Engine) ProviderLoad(provider string) ProviderLoad {
	var l ProviderLoad
	if st := e.stats[provider]; st != nil {
		l.Queued, l.MaxQueued = int(st.queued.Load()), int(st.maxQueued.Load())
	}
	if g := e.gates[provider]; g != nil {
		l.Held, l.MaxHeld = int(g.used.Load()), int(g.maxUsed.Load())
	}
	return l
}

// ProviderLimit is one provider's adaptive limit of calls in flight: Limit now, Min the lowest
// so far, Ceiling the most it may reach (provider_concurrency).
type ProviderLimit struct {
	Name                string
	Limit, Min, Ceiling int
}

// ProviderLimits returns the limits of every provider, sorted by name. Reading them never
// waits on an actor.
func (e *Engine) ProviderLimits() []ProviderLimit {
	out := make([]ProviderLimit, 0, len(e.stats))
	for name, st := range e.stats {
		out = append(out, ProviderLimit{Name: name, Limit: int(st.limit.Load()), Min: int(st.minLimit.Load()), Ceiling: int(st.ceiling.Load())})
	}
	slices.SortFunc(out, func(a, b ProviderLimit) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ProviderMaxInflight returns the most calls provider ever had in flight (tests, metrics).
func (e *Engine) ProviderMaxInflight(provider string) int {
	if st := e.stats[provider]; st != nil {
		return int(st.maxInflight.Load())
	}
	return 0
}

// Stop refuses new jobs, stops every job (unfinished jobs resume at the next start), lets the
// persister finish its writes and ends every stream. It is idempotent.
func (e *Engine) Stop() {
	e.stopOnce.Do(func() {
		e.stopped.Store(true)
		root := e.sys.Root
		if _, err := root.RequestFuture(e.sup, &stopAdmitting{}, askTimeout).Result(); err != nil {
			e.log.Warn("the supervisor did not confirm it stopped admitting jobs", "err", err)
		}
		_ = root.PoisonFuture(e.sup).Wait()
		if _, err := root.RequestFuture(e.persister, &drain{}, askTimeout).Result(); err != nil {
			e.log.Warn("the persister did not confirm its writes are done", "err", err)
		}
		_ = root.PoisonFuture(e.persister).Wait()
		if e.webhooks != nil { // attempts in flight are aborted unrecorded: due again next start
			e.webhooks.stop()
		}
		for _, pid := range e.providers {
			_ = root.PoisonFuture(pid).Wait()
		}
		for _, k := range e.keepers { // their actors are gone: every permit goes back
			k.stop()
		}
		e.cancels.Wait()
		e.releases.wait()
		e.sys.Shutdown()
	})
}

// StartSchemaJob admits, stores and starts a schema generation or AI edit job. Errors:
// KindInvalid (model), KindNotFound (schema to edit), KindConflict (deleted schema),
// KindTooMany (admission), KindUnavailable.
func (e *Engine) StartSchemaJob(org string, by enricher.CreatedBy, spec *enricher.SchemaJobSpec) (*enricher.Job, error) {
	return e.StartSchemaJobBound(org, by, spec, nil)
}

// StartSchemaJobBound is StartSchemaJob that stores bind with the job (see StartBound).
func (e *Engine) StartSchemaJobBound(org string, by enricher.CreatedBy, spec *enricher.SchemaJobSpec, bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
	if e.stopped.Load() {
		return nil, enricher.Errorf(enricher.KindUnavailable, "server is shutting down")
	}
	in, err := e.prepareSchemaJob(org, spec)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, enricher.Wrap(enricher.KindInternal, err, "the job's request could not be encoded")
	}
	job := &enricher.Job{
		ID: uuid.NewString(), OrganizationID: org, Type: enricher.JobType(spec.Kind), Status: enricher.JobPending,
		CreatedAt: enricher.NewTime(e.cfg.Now()), CreatedBy: by, Spec: raw, Models: []string{spec.Model},
		TotalModels: 1, RecordIDs: []string{}, Webhook: spec.Webhook,
	}
	if spec.Kind == enricher.SchemaJobEdit {
		id := spec.SchemaID
		job.SchemaID = &id
	}
	if err := e.admitAndStore(job, in.need(), true, bind); err != nil {
		return nil, err
	}
	in.Job = job
	e.dispatch(job, in.need(), func() { e.launchSchemaJob(in) })
	return job, nil
}
