package actors

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// jobInput is what a job actor is started with. Everything in it is read-only.
type jobInput struct {
	Job        *enricher.Job // snapshot as stored (pending, or the last state when recovering)
	Spec       *enricher.EnrichSpec
	Schema     *enricher.Schema
	SchemaHash string               // content hash of Spec.SchemaContent, computed once
	Answers    *answerSchemas       // the engine's encoded answer schemas
	Models     []enricher.ModelInfo // in request order
	Classifier *enricher.ModelInfo
	Arbiter    *enricher.ModelInfo
	Providers  map[string]*actor.PID
	// Route sends a model's calls elsewhere than its provider's actor, by model key: to the
	// job's provider batch collectors (provbatch.go) in a provider_batch batch; nil otherwise.
	Route     map[string]*actor.PID
	Journal   journalDeps // where its events go (unused by a batch entity: its batch numbers them)
	Cfg       *Config
	Recovered []*enricher.Record // records this job wrote before a restart
	Sources   []*enricher.Record // the records a fusion job merges
	Entity    *int               // batch: the entity's index; its events go to the parent batch actor
	Log       *slog.Logger
}

// jobActor runs one single-entity enrichment: classification, model runs in
// parallel, automatic fusion, outcome. It is the only writer of its event sequence: its
// journal (journal.go) numbers each event, hands it to the persister with the records and
// snapshot it depends on, and publishes it to the job's subscribers once the persister
// answers that it is stored.
type jobActor struct {
	in     *jobInput
	job    *enricher.Job
	log    *slog.Logger
	timers *scheduler.TimerScheduler

	entity    map[string]any  // without _sim
	input     json.RawMessage // the entity as given, encoded once for its records
	directive map[string]any
	entityID  string
	entityNm  string

	classification *enricher.Classification
	classCall      *enricher.PromptCall // billed to the first model's record
	classifier     *actor.PID
	mismatch       bool

	runs        map[string]*actor.PID // running model actors by key
	results     map[string]*modelDone
	attempts    map[string]int // latest call attempt per model
	current     *string
	lastError   *string
	activeSince time.Time
	cancelPause scheduler.CancelFunc

	wf *waterfallRun // the waterfall strategy's state (waterfall.go); nil otherwise

	fusion    *fusionRun
	fusionPID *actor.PID       // the running fusion actor
	fused     *enricher.Record // fusion record stored before a restart (recovery)

	journal      *journal // nil for a batch entity
	cancelling   *cancelJob
	cancelWaiter []*actor.PID
	terminalSeq  int64
	finished     bool
}

func newJobActor(in *jobInput) actor.Producer {
	return func() actor.Actor {
		return &jobActor{in: in, log: in.Log, runs: map[string]*actor.PID{}, results: map[string]*modelDone{}, attempts: map[string]int{}}
	}
}

func (a *jobActor) now() time.Time { return a.in.Cfg.Now() }

// provider returns the actor that takes m's calls: the job's provider batch collector of m
// when it has one (Route), else m's provider actor.
func (in *jobInput) provider(m enricher.ModelInfo) *actor.PID {
	if pid := in.Route[m.Key]; pid != nil {
		return pid
	}
	return in.Providers[m.Provider]
}

// keyPrefix is the job's and entity's part of its calls' keys (callKey): the first 8
// characters of the job id (a UUID: hex) and the entity index of a batch entity.
func (a *jobActor) keyPrefix() string {
	id := a.job.ID
	if len(id) > 8 {
		id = id[:8]
	}
	if a.in.Entity != nil {
		return "j" + id + "-e" + strconv.Itoa(*a.in.Entity)
	}
	return "j" + id
}

func (a *jobActor) Receive(c actor.Context) {
	defer a.flushJournal(c)
	if a.journal != nil && a.journal.ended() {
		a.afterEnd(c)
		return
	}
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *callStarted:
		if m.Spec.Kind == callClassification {
			key := m.Spec.Model.Key
			a.current, a.attempts[key] = &key, m.Attempt
		}
	case *callAttemptFailed:
		a.attemptFailed(c, m.Spec.Model.Key, m)
	case *callResult:
		switch {
		case m.Spec.Kind == callArbitration && a.fusionPID != nil && !a.finished:
			a.arbitrated(c, m)
			a.endFusion(c)
		case m.Spec.Kind == callClassification:
			a.classified(c, m)
		}
	case *modelProgress:
		switch p := m.Msg.(type) {
		case *callStarted:
			model := m.Model
			a.current, a.attempts[model] = &model, p.Attempt
		case *callAttemptFailed:
			a.attemptFailed(c, m.Model, p)
		}
	case *expertiseDone:
		ev := m.Event
		ev.EntityIndex = nil
		model := m.Model
		a.current = &model
		a.emit(c, enricher.EventExpertiseCompleted, ev, nil)
	case *modelDone:
		a.modelDone(c, m)
	case *fusionMerged:
		if a.fusionPID != nil && !a.finished {
			a.merged(c, m)
		}
	case *cancelJob:
		a.cancel(c, m)
	case *continueJob:
		a.resume(c)
	case *pauseExpired:
		if a.job.Status == enricher.JobPaused {
			a.cancel(c, &cancelJob{Reason: enricher.ReasonPauseTimeout})
		}
	case *subscribe, *rejoinLive, *unsubscribe:
		a.journal.serve(c, m)
	case *actor.Stopping:
		if a.journal != nil {
			a.journal.stop()
		}
	case *persisted:
		a.journal.stored(m.upTo)
		if a.finished && m.upTo >= a.terminalSeq {
			for _, w := range a.cancelWaiter {
				c.Send(w, &jobReply{Status: a.job.Status})
			}
			c.Send(c.Parent(), &jobFinished{JobID: a.job.ID, OrgID: a.job.OrganizationID, Status: a.job.Status, Ended: true})
		}
	case *persistFailed:
		a.log.Error("job cannot store its events; stopping it", "job_id", a.job.ID, "err", m.err)
		for _, w := range a.cancelWaiter {
			c.Send(w, &jobReply{Err: enricher.Wrap(enricher.KindUnavailable, m.err, "storage unavailable")})
		}
		c.Send(c.Parent(), &jobFinished{JobID: a.job.ID, OrgID: a.job.OrganizationID, Status: a.job.Status})
	}
}

func (a *jobActor) start(c actor.Context) {
	a.timers = scheduler.NewTimerScheduler(c.ActorSystem().Root)
	j := *a.in.Job
	a.job = &j
	if a.job.RecordIDs == nil {
		a.job.RecordIDs = []string{}
	}
	if a.in.Entity == nil {
		a.journal = newJournal(a.job, a.in.Journal)
	}
	a.entity, a.directive = enricher.StripSimDirective(a.in.Spec.EntityData)
	a.entityID = enricher.EntityID(a.job.OrganizationID, a.in.Schema, a.entity)
	a.entityNm = enricher.EntityName(a.in.Schema, a.entity, a.in.Entity)
	input, err := encodeJSON(enricher.WithoutExpected(a.in.Spec.EntityData))
	if err != nil {
		a.failInternal(c, "the entity", err)
		return
	}
	a.input = input
	a.activeSince = a.now()
	if a.job.StartedAt == nil {
		a.job.StartedAt = enricher.NewTimePtr(a.now())
	}
	a.classification = a.job.Classification
	a.adoptRecovered() // a restart: finished runs are not run again
	if a.in.Sources != nil {
		a.startFusionJob(c)
		return
	}
	switch {
	case a.job.Status == enricher.JobPaused && a.job.Pause != nil:
		a.pause(c, a.job.Pause.Classification, false)
	case a.in.Classifier != nil && a.classification == nil && len(a.results) == 0:
		a.classify(c)
	default:
		a.mismatch = a.classification != nil && a.classification.Status == "mismatch"
		a.startModels(c)
	}
}

// classify starts the classification call.
func (a *jobActor) classify(c actor.Context) {
	m := *a.in.Classifier
	a.setStatus(enricher.JobRunning)
	a.emit(c, enricher.EventClassificationStarted, enricher.ClassificationStartedEvent{Model: m.Key}, nil)
	spec := &callSpec{
		Kind: callClassification, Model: m, Provider: a.in.provider(m), Key: callKey(a.keyPrefix(), callClassification, nil),
		Prompt: enricher.ClassificationPrompt(a.in.Schema, a.entity, a.in.Cfg.ClassifyMaxChars),
		Schema: enricher.ClassificationJSONSchema, SchemaName: "classification",
		Check: func(text string) (any, []string) {
			cl, problems := enricher.ParseClassification(text)
			return cl, problems
		},
		MaxAttempts: a.in.Cfg.MaxAttempts, MaxTokens: a.maxTokens(m), Now: a.in.Cfg.Now, Observer: a.in.Cfg.Observer,
	}
	spec.Hints.Entity, spec.Hints.Directive, spec.Hints.RootName = a.entity, a.directive, a.in.Schema.Root.Name
	a.classifier = c.Spawn(actor.PropsFromProducer(newExpertiseActor(spec)))
}

func (a *jobActor) maxTokens(m enricher.ModelInfo) int {
	if m.MaxOutputTokens > 0 && m.MaxOutputTokens < a.in.Cfg.MaxOutputTokens {
		return m.MaxOutputTokens
	}
	return a.in.Cfg.MaxOutputTokens
}

// classified handles the classifier's outcome.
func (a *jobActor) classified(c actor.Context, m *callResult) {
	a.classifier = nil
	if a.job.Status.Terminal() || a.cancelling != nil {
		return
	}
	call := m.Call
	a.classCall = &call
	ev := enricher.ClassificationCompletedEvent{Model: m.Spec.Model.Key, Success: m.Success}
	if !m.Success {
		msg := m.Message
		ev.ErrorMessage = &msg
		a.emit(c, enricher.EventClassificationCompleted, ev, nil)
		a.startModels(c)
		return
	}
	cl := *m.Output.(*enricher.Classification)
	cl.Model, cl.InputTokens, cl.OutputTokens = m.Spec.Model.Key, call.InputTokens, call.OutputTokens
	cl.CostUSD, cl.ProcessingTimeMS = call.CostUSD, call.ProcessingTimeMS
	a.classification = &cl
	a.job.Classification = &cl
	ev.Classification = &cl
	a.emit(c, enricher.EventClassificationCompleted, ev, nil)
	if cl.Status != "mismatch" {
		a.startModels(c)
		return
	}
	switch a.in.Spec.OnMismatch {
	case enricher.MismatchContinue:
		a.mismatch = true
		a.startModels(c)
	case enricher.MismatchCancel, enricher.MismatchSkip:
		a.cancel(c, &cancelJob{Reason: enricher.ReasonClassificationMismatch})
	default:
		a.pause(c, &cl, true)
	}
}

// pause parks the job until continue, cancel or the pause timeout.
func (a *jobActor) pause(c actor.Context, cl *enricher.Classification, announce bool) {
	expires := a.now().Add(a.in.Cfg.PauseTimeout)
	a.setStatus(enricher.JobPaused)
	a.job.Pause = &enricher.Pause{Classification: cl, ExpiresAt: enricher.NewTime(expires)}
	a.cancelPause = a.timers.SendOnce(a.in.Cfg.PauseTimeout, c.Self(), &pauseExpired{})
	if announce {
		a.emit(c, enricher.EventMismatchPause, enricher.MismatchPauseEvent{Classification: cl,
			TimeoutSeconds: int(a.in.Cfg.PauseTimeout / time.Second), ExpiresAt: enricher.NewTime(expires)}, nil)
	} else {
		a.persistSnapshot(c)
	}
}

// resume continues a paused job (POST /api/llm/continue).
func (a *jobActor) resume(c actor.Context) {
	if a.job.Status != enricher.JobPaused || a.cancelling != nil {
		c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindConflict, "job is not paused (status %s)", a.job.Status)})
		return
	}
	if a.cancelPause != nil {
		a.cancelPause()
	}
	a.activeSince = a.now()
	a.job.Pause = nil
	a.mismatch = true
	a.setStatus(enricher.JobRunning)
	c.Respond(&jobReply{Status: enricher.JobRunning})
	a.emit(c, enricher.EventJobResumed, enricher.JobResumedEvent{Classification: a.classification}, nil)
	a.startModels(c)
}

// startModels starts one model actor per model not yet finished (the waterfall strategy
// starts them one after another instead: waterfall.go).
func (a *jobActor) startModels(c actor.Context) {
	a.setStatus(enricher.JobRunning)
	if a.in.Spec.Strategy == enricher.StrategyWaterfall {
		a.startWaterfall(c)
		return
	}
	first := true
	plan, err := planCalls(a.in.Answers, a.in.Schema, a.entity, a.in.Spec.Strategy, a.in.Spec.Languages) // the same for every model
	if err != nil {
		a.failInternal(c, "the answer schema", err)
		return
	}
	for i, m := range a.in.Models {
		if _, done := a.results[m.Key]; done {
			continue
		}
		a.startModel(c, i, plan)
		first = false
	}
	if first && len(a.runs) == 0 { // every run finished before a restart
		a.finishJob(c)
	}
}

// startModel starts the run of the i-th model with plan and emits model_started.
func (a *jobActor) startModel(c actor.Context, i int, plan []plannedCall) {
	m := a.in.Models[i]
	spec := &modelSpec{
		Model: m, Provider: a.in.provider(m), KeyPrefix: a.keyPrefix(), Schema: a.in.Schema, Entity: a.entity,
		Input: a.in.Spec.EntityData, Directive: a.directive, Languages: a.in.Spec.Languages,
		Strategy: a.in.Spec.Strategy, Classification: a.classification, Mismatch: a.mismatch,
		MaxAttempts: a.in.Cfg.MaxAttempts, MaxTokens: a.maxTokens(m), Plan: plan,
		Record: a.recordTemplate(), Now: a.in.Cfg.Now, Observer: a.in.Cfg.Observer, Log: a.log,
	}
	if i == 0 && a.classCall != nil {
		spec.Prior = []enricher.PromptCall{*a.classCall}
	}
	key := m.Key
	a.current, a.attempts[key] = &key, 0
	a.runs[key] = c.Spawn(actor.PropsFromProducer(newModelActor(spec)))
	a.emit(c, enricher.EventModelStarted, enricher.ModelStartedEvent{Model: key, Strategy: a.in.Spec.Strategy,
		ExpertiseKeys: expertiseKeys(plan)}, nil)
}

// recordTemplate returns the fields every enrichment record of this job shares.
func (a *jobActor) recordTemplate() enricher.Record {
	input := a.input
	hash := a.in.SchemaHash
	root := a.in.Schema.Root.Name
	entityID, name := a.entityID, a.entityNm
	return enricher.Record{
		RecordSummary: enricher.RecordSummary{
			Type: enricher.RecordEnrichment, JobID: a.job.ID, EntityID: &entityID, EntityName: &name, EntityIndex: a.in.Entity,
			Languages: a.in.Spec.Languages, SchemaID: a.in.Spec.SchemaID, SchemaContentHash: &hash,
			SchemaEntityName: &root, SourceModels: []string{}, SourceRecordIDs: []string{}, CreatedAt: enricher.NewTime(a.now()),
		},
		OrganizationID: a.job.OrganizationID, EntityInput: input, Classification: a.classification, CreatedBy: a.job.CreatedBy,
		Expected: enricher.ExpectedOf(a.in.Spec.EntityData),
	}
}

func (a *jobActor) attemptFailed(c actor.Context, model string, m *callAttemptFailed) {
	a.current, a.attempts[model] = &model, m.Attempt
	summary := m.ErrorKind
	if len(m.Errors) > 0 {
		summary = m.Errors[0]
	}
	if r := []rune(summary); len(r) > 300 {
		summary = string(r[:300])
	}
	a.lastError = &summary
	a.emit(c, enricher.EventAttemptFailed, enricher.AttemptFailedEvent{Model: model, CallKind: string(m.Spec.Kind),
		ExpertiseKey: m.Spec.ExpertiseKey, Attempt: m.Attempt, ErrorKind: m.ErrorKind, Errors: m.Errors,
		WillRetry: m.WillRetry}, nil)
}

// modelDone records a finished run and emits model_completed with its record.
func (a *jobActor) modelDone(c actor.Context, m *modelDone) {
	delete(a.runs, m.Model)
	a.results[m.Model] = m
	a.job.CompletedModels = len(a.results)
	var records []*enricher.Record
	if m.Record != nil {
		m.Record.CreatedAt = enricher.NewTime(a.now())
		records = append(records, m.Record)
		a.addRecordID(m.Record.ID)
	}
	model := m.Model
	a.current = &model
	a.emit(c, enricher.EventModelCompleted, enricher.ModelCompletedEvent{ModelResult: m.Result}, records)
	if len(a.runs) > 0 {
		return
	}
	if a.cancelling != nil {
		a.emitCancelled(c)
		return
	}
	if a.wf != nil && a.waterfallNext(c, m) {
		return
	}
	a.finishJob(c)
}

func (a *jobActor) addRecordID(id string) {
	a.job.RecordCount++
	if len(a.job.RecordIDs) < 1000 {
		a.job.RecordIDs = append(a.job.RecordIDs, id)
	}
}

// finishJob runs the automatic fusion when two or more runs succeeded (under the waterfall
// strategy, one or more), then ends the job.
func (a *jobActor) finishJob(c actor.Context) {
	a.current = nil
	outcome := a.outcome()
	var ok []*modelDone
	for _, m := range a.in.Models {
		if d := a.results[m.Key]; d != nil && d.Result.Success {
			ok = append(ok, d)
		}
	}
	if len(ok) >= 2 || len(ok) == 1 && a.wf != nil { // a waterfall's result is always fused
		if a.reuseFusion(outcome) {
			a.endEnrichment(c, outcome)
			return
		}
		a.startFusion(c, ok, outcome) // the fusion actor answers first
		return
	}
	a.endEnrichment(c, outcome)
}

// endEnrichment ends a single enrichment with completed, or failed when no model succeeded.
func (a *jobActor) endEnrichment(c actor.Context, outcome *enricher.EnrichmentOutcome) {
	if a.in.Entity != nil {
		a.entityDone(c, outcome, "", nil)
		return
	}
	if outcome.Success {
		a.terminal(c, enricher.JobCompleted, enricher.EventCompleted, outcome,
			func(r json.RawMessage) any { return enricher.CompletedEvent{Result: r} }, nil)
		return
	}
	msg := "every model failed"
	if len(outcome.FailedModels) > 0 && outcome.FailedModels[0].ErrorMessage != nil {
		msg = "every model failed; first error: " + *outcome.FailedModels[0].ErrorMessage
	}
	a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: "all_models_failed", ErrorMessage: msg, Fatal: true}, nil)
	a.job.ErrorMessage = &msg
	a.terminal(c, enricher.JobFailed, enricher.EventFailed, outcome, func(r json.RawMessage) any {
		return enricher.FailedEvent{ErrorCode: "all_models_failed", ErrorMessage: msg, Result: r}
	}, nil)
}

// outcome builds the EnrichmentOutcome from the finished runs (before fusion).
func (a *jobActor) outcome() *enricher.EnrichmentOutcome {
	o := &enricher.EnrichmentOutcome{JobID: a.job.ID, SourceModels: []string{}, FailedModels: []enricher.FailedModel{},
		Classification: a.classification}
	for _, m := range a.in.Models {
		d := a.results[m.Key]
		if d == nil {
			continue
		}
		o.CostUSD += d.Result.CostUSD
		o.InputTokens += d.Result.InputTokens
		o.OutputTokens += d.Result.OutputTokens
		if d.Result.Success && !o.Success {
			o.Success, o.Result, o.RecordID = true, d.Result.Result, d.Result.RecordID
			model := m.Key
			o.Model = &model
		}
		if !d.Result.Success {
			o.FailedModels = append(o.FailedModels, enricher.FailedModel{Model: m.Key, ErrorCode: d.Result.ErrorCode, ErrorMessage: d.Result.ErrorMessage})
		}
	}
	if a.in.Spec.Sync {
		for _, m := range a.in.Models {
			if d := a.results[m.Key]; d != nil {
				o.PerModelResults = append(o.PerModelResults, d.Result)
			}
		}
	}
	return o
}

// cancel aborts the job: running model actors report what they have, then the job ends.
func (a *jobActor) cancel(c actor.Context, m *cancelJob) {
	if c.Sender() != nil && m.Reason == enricher.ReasonUser {
		if a.job.Status.Terminal() || a.finished {
			c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindConflict, "job already finished (status %s)", a.job.Status)})
			return
		}
		a.cancelWaiter = append(a.cancelWaiter, c.Sender())
	}
	if a.cancelling != nil || a.finished {
		return
	}
	a.cancelling = m
	if a.cancelPause != nil {
		a.cancelPause()
	}
	if a.classifier != nil {
		c.Stop(a.classifier)
		a.classifier = nil
	}
	if a.fusionPID != nil { // cancelled during fusion: the runs are done
		c.Stop(a.fusionPID) // and with it the arbiter's call
		a.fusionPID = nil
		if a.fusion.arbitrating { // keep the rules' merge
			a.fusion.arbitrating = false
			a.completeFusion(c, false)
		}
	}
	if len(a.runs) == 0 {
		a.emitCancelled(c)
		return
	}
	for _, pid := range a.runs {
		c.Send(pid, &cancelRun{})
	}
}

// emitCancelled ends the job with cancelled. A classification call that no run carried is
// written as the first model's record.
func (a *jobActor) emitCancelled(c actor.Context) {
	var records []*enricher.Record
	if a.classCall != nil && len(a.results) == 0 && len(a.in.Models) > 0 {
		rec := a.recordTemplate()
		m := a.in.Models[0]
		rec.ID = uuid.NewString()
		model, provider, strategy := m.Key, m.Provider, string(a.in.Spec.Strategy)
		rec.Model, rec.Provider, rec.Strategy = &model, &provider, &strategy
		call := *a.classCall
		call.SequenceOrder = 1
		rec.Prompts = []enricher.PromptCall{call}
		rec.PromptCount, rec.Cancelled = 1, true
		rec.CostUSD, rec.InputTokens, rec.OutputTokens = call.CostUSD, call.InputTokens, call.OutputTokens
		rec.ValidationErrors = []string{}
		rec.SetFailure(enricher.CodeCancelled, "the job was cancelled")
		records = append(records, &rec)
		a.addRecordID(rec.ID)
	}
	outcome := a.outcome()
	for _, r := range records {
		outcome.CostUSD += r.CostUSD
		outcome.InputTokens += r.InputTokens
		outcome.OutputTokens += r.OutputTokens
	}
	outcome.Success, outcome.Result, outcome.RecordID, outcome.Model = false, nil, nil, nil
	reason := a.cancelling.Reason
	if a.in.Entity != nil {
		a.entityDone(c, outcome, reason, records)
		return
	}
	a.terminal(c, enricher.JobCancelled, enricher.EventCancelled, outcome,
		func(r json.RawMessage) any { return enricher.CancelledEvent{Reason: reason, Result: r} }, records)
}

// terminal ends the job: it sets the status, stores the outcome as the job's result, and
// emits the terminal event that payload builds around that result.
func (a *jobActor) terminal(c actor.Context, status enricher.JobStatus, typ string, result any,
	payload func(result json.RawMessage) any, records []*enricher.Record) {
	a.current = nil
	a.setStatus(status)
	a.job.Pause = nil
	a.job.FinishedAt = enricher.NewTimePtr(a.now())
	var raw []byte
	var err error
	switch o := result.(type) {
	case *enricher.EnrichmentOutcome: // the common result encodes itself (no reflection)
		o.Status, o.ProcessingTimeMS = status, a.activeMS()
		raw, err = encodeExact(func(dst []byte) ([]byte, error) { return enricher.AppendOutcome(dst, o) })
	case *enricher.FusionResponse:
		o.ProcessingTimeMS = a.activeMS()
		raw, err = json.Marshal(result)
	default:
		raw, err = json.Marshal(result)
	}
	if err != nil { // the job fails instead, without a result
		a.log.Error("job result cannot be encoded; the job fails", "job_id", a.job.ID, "err", err)
		msg := "the job's result could not be encoded"
		a.setStatus(enricher.JobFailed)
		a.job.ErrorMessage, raw, typ = &msg, nil, enricher.EventFailed
		payload = func(json.RawMessage) any {
			return enricher.FailedEvent{ErrorCode: enricher.CodeInternal, ErrorMessage: msg}
		}
	}
	a.job.Result = raw
	a.finished = true
	a.terminalSeq = a.emit(c, typ, payload(a.job.Result), records)
}

// failInternal ends the job as failed because a value of it (what) cannot be encoded: the
// cause goes to the log, the stream says only what failed. An entity of a batch ends failed.
func (a *jobActor) failInternal(c actor.Context, what string, err error) {
	a.log.Error(what+" cannot be encoded; the job fails", "job_id", a.job.ID, "err", err)
	msg := what + " could not be encoded"
	o := a.outcome()
	o.Success, o.Result, o.RecordID, o.Model = false, nil, nil, nil
	if a.in.Entity != nil {
		a.entityDone(c, o, "", nil)
		return
	}
	a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: enricher.CodeInternal, ErrorMessage: msg, Fatal: true}, nil)
	a.job.ErrorMessage = &msg
	a.terminal(c, enricher.JobFailed, enricher.EventFailed, o, func(r json.RawMessage) any {
		return enricher.FailedEvent{ErrorCode: enricher.CodeInternal, ErrorMessage: msg, Result: r}
	}, nil)
}

// activeMS is the job's wall-clock time so far without paused time.
func (a *jobActor) activeMS() int64 {
	if a.job.StartedAt == nil {
		return 0
	}
	return max(0, a.now().Sub(a.job.StartedAt.Time).Milliseconds()-a.job.PausedMS)
}

func (a *jobActor) setStatus(s enricher.JobStatus) {
	if a.job.Status == enricher.JobPaused && s != enricher.JobPaused {
		a.job.PausedMS += a.now().Sub(a.activeSince).Milliseconds()
		a.activeSince = a.now()
	}
	if s == enricher.JobPaused && a.job.Status != enricher.JobPaused {
		a.activeSince = a.now()
	}
	a.job.Status = s
}

// emit appends an event with the common header to the job's journal, with the records it names
// and the job snapshot (a batch entity forwards it to its batch instead). It returns the seq.
func (a *jobActor) emit(c actor.Context, typ string, payload any, records []*enricher.Record) int64 {
	if a.in.Entity != nil {
		a.forward(c, typ, payload, records)
		return 0
	}
	running := make([]string, 0, len(a.runs))
	for _, m := range a.in.Models {
		if _, ok := a.runs[m.Key]; ok {
			running = append(running, m.Key)
		}
	}
	h := enricher.EventHeader{Type: typ, RunningModels: running, CurrentModel: a.current, LastErrorSummary: a.lastError}
	if a.current != nil {
		h.CurrentAttempt, h.MaxAttempts = a.attempts[*a.current], a.in.Cfg.MaxAttempts
	}
	return a.journal.append(c, a.job, &h, payload, storage.Batch{Records: records})
}

// persistSnapshot stores the job state without an event (pause restored after a restart).
func (a *jobActor) persistSnapshot(c actor.Context) {
	a.journal.write(c, storage.Batch{Jobs: []*enricher.Job{snapshotJob(a.job)}})
}

// flushJournal sends the journal's writes of the message just handled (none for a batch
// entity, whose batch numbers its events).
func (a *jobActor) flushJournal(c actor.Context) {
	if a.journal != nil {
		a.journal.flush(c)
	}
}
