package actors

import (
	"encoding/json"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// fusionRun is a fusion in progress: the rule-based merge is done; an arbitration call may be
// pending.
type fusionRun struct {
	start    int64 // unix ms
	sources  []string
	ids      []string
	merged   map[string]any
	report   enricher.ConflictReport
	arbiter  *enricher.ModelInfo
	pending  []enricher.FieldConflict // sent to the arbiter
	call     *enricher.PromptCall
	outcome  *enricher.EnrichmentOutcome
	failed   bool
	response *enricher.FusionResponse
}

// startFusion merges the successful runs by the rules and, when an arbiter is set and some
// conflicts need one, asks it. It reports whether it waits for the arbiter.
func (a *jobActor) startFusion(c actor.Context, ok []*modelDone, o *enricher.EnrichmentOutcome) bool {
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
	var err error
	f.merged, f.report, err = safeFuse(a.in.Schema, inputs, a.in.Spec.Languages)
	if err != nil {
		f.failed = true
		msg := "fusion failed: " + err.Error()
		a.log.Error("fusion failed", "job_id", a.job.ID, "err", err)
		a.emit(c, enricher.EventFusionCompleted, enricher.FusionCompletedEvent{ErrorMessage: &msg, ValidationWarnings: []string{}}, nil)
		a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: "fusion_failed", ErrorMessage: msg}, nil)
		return false
	}
	a.emit(c, enricher.EventConflictsDetected, enricher.ConflictsDetectedEvent{TotalFields: f.report.TotalFields,
		AgreedFields: f.report.AgreedFields, ConflictedFields: f.report.ConflictedFields, ConflictPaths: nonNilIDs(f.report.Paths())}, nil)
	f.arbiter = a.in.Arbiter
	if f.arbiter == nil {
		return false
	}
	f.pending = f.report.NeedingArbitration()
	if len(f.pending) == 0 {
		return false
	}
	arbiter := *f.arbiter
	key := arbiter.Key
	a.current, a.attempts[key] = &key, 0
	a.emit(c, enricher.EventArbitrationStarted, enricher.ArbitrationStartedEvent{ArbitrationModel: key, ConflictCount: len(f.pending)}, nil)
	conflicts := make([]llm.Conflict, len(f.pending))
	for i, fc := range f.pending {
		conflicts[i] = llm.Conflict{Path: fc.Path, ValuesByModel: fc.ValuesByModel}
	}
	pending, schema, langs := f.pending, a.in.Schema, a.in.Spec.Languages
	spec := &callSpec{
		Kind: callArbitration, Model: arbiter, Provider: a.in.Providers[arbiter.Provider],
		Prompt: enricher.ArbitrationPrompt(schema, a.entity, pending),
		Schema: enricher.ArbitrationJSONSchema, SchemaName: "arbitration",
		Check: func(text string) (any, []string) {
			decisions, values, problems := enricher.ParseDecisions(schema, text, pending, langs)
			return arbitrationOutput{decisions: decisions, values: values}, problems
		},
		MaxAttempts: a.in.Cfg.MaxAttempts, MaxTokens: a.maxTokens(arbiter), Now: a.in.Cfg.Now, Observer: a.in.Cfg.Observer,
		Hints: llm.Hints{Entity: a.entity, Directive: a.directive, Conflicts: conflicts, Languages: langs},
	}
	a.arbiterPID = c.Spawn(actor.PropsFromProducer(newExpertiseActor(spec)))
	return true
}

// arbitrationOutput is the checked answer of an arbitration call.
type arbitrationOutput struct {
	decisions []enricher.Decision
	values    map[string]any
}

// arbitrated folds the arbiter's answer in (or falls back to the rules) and completes fusion.
func (a *jobActor) arbitrated(c actor.Context, m *callResult) {
	f := a.fusion
	a.arbiterPID = nil
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
	mergedJSON, err := json.Marshal(f.merged)
	if err != nil {
		a.fusionUnencodable(c, "merged result", err)
		return
	}
	spec := enricher.NewAnswerSpec(a.in.Schema, nil, "", a.in.Spec.Languages)
	_, warnings := enricher.CheckAnswer(spec, string(mergedJSON))
	if warnings == nil {
		warnings = []string{}
	}
	reportJSON, err := json.Marshal(f.report)
	if err != nil {
		a.fusionUnencodable(c, "conflict report", err)
		return
	}
	rec := a.recordTemplate()
	rec.ID, rec.Type, rec.Success = uuid.NewString(), enricher.RecordFusion, true
	rec.StructuredOutput, rec.ConflictReport, rec.FusionMethod = mergedJSON, reportJSON, &method
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
	o.CostUSD += rec.CostUSD
	o.InputTokens += rec.InputTokens
	o.OutputTokens += rec.OutputTokens
	o.Fusion = &enricher.FusionSummary{Method: method, ArbitrationModel: a.in.Spec.ArbitrationModel,
		TotalFields: f.report.TotalFields, AgreedFields: f.report.AgreedFields, ConflictedFields: f.report.ConflictedFields, RecordID: &id}
	f.response = &enricher.FusionResponse{JobID: a.job.ID, Success: true, Method: &method, MergedResult: rec.StructuredOutput,
		ConflictReport: rec.ConflictReport, RecordID: &id, ArbitrationModel: rec.Model, SourceModels: f.sources,
		SourceRecordIDs: nonNilIDs(f.ids), CostUSD: rec.CostUSD, InputTokens: rec.InputTokens, OutputTokens: rec.OutputTokens,
		ProcessingTimeMS: rec.ProcessingTimeMS, ValidationWarnings: warnings}
}

func nonNilIDs(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// safeFuse runs enricher.Fuse, turning a panic into an error.
func safeFuse(s *enricher.Schema, in []enricher.FusionInput, langs []string) (merged map[string]any, report enricher.ConflictReport, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	merged, report = enricher.Fuse(s, in, langs)
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
	if a.startFusion(c, ok, &enricher.EnrichmentOutcome{}) {
		return
	}
	a.completeFusion(c, false)
	a.endFusionJob(c)
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
