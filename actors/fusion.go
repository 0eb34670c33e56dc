package actors

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// fusionRun is a fusion in progress: the rule-based merge is done; an arbitration call may be
// pending.
type fusionRun struct {
	start   int64 // unix ms
	sources []string
	ids     []string
	merged  map[string]any
	report  enricher.ConflictReport
	arbiter *enricher.ModelInfo
	pending []enricher.FieldConflict // sent to the arbiter
	// arbitrating: the merge is done and the arbiter is asked
	arbitrating bool
	call        *enricher.PromptCall
	outcome     *enricher.EnrichmentOutcome
	failed      bool
	response    *enricher.FusionResponse
}

// startFusion starts the fusion of the successful runs in a fusion actor (a child of the job):
// the rule-based merge and, when an arbiter is set and some conflicts need one, the arbiter's
// call run there, so the job's mailbox stays free (a cancel is handled at once). The fusion
// actor reports fusionMerged, then the arbitration call's messages; the job emits the events
// and writes the fusion record.
func (a *jobActor) startFusion(c actor.Context, ok []*modelDone, o *enricher.EnrichmentOutcome) {
	f := &fusionRun{start: a.now().UnixMilli(), outcome: o}
	a.fusion = f
	inputs := make([]enricher.FusionInput, 0, len(ok))
	prices := map[string]float64{}
	for _, m := range a.in.Models {
		prices[m.Key] = m.InputPrice + m.OutputPrice
	}
	for _, d := range ok {
		f.sources = append(f.sources, d.Model)
		if d.Result.RecordID != nil {
			f.ids = append(f.ids, *d.Result.RecordID)
		}
		inputs = append(inputs, enricher.FusionInput{Model: d.Model, Price: prices[d.Model], Output: d.Output})
	}
	a.emit(c, enricher.EventFusionStarted, enricher.FusionStartedEvent{SourceModels: f.sources, SourceRecordIDs: nonNilIDs(f.ids),
		ArbitrationModel: a.in.Spec.ArbitrationModel}, nil)
	spec := &fusionSpec{Schema: a.in.Schema, Inputs: inputs, Languages: a.in.Spec.Languages, Arbiter: a.in.Arbiter,
		Entity: a.entity, Directive: a.directive, MaxAttempts: a.in.Cfg.MaxAttempts, Now: a.in.Cfg.Now,
		Observer: a.in.Cfg.Observer, Fuse: a.in.Cfg.fuse}
	if a.wf != nil {
		spec.Fuse = a.wf.fuse(spec.Fuse, a.in.Arbiter != nil)
	}
	if f.arbiter = a.in.Arbiter; f.arbiter != nil {
		spec.Provider, spec.MaxTokens = a.in.provider(*f.arbiter), a.maxTokens(*f.arbiter)
		spec.Key = callKey(a.keyPrefix(), callArbitration, nil)
	}
	a.fusionPID = c.Spawn(actor.PropsFromProducer(newFusionActor(spec)))
}

// merged takes the rule-based merge from the fusion actor: it emits conflicts_detected and
// arbitration_started, or ends the fusion when no arbitration follows.
func (a *jobActor) merged(c actor.Context, m *fusionMerged) {
	f := a.fusion
	if m.Err != nil {
		a.fusionPID = nil
		f.failed = true
		msg := "fusion failed: " + m.Err.Error()
		a.log.Error("fusion failed", "job_id", a.job.ID, "err", m.Err)
		a.emit(c, enricher.EventFusionCompleted, enricher.FusionCompletedEvent{ErrorMessage: &msg, ValidationWarnings: []string{}}, nil)
		a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: "fusion_failed", ErrorMessage: msg}, nil)
		a.endFusion(c)
		return
	}
	f.merged, f.report, f.pending = m.Merged, m.Report, m.Pending
	a.emit(c, enricher.EventConflictsDetected, enricher.ConflictsDetectedEvent{TotalFields: f.report.TotalFields,
		AgreedFields: f.report.AgreedFields, ConflictedFields: f.report.ConflictedFields, ConflictPaths: nonNilIDs(f.report.Paths())}, nil)
	if len(f.pending) == 0 {
		a.fusionPID = nil
		a.completeFusion(c, false)
		a.endFusion(c)
		return
	}
	key := f.arbiter.Key
	a.current, a.attempts[key] = &key, 0
	f.arbitrating = true
	a.emit(c, enricher.EventArbitrationStarted, enricher.ArbitrationStartedEvent{ArbitrationModel: key, ConflictCount: len(f.pending)}, nil)
}

// endFusion ends the job (or the entity) once its fusion is complete or failed.
func (a *jobActor) endFusion(c actor.Context) {
	if a.in.Sources != nil {
		a.endFusionJob(c)
		return
	}
	a.endEnrichment(c, a.fusion.outcome)
}

// arbitrationOutput is the checked answer of an arbitration call.
type arbitrationOutput struct {
	decisions []enricher.Decision
	values    map[string]any
}

// arbitrated folds the arbiter's answer in (or falls back to the rules) and completes fusion.
func (a *jobActor) arbitrated(c actor.Context, m *callResult) {
	f := a.fusion
	a.fusionPID, f.arbitrating = nil, false
	call := m.Call
	f.call = &call
	ev := enricher.ArbitrationCompletedEvent{ArbitrationModel: m.Spec.Model.Key, Success: m.Success,
		CostUSD: call.CostUSD, InputTokens: call.InputTokens, OutputTokens: call.OutputTokens}
	if m.Success {
		out := m.Output.(arbitrationOutput)
		enricher.ApplyDecisions(f.merged, &f.report, out.values)
		ev.Decisions = out.decisions
	} else {
		msg := m.Message
		ev.ErrorMessage, ev.FallbackToRuleBased = &msg, true
	}
	a.emit(c, enricher.EventArbitrationCompleted, ev, nil)
	a.completeFusion(c, m.Success)
}

// completeFusion writes the fusion record and emits fusion_completed; arbitrated tells whether
// an arbiter's decisions were applied.
func (a *jobActor) completeFusion(c actor.Context, arbitrated bool) {
	f := a.fusion
	if f.failed {
		return
	}
	a.current = nil
	method := "rule_based"
	var arbiterKey *string
	if arbitrated {
		method = "llm"
	}
	if f.call != nil {
		k := f.arbiter.Key
		arbiterKey = &k
	}
	mergedJSON, err := encodeJSON(f.merged)
	if err != nil {
		a.fusionUnencodable(c, "merged result", err)
		return
	}
	spec := enricher.NewAnswerSpec(a.in.Schema, nil, "", a.in.Spec.Languages)
	_, warnings := enricher.CheckAnswer(spec, string(mergedJSON))
	if warnings == nil {
		warnings = []string{}
	}
	reportJSON, err := encodeExact(func(dst []byte) ([]byte, error) { return enricher.AppendConflictReport(dst, &f.report) })
	if err != nil {
		a.fusionUnencodable(c, "conflict report", err)
		return
	}
	rec := a.recordTemplate()
	rec.ID, rec.Type, rec.Success = uuid.NewString(), enricher.RecordFusion, true
	rec.StructuredOutput, rec.ConflictReport, rec.FusionMethod = mergedJSON, reportJSON, &method
	rec.SetProvenance(f.report.Provenance)
	rec.SourceModels, rec.SourceRecordIDs, rec.Prompts, rec.ValidationErrors = f.sources, nonNilIDs(f.ids), []enricher.PromptCall{}, []string{}
	rec.Classification, rec.Model = nil, arbiterKey
	if f.call != nil {
		call := *f.call
		call.SequenceOrder = 1
		rec.Prompts = []enricher.PromptCall{call}
		rec.PromptCount = 1
		rec.CostUSD, rec.InputTokens, rec.OutputTokens = call.CostUSD, call.InputTokens, call.OutputTokens
		provider := f.arbiter.Provider
		rec.Provider = &provider
	}
	rec.ProcessingTimeMS = a.now().UnixMilli() - f.start
	a.addRecordID(rec.ID)
	id := rec.ID
	a.emit(c, enricher.EventFusionCompleted, enricher.FusionCompletedEvent{Success: true, Method: &method,
		MergedResult: mergedJSON, ConflictReport: reportJSON, RecordID: &id, CostUSD: rec.CostUSD,
		InputTokens: rec.InputTokens, OutputTokens: rec.OutputTokens, ProcessingTimeMS: rec.ProcessingTimeMS,
		ValidationWarnings: warnings}, []*enricher.Record{&rec})

	a.fusionOutcome(f, &rec, warnings)
}

// fusionUnencodable fails the fusion whose merged result or conflict report (what) cannot be
// encoded: the cause goes to the log; the job goes on as after any failed fusion.
func (a *jobActor) fusionUnencodable(c actor.Context, what string, err error) {
	a.fusion.failed = true
	a.log.Error("fusion "+what+" cannot be encoded", "job_id", a.job.ID, "err", err)
	msg := "fusion failed: the " + what + " could not be encoded"
	a.emit(c, enricher.EventFusionCompleted, enricher.FusionCompletedEvent{ErrorMessage: &msg, ValidationWarnings: []string{}}, nil)
	a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: "fusion_failed", ErrorMessage: msg}, nil)
}

// fusionOutcome folds a fusion record into the job's outcome and the FusionResponse.
func (a *jobActor) fusionOutcome(f *fusionRun, rec *enricher.Record, warnings []string) {
	method := ptrStr(rec.FusionMethod)
	if warnings == nil {
		warnings = []string{}
	}
	id := rec.ID
	o := f.outcome
	o.IsFused, o.Result, o.RecordID, o.Model, o.SourceModels = true, rec.StructuredOutput, &id, nil, f.sources
	o.FieldProvenance = rec.FieldProvenance
	o.CostUSD += rec.CostUSD
	o.InputTokens += rec.InputTokens
	o.OutputTokens += rec.OutputTokens
	o.Fusion = &enricher.FusionSummary{Method: method, ArbitrationModel: a.in.Spec.ArbitrationModel,
		TotalFields: f.report.TotalFields, AgreedFields: f.report.AgreedFields, ConflictedFields: f.report.ConflictedFields, RecordID: &id}
	f.response = &enricher.FusionResponse{JobID: a.job.ID, Success: true, Method: &method, MergedResult: rec.StructuredOutput,
		ConflictReport: rec.ConflictReport, RecordID: &id, ArbitrationModel: rec.Model, SourceModels: f.sources,
		SourceRecordIDs: nonNilIDs(f.ids), CostUSD: rec.CostUSD, InputTokens: rec.InputTokens, OutputTokens: rec.OutputTokens,
		ProcessingTimeMS: rec.ProcessingTimeMS, ValidationWarnings: warnings, FieldProvenance: rec.FieldProvenance}
}

func nonNilIDs(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// fuseFunc is the rule-based merge (enricher.Fuse).
type fuseFunc func(s *enricher.Schema, in []enricher.FusionInput, langs []string) (map[string]any, enricher.ConflictReport)

// safeFuse runs fuse (enricher.Fuse when nil), turning a panic into an error.
func safeFuse(fuse fuseFunc, s *enricher.Schema, in []enricher.FusionInput, langs []string) (merged map[string]any, report enricher.ConflictReport, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	if fuse == nil {
		fuse = enricher.Fuse
	}
	merged, report = fuse(s, in, langs)
	return merged, report, nil
}

// startFusionJob runs a fusion job: the source records stand for finished runs.
func (a *jobActor) startFusionJob(c actor.Context) {
	a.setStatus(enricher.JobRunning)
	if a.reuseFusion(&enricher.EnrichmentOutcome{}) {
		a.endFusionJob(c)
		return
	}
	var ok []*modelDone
	for _, r := range a.in.Sources {
		ok = append(ok, doneFromRecord(r))
	}
	a.startFusion(c, ok, &enricher.EnrichmentOutcome{})
}

// endFusionJob ends a fusion job with its FusionResponse.
func (a *jobActor) endFusionJob(c actor.Context) {
	f := a.fusion
	if f.failed || f.response == nil {
		msg := "fusion failed"
		resp := &enricher.FusionResponse{JobID: a.job.ID, SourceModels: f.sources, SourceRecordIDs: nonNilIDs(f.ids),
			ValidationWarnings: []string{}, ErrorMessage: &msg}
		a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: "fusion_failed", ErrorMessage: msg, Fatal: true}, nil)
		a.job.ErrorMessage = &msg
		a.terminal(c, enricher.JobFailed, enricher.EventFailed, resp, func(r json.RawMessage) any {
			return enricher.FailedEvent{ErrorCode: "fusion_failed", ErrorMessage: msg, Result: r}
		}, nil)
		return
	}
	a.terminal(c, enricher.JobCompleted, enricher.EventCompleted, f.response,
		func(r json.RawMessage) any { return enricher.CompletedEvent{Result: r} }, nil)
}

// fusionSpec is what a fusion actor is started with. Everything in it is read-only.
type fusionSpec struct {
	Schema      *enricher.Schema
	Inputs      []enricher.FusionInput
	Languages   []string
	Arbiter     *enricher.ModelInfo // nil: the rules decide every conflict
	Provider    *actor.PID          // the arbiter's provider actor (or provider batch collector)
	Key         string              // the arbitration call's key in its job (callKey)
	MaxTokens   int
	MaxAttempts int
	Entity      map[string]any // without _sim
	Directive   map[string]any
	Now         func() time.Time
	Observer    Observer
	// Fuse is the rule-based merge; nil means enricher.Fuse. Tests hold it to observe the job
	// while a fusion runs.
	Fuse fuseFunc
}

// fusionActor fuses the successful runs of one job: the rule-based merge, then, when an arbiter
// is set and some conflicts need one, the arbiter's call through an expertise actor. It reports
// fusionMerged to its job, then forwards the call's messages (callStarted, callAttemptFailed,
// callResult), and stops itself after the last one. It writes nothing and emits no event: the
// job numbers and stores every event and the fusion record. Stopping it (a cancel) stops the
// arbiter's call.
type fusionActor struct {
	spec *fusionSpec
}

func newFusionActor(spec *fusionSpec) actor.Producer {
	return func() actor.Actor { return &fusionActor{spec: spec} }
}

func (a *fusionActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.merge(c)
	case *callStarted, *callAttemptFailed:
		c.Send(c.Parent(), m)
	case *callResult:
		c.Send(c.Parent(), m)
		c.Stop(c.Self())
	}
}

// merge runs the rule-based merge, reports it and asks the arbiter when some conflicts need one.
func (a *fusionActor) merge(c actor.Context) {
	s := a.spec
	merged, report, err := safeFuse(s.Fuse, s.Schema, s.Inputs, s.Languages)
	m := &fusionMerged{Merged: merged, Report: report, Err: err}
	if err == nil && s.Arbiter != nil {
		m.Pending = report.NeedingArbitration()
	}
	c.Send(c.Parent(), m)
	if len(m.Pending) == 0 {
		c.Stop(c.Self())
		return
	}
	arbiter, pending, schema, langs := *s.Arbiter, m.Pending, s.Schema, s.Languages
	conflicts := make([]llm.Conflict, len(pending))
	for i, fc := range pending {
		conflicts[i] = llm.Conflict{Path: fc.Path, ValuesByModel: fc.ValuesByModel}
	}
	spec := &callSpec{
		Kind: callArbitration, Model: arbiter, Provider: s.Provider,
		Prompt: enricher.ArbitrationPrompt(schema, s.Entity, pending),
		Schema: enricher.ArbitrationJSONSchema, SchemaName: "arbitration",
		Check: func(text string) (any, []string) {
			decisions, values, problems := enricher.ParseDecisions(schema, text, pending, langs)
			return arbitrationOutput{decisions: decisions, values: values}, problems
		},
		MaxAttempts: s.MaxAttempts, MaxTokens: s.MaxTokens, Now: s.Now, Observer: s.Observer, Key: s.Key,
		Hints: llm.Hints{Entity: s.Entity, Directive: s.Directive, Conflicts: conflicts, Languages: langs},
	}
	c.Spawn(actor.PropsFromProducer(newExpertiseActor(spec)))
}
