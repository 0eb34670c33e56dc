package actors

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// modelSpec is everything a model actor needs to run one model on one entity.
type modelSpec struct {
	Model          enricher.ModelInfo
	Provider       *actor.PID
	KeyPrefix      string // the job's and entity's part of its calls' keys (callKey)
	Schema         *enricher.Schema
	Entity         map[string]any // without the _sim directive
	Input          map[string]any // entity_data as sent (for the record)
	Directive      map[string]any
	Languages      []string
	Strategy       enricher.Strategy
	Classification *enricher.Classification
	Mismatch       bool
	MaxAttempts    int
	MaxTokens      int
	Plan           []plannedCall
	Record         enricher.Record       // template: job, entity, schema and creator fields set
	Prior          []enricher.PromptCall // calls billed to this run before it started (classification)
	Now            func() time.Time
	Observer       Observer
	Log            *slog.Logger // where encoding failures go
}

// plannedCall is one call of a model run: all asked fields, or one domain's.
type plannedCall struct {
	Domain *enricher.Domain // nil unless multi_expertise
	Spec   *enricher.AnswerSpec
	Schema []byte // Spec's JSON Schema, encoded once per schema and shape (answers.go); read-only
}

// newPlannedCall returns the call asking spec, built from s, of domain d (nil: not by domain).
func newPlannedCall(answers *answerSchemas, s *enricher.Schema, d *enricher.Domain, spec *enricher.AnswerSpec) (plannedCall, error) {
	schema, err := answers.get(s, spec)
	return plannedCall{Domain: d, Spec: spec, Schema: schema}, err
}

// planCalls splits a run into calls by strategy. Domains without asked fields
// make no call; a run with nothing to ask makes none. An answer schema that cannot be encoded
// is an error.
func planCalls(answers *answerSchemas, s *enricher.Schema, entity map[string]any, strategy enricher.Strategy, langs []string) ([]plannedCall, error) {
	if strategy != enricher.StrategyMultiExpertise {
		spec := enricher.NewAnswerSpec(s, entity, "", langs)
		if spec.Empty() {
			return nil, nil
		}
		p, err := newPlannedCall(answers, s, nil, spec)
		if err != nil {
			return nil, err
		}
		return []plannedCall{p}, nil
	}
	var plan []plannedCall
	seen := map[string]bool{}
	for _, p := range s.Root.Properties {
		if seen[p.Expertise] {
			continue
		}
		seen[p.Expertise] = true
		spec := enricher.NewAnswerSpec(s, entity, p.Expertise, langs)
		if spec.Empty() {
			continue
		}
		d, _ := s.Domain(p.Expertise)
		if d.Name == "" {
			d.Name = p.Expertise
		}
		call, err := newPlannedCall(answers, s, &d, spec)
		if err != nil {
			return nil, err
		}
		plan = append(plan, call)
	}
	return plan, nil
}

// expertiseKeys lists the domains with their own call (model_started.expertise_keys).
func expertiseKeys(plan []plannedCall) []string {
	keys := []string{}
	for _, p := range plan {
		if p.Domain != nil {
			keys = append(keys, p.Domain.Key)
		}
	}
	return keys
}

// callState is what a model actor knows of one of its calls.
type callState struct {
	plan    plannedCall
	run     *callRun
	done    bool
	result  *callResult
	answers []enricher.Attempt // billed answers seen so far (for cancelled calls)
	started time.Time
}

// modelActor runs one model on one entity: it runs each planned call itself (a callRun per
// call, whose provider replies it routes by the call's tag), merges the answers, writes
// nothing itself, and reports a modelDone with the run's record to its job, then stops.
// Stopping it aborts the requests in flight.
type modelActor struct {
	spec     *modelSpec
	calls    []*callState
	started  time.Time
	finished bool
}

func newModelActor(spec *modelSpec) actor.Producer {
	return func() actor.Actor { return &modelActor{spec: spec} }
}

func (a *modelActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.started = a.spec.Now()
		if len(a.spec.Plan) == 0 {
			a.finish(c, false)
			return
		}
		for i, p := range a.spec.Plan {
			cs := a.newCall(p)
			st := &callState{plan: p, started: a.started}
			st.run = newCallRun(cs, uint32(i+1), func(msg any) { a.callReport(c, st, msg) })
			a.calls = append(a.calls, st)
		}
		for _, st := range a.calls { // every state exists before a call reports
			st.run.start(c)
		}
	case *actor.Stopping:
		for _, st := range a.calls {
			st.run.abort()
		}
	case *providerRetry:
		a.reply(c, m.ID, m)
	case *providerResult:
		a.reply(c, m.ID, m)
	case *cancelRun:
		for _, st := range a.calls {
			if !st.done {
				st.run.abort()
			}
		}
		a.finish(c, true)
	}
}

// callReport handles what the call st reports (callRun's report): its progress goes to the
// job, its result into the run, which finishes after the last one.
func (a *modelActor) callReport(c actor.Context, st *callState, msg any) {
	switch m := msg.(type) {
	case *callStarted:
		c.Send(c.Parent(), &modelProgress{Model: a.spec.Model.Key, Msg: m})
	case *callAttemptFailed:
		if m.Answer != nil {
			st.answers = append(st.answers, *m.Answer)
		}
		c.Send(c.Parent(), &modelProgress{Model: a.spec.Model.Key, Msg: m})
	case *callResult:
		if st.done {
			return
		}
		st.done, st.result = true, m
		if st.plan.Domain != nil {
			c.Send(c.Parent(), &expertiseDone{Model: a.spec.Model.Key, Event: a.expertiseEvent(st)})
		}
		if a.allDone() {
			a.finish(c, false)
		}
	}
}

// reply passes a provider reply to the call whose tag its id carries.
func (a *modelActor) reply(c actor.Context, id uint64, m any) {
	if i := int(callTag(id)) - 1; i >= 0 && i < len(a.calls) && !a.finished {
		a.calls[i].run.reply(c, m)
	}
}

func (a *modelActor) newCall(p plannedCall) *callSpec {
	var key, name *string
	if p.Domain != nil {
		key, name = &p.Domain.Key, &p.Domain.Name
	}
	prompt := enricher.EnrichmentPrompt(enricher.PromptInput{
		Schema: a.spec.Schema, Entity: a.spec.Entity, Spec: p.Spec, Strategy: a.spec.Strategy,
		Domain: p.Domain, Classification: a.spec.Classification, Mismatch: a.spec.Mismatch,
	})
	spec := p.Spec
	return &callSpec{
		Kind: callEnrichment, Model: a.spec.Model, Provider: a.spec.Provider, Prompt: prompt,
		Schema: p.Schema, SchemaName: "enrichment",
		Check: func(text string) (any, []string) {
			out, problems := enricher.CheckAnswer(spec, text)
			return out, problems
		},
		MaxAttempts: a.spec.MaxAttempts, MaxTokens: a.spec.MaxTokens, ExpertiseKey: key, ExpertiseName: name,
		Hints: llm.Hints{Entity: a.spec.Entity, Directive: a.spec.Directive, Languages: a.spec.Languages, RootName: a.rootName()},
		Now:   a.spec.Now, Observer: a.spec.Observer, Key: callKey(a.spec.KeyPrefix, callEnrichment, key),
	}
}

func (a *modelActor) allDone() bool {
	for _, st := range a.calls {
		if !st.done {
			return false
		}
	}
	return true
}

// answers returns the successful outputs so far, in plan order.
func (a *modelActor) answers() []map[string]any {
	var out []map[string]any
	for _, st := range a.calls {
		if st.done && st.result.Success {
			if m, ok := st.result.Output.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func (a *modelActor) expertiseEvent(st *callState) enricher.ExpertiseCompletedEvent {
	r := st.result
	completed := 0
	for _, s := range a.calls {
		if s.done {
			completed++
		}
	}
	ev := enricher.ExpertiseCompletedEvent{
		Model: a.spec.Model.Key, ExpertiseKey: st.plan.Domain.Key, ExpertiseName: st.plan.Domain.Name,
		Success: r.Success, CompletedExpertises: completed, TotalExpertises: len(a.calls),
		Attempts: r.Call.Attempts, CostUSD: r.Call.CostUSD, InputTokens: r.Call.InputTokens,
		OutputTokens: r.Call.OutputTokens, ProcessingTimeMS: r.Call.ProcessingTimeMS,
	}
	if r.Success {
		var err error
		if ev.ExpertiseResult, err = encodeJSON(r.Output); err == nil {
			partial := enricher.AssembleOutput(a.spec.Schema, a.spec.Entity, a.answers(), a.spec.Languages)
			ev.PartialResult, err = encodeJSON(partial)
		}
		if err == nil {
			return ev
		}
		// the event says the domain failed; the run's own result is checked again in finish
		ev.Success, ev.ExpertiseResult, ev.PartialResult = false, nil, nil
		a.spec.Log.Error("expertise result cannot be encoded", "model", a.spec.Model.Key, "expertise", st.plan.Domain.Key, "err", err)
		msg := "the expertise result could not be encoded"
		ev.ErrorMessage = &msg
		return ev
	}
	msg := r.Message
	ev.ErrorMessage = &msg
	return ev
}

// finish builds the run's result and record and reports them to the job.
func (a *modelActor) finish(c actor.Context, cancelled bool) {
	if a.finished {
		return
	}
	a.finished = true
	spec := a.spec
	res := enricher.ModelResult{Model: spec.Model.Key, Cancelled: cancelled}
	rec := spec.Record
	rec.ID = uuid.NewString()
	model, provider, strategy := spec.Model.Key, spec.Model.Provider, string(spec.Strategy)
	rec.Model, rec.Provider, rec.Strategy = &model, &provider, &strategy
	rec.Prompts = append([]enricher.PromptCall{}, spec.Prior...)
	rec.ValidationErrors = []string{}
	var breakdown []enricher.ExpertiseOutcome
	succeeded, failed := 0, 0
	var firstErr *callResult
	for _, st := range a.calls {
		call := a.promptCall(st)
		rec.Prompts = append(rec.Prompts, call)
		res.Attempts += call.Attempts
		if st.plan.Domain != nil {
			eo := enricher.ExpertiseOutcome{Key: st.plan.Domain.Key, Name: st.plan.Domain.Name, Success: call.Success,
				Attempts: call.Attempts, CostUSD: call.CostUSD, InputTokens: call.InputTokens,
				OutputTokens: call.OutputTokens, ProcessingTimeMS: call.ProcessingTimeMS, ErrorMessage: call.ErrorMessage}
			breakdown = append(breakdown, eo)
		}
		switch {
		case st.done && st.result.Success:
			succeeded++
		default:
			failed++
			if firstErr == nil && st.result != nil {
				firstErr = st.result
			}
			rec.ValidationErrors = append(rec.ValidationErrors, call.ValidationErrors...)
		}
	}
	for i := range rec.Prompts {
		rec.Prompts[i].SequenceOrder = i + 1
		rec.CostUSD += rec.Prompts[i].CostUSD
		rec.InputTokens += rec.Prompts[i].InputTokens
		rec.OutputTokens += rec.Prompts[i].OutputTokens
	}
	rec.PromptCount = len(rec.Prompts)
	res.CostUSD, res.InputTokens, res.OutputTokens = rec.CostUSD, rec.InputTokens, rec.OutputTokens
	if spec.Strategy == enricher.StrategyMultiExpertise {
		res.ExpertiseBreakdown = breakdown
		if res.ExpertiseBreakdown == nil {
			res.ExpertiseBreakdown = []enricher.ExpertiseOutcome{}
		}
	}
	switch {
	case cancelled:
		code, msg := enricher.CodeCancelled, "the job was cancelled"
		res.ErrorCode, res.ErrorMessage = &code, &msg
	case failed == 0:
		res.Success = true
	case succeeded > 0 && spec.Strategy == enricher.StrategyMultiExpertise:
		res.Success, res.PartialSuccess = true, true
	default:
		code, msg := enricher.CodeInternal, "model run failed"
		if firstErr != nil {
			code, msg = firstErr.Code, firstErr.Message
		}
		res.ErrorCode, res.ErrorMessage = &code, &msg
	}
	var output map[string]any
	if res.Success {
		output = enricher.AssembleOutput(spec.Schema, spec.Entity, a.answers(), spec.Languages)
		raw, err := encodeJSON(output)
		if err != nil { // the run fails: its answer cannot be stored
			spec.Log.Error("model result cannot be encoded; the run fails", "model", spec.Model.Key, "err", err)
			code, msg := enricher.CodeInternal, "the model's result could not be encoded"
			res.Success, res.PartialSuccess, res.ErrorCode, res.ErrorMessage = false, false, &code, &msg
			output = nil
		}
		res.Result = raw
		rec.StructuredOutput = res.Result
		rec.SetProvenance(askedProvenance(spec, enricher.SingleModelProvenance(spec.Schema, spec.Model.Key, output, spec.Languages)))
	}
	rec.Success, rec.PartialSuccess, rec.Cancelled = res.Success, res.PartialSuccess, cancelled
	if !rec.Success {
		rec.SetFailure(*res.ErrorCode, *res.ErrorMessage)
	}
	res.ProcessingTimeMS = spec.Now().Sub(a.started).Milliseconds()
	rec.ProcessingTimeMS = res.ProcessingTimeMS
	var record *enricher.Record
	if len(rec.Prompts) > 0 {
		record = &rec
		id := rec.ID
		res.RecordID = &id
	}
	c.Send(c.Parent(), &modelDone{Model: spec.Model.Key, Result: res, Output: output, Record: record})
	c.Stop(c.Self())
}

// promptCall returns the record entry of a call: its result's, or for an unfinished call
// (cancelled) the prompt with the answers billed so far.
func (a *modelActor) promptCall(st *callState) enricher.PromptCall {
	if st.done {
		return st.result.Call
	}
	p := st.run.spec // the call as it was asked
	code, msg := enricher.CodeCancelled, "the job was cancelled"
	call := enricher.PromptCall{
		ID: uuid.NewString(), CallKind: string(callEnrichment), Model: a.spec.Model.Key, ExpertiseKey: p.ExpertiseKey,
		ExpertiseName: p.ExpertiseName, SystemPrompt: p.Prompt.System, UserPrompt: p.Prompt.User,
		ErrorCode: &code, ErrorMessage: &msg, AttemptLog: st.answers, ValidationErrors: []string{},
		CreatedAt: enricher.NewTime(st.started), ProcessingTimeMS: a.spec.Now().Sub(st.started).Milliseconds(),
	}
	if call.AttemptLog == nil {
		call.AttemptLog = []enricher.Attempt{}
	}
	for _, ans := range st.answers {
		call.Attempts++
		call.InputTokens += ans.InputTokens
		call.OutputTokens += ans.OutputTokens
		call.CostUSD += ans.CostUSD
		call.RawResponse = ans.RawResponse
	}
	return call
}

// rootName is the schema root's name, for the sim provider's descriptions; empty without a schema.
func (a *modelActor) rootName() string {
	if a.spec.Schema == nil {
		return ""
	}
	return a.spec.Schema.Root.Name
}
