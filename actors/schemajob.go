package actors

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
)

// SchemaStore saves the schemas that generation and edit jobs produce (storage.DB).
type SchemaStore interface {
	Schema(org, id string) (*enricher.SavedSchema, error)
	Schemas(org string) ([]*enricher.SavedSchema, error)
	CreateSchema(s *enricher.SavedSchema, maxLive int) error
	UpdateSchema(org, id string, fn func(*enricher.SavedSchema) error) (*enricher.SavedSchema, error)
}

// schemaJobInput is what a schema job actor starts with. Read-only.
type schemaJobInput struct {
	Job      *enricher.Job
	Spec     *enricher.SchemaJobSpec
	Model    enricher.ModelInfo
	Provider *actor.PID
	Current  json.RawMessage // edit: the schema content when the job started
	Journal  journalDeps
	Schemas  SchemaStore
	MaxLive  int
	Log      *slog.Logger
}

// schemaJobActor runs a schema generation or AI edit job: one call with the
// validation loop, then the save, then the record and the terminal event.
type schemaJobActor struct {
	in      *schemaJobInput
	job     *enricher.Job
	journal *journal
	attempt int
	lastErr *string
	answer  *enricher.SchemaAnswer
	call    enricher.PromptCall
	started time.Time
	input   json.RawMessage // the request (sample or prompt), encoded once for the record
}

func newSchemaJobActor(in *schemaJobInput) actor.Producer {
	return func() actor.Actor { return &schemaJobActor{in: in} }
}

func (a *schemaJobActor) Receive(c actor.Context) {
	defer a.flushJournal(c)
	switch m := c.Message().(type) {
	case *actor.Started:
		j := *a.in.Job
		a.job = &j
		a.journal = newJournal(a.job, a.in.Journal)
		a.started = a.in.Journal.cfg.Now()
		if a.job.StartedAt == nil {
			a.job.StartedAt = enricher.NewTimePtr(a.started)
		}
		if a.job.RecordIDs == nil {
			a.job.RecordIDs = []string{}
		}
		a.job.Status = enricher.JobRunning
		input, err := a.requestInput()
		if err != nil {
			a.in.Journal.log.Error("schema job request cannot be encoded; the job fails", "job_id", a.job.ID, "err", err)
			a.fail(c, "the request could not be encoded")
			return
		}
		a.input = input
		a.emit(c, enricher.EventModelStarted, enricher.ModelStartedEvent{Model: a.in.Model.Key, Strategy: enricher.StrategySinglePass, ExpertiseKeys: []string{}}, nil)
		c.Spawn(actor.PropsFromProducer(newExpertiseActor(a.callSpec())))
	case *callStarted:
		a.attempt = m.Attempt
	case *callAttemptFailed:
		a.attempt = m.Attempt
		summary := m.ErrorKind
		if len(m.Errors) > 0 {
			summary = m.Errors[0]
		}
		if r := []rune(summary); len(r) > 300 {
			summary = string(r[:300])
		}
		a.lastErr = &summary
		a.emit(c, enricher.EventAttemptFailed, enricher.AttemptFailedEvent{Model: a.in.Model.Key, CallKind: a.in.Spec.Kind,
			Attempt: m.Attempt, ErrorKind: m.ErrorKind, Errors: m.Errors, WillRetry: m.WillRetry}, nil)
	case *callResult:
		a.call = m.Call
		if !m.Success {
			a.fail(c, m.Message)
			return
		}
		a.answer = m.Output.(*enricher.SchemaAnswer)
		a.save(c)
	case *schemaSaved:
		if m.Err != nil {
			a.fail(c, "the schema could not be saved: "+enricher.PublicMessage(m.Err))
			return
		}
		a.succeed(c, m.Schema, m.Reused)
	case *cancelJob:
		if a.job.Status.Terminal() {
			c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindConflict, "job already finished")})
			return
		}
		c.Respond(&jobReply{Status: enricher.JobCancelled})
		for _, child := range c.Children() {
			c.Stop(child)
		}
		a.job.Status = enricher.JobCancelled
		a.job.FinishedAt = enricher.NewTimePtr(a.in.Journal.cfg.Now())
		a.emit(c, enricher.EventCancelled, enricher.CancelledEvent{Reason: enricher.ReasonUser}, nil)
	case *continueJob:
		c.Respond(&jobReply{Err: enricher.Errorf(enricher.KindConflict, "job is not paused (status %s)", a.job.Status)})
	case *subscribe, *rejoinLive, *unsubscribe:
		a.journal.serve(c, m)
	case *actor.Stopping:
		if a.journal != nil {
			a.journal.stop()
		}
	case *persisted:
		if a.journal.stored(m.upTo) {
			c.Send(c.Parent(), &jobFinished{JobID: a.job.ID, OrgID: a.job.OrganizationID, Status: a.job.Status, Ended: true})
		}
	case *persistFailed:
		a.in.Log.Error("schema job cannot store its events", "job_id", a.job.ID, "err", m.err)
		c.Send(c.Parent(), &jobFinished{JobID: a.job.ID, OrgID: a.job.OrganizationID, Status: a.job.Status})
	}
}

func (a *schemaJobActor) callSpec() *callSpec {
	spec := a.in.Spec
	var prompt enricher.Prompt
	var sample map[string]any
	hints := llm.Hints{}
	kind := callSchemaEdit
	if spec.Kind == enricher.SchemaJobGeneration {
		kind = callSchemaGeneration
		sample, _ = enricher.StripSimDirective(spec.Sample)
		prompt = enricher.GenerationPrompt(sample)
		hints.Sample, hints.RootName = sample, ""
		if spec.Name != nil {
			hints.RootName = *spec.Name
		}
		_, hints.Directive = enricher.StripSimDirective(spec.Sample)
	} else {
		prompt = enricher.EditPrompt(a.in.Current, spec.Prompt)
		hints.Schema, hints.Prompt = a.in.Current, spec.Prompt
	}
	maxTokens := a.in.Journal.cfg.MaxOutputTokens
	if m := a.in.Model.MaxOutputTokens; m > 0 && m < maxTokens {
		maxTokens = m
	}
	return &callSpec{
		Kind: kind, Model: a.in.Model, Provider: a.in.Provider, Prompt: prompt,
		Schema: enricher.SchemaAnswerJSONSchema, SchemaName: "schema",
		Check: func(text string) (any, []string) {
			ans, problems := enricher.ParseSchemaAnswer(text, sample)
			return ans, problems
		},
		MaxAttempts: a.in.Journal.cfg.MaxAttempts, MaxTokens: maxTokens, Hints: hints, Now: a.in.Journal.cfg.Now, Observer: a.in.Journal.cfg.Observer,
	}
}

// save stores the schema in a goroutine (storage I/O) and reports back with schemaSaved.
func (a *schemaJobActor) save(c actor.Context) {
	self, root := c.Self(), c.ActorSystem().Root
	in, ans, now := a.in, a.answer, enricher.NewTime(a.in.Journal.cfg.Now())
	org := a.job.OrganizationID
	go func() {
		var res schemaSaved
		defer func() {
			if r := recover(); r != nil {
				res = schemaSaved{Err: fmt.Errorf("panic: %v", r)}
			}
			root.Send(self, &res)
		}()
		if in.Spec.Kind == enricher.SchemaJobEdit {
			res.Schema, res.Err = in.Schemas.UpdateSchema(org, in.Spec.SchemaID, func(s *enricher.SavedSchema) error {
				if s.IsDeleted {
					return enricher.Errorf(enricher.KindConflict, "the schema was deleted meanwhile")
				}
				s.PreviousContent, s.Content, s.ContentHash = s.Content, ans.Content, ans.Hash
				s.PropertyCount, s.ExpertiseCount = ans.Schema.PropertyCount(), ans.Schema.ExpertiseCount()
				s.AISuggestions, s.UpdatedAt = ans.Suggestions, now
				return nil
			})
			return
		}
		all, err := in.Schemas.Schemas(org)
		if err != nil {
			res.Err = err
			return
		}
		for _, s := range all {
			if !s.IsDeleted && s.ContentHash == ans.Hash {
				res.Schema, res.Reused = s, true
				return
			}
		}
		name := ans.Schema.Root.Name
		if in.Spec.Name != nil {
			name = *in.Spec.Name
		}
		clean, _ := enricher.StripSimDirective(in.Spec.Sample)
		sample, err := json.Marshal(clean)
		if err != nil {
			res.Err = fmt.Errorf("encoding the sample: %w", err)
			return
		}
		params, err := json.Marshal(map[string]string{"model": in.Model.Key})
		if err != nil {
			res.Err = fmt.Errorf("encoding the generation parameters: %w", err)
			return
		}
		s := &enricher.SavedSchema{
			ID: uuid.NewString(), OrganizationID: org, Name: strings.TrimSpace(name), Content: ans.Content, ContentHash: ans.Hash,
			Tags: []string{}, PropertyCount: ans.Schema.PropertyCount(), ExpertiseCount: ans.Schema.ExpertiseCount(),
			SampleJSON: sample, GenerationParams: params, AISuggestions: ans.Suggestions, CreatedAt: now, UpdatedAt: now,
		}
		res.Err = in.Schemas.CreateSchema(s, in.MaxLive)
		res.Schema = s
	}()
}

// requestInput encodes what the job was asked with: the sample, or the edit prompt.
func (a *schemaJobActor) requestInput() (json.RawMessage, error) {
	if a.in.Spec.Kind == enricher.SchemaJobEdit {
		return json.Marshal(map[string]string{"prompt": a.in.Spec.Prompt})
	}
	return json.Marshal(a.in.Spec.Sample)
}

// record builds the job's record around its call; msg is why it failed (unused on success).
func (a *schemaJobActor) record(success bool, output json.RawMessage, msg string) *enricher.Record {
	typ := enricher.RecordSchemaGeneration
	input := a.input
	if a.in.Spec.Kind == enricher.SchemaJobEdit {
		typ = enricher.RecordSchemaEdit
	}
	call := a.call
	call.SequenceOrder = 1
	model, provider := a.in.Model.Key, a.in.Model.Provider
	rec := &enricher.Record{
		RecordSummary: enricher.RecordSummary{
			ID: uuid.NewString(), Type: typ, JobID: a.job.ID, Model: &model, Provider: &provider, Languages: []string{},
			Success: success, CostUSD: call.CostUSD, InputTokens: call.InputTokens, OutputTokens: call.OutputTokens,
			ProcessingTimeMS: a.in.Journal.cfg.Now().Sub(a.started).Milliseconds(), PromptCount: 1,
			SourceModels: []string{}, SourceRecordIDs: []string{}, CreatedAt: enricher.NewTime(a.in.Journal.cfg.Now()),
		},
		OrganizationID: a.job.OrganizationID, StructuredOutput: output, EntityInput: input,
		ValidationErrors: call.ValidationErrors, Prompts: []enricher.PromptCall{call}, CreatedBy: a.job.CreatedBy,
	}
	if rec.ValidationErrors == nil {
		rec.ValidationErrors = []string{}
	}
	rec.SetFailure(a.in.Spec.Kind+"_failed", msg)
	if a.in.Spec.Kind == enricher.SchemaJobEdit {
		id := a.in.Spec.SchemaID
		rec.SchemaID = &id
	}
	return rec
}

func (a *schemaJobActor) modelResult(rec *enricher.Record, success bool, msg *string) enricher.ModelResult {
	id := rec.ID
	res := enricher.ModelResult{Model: a.in.Model.Key, Success: success, Result: rec.StructuredOutput, RecordID: &id,
		CostUSD: rec.CostUSD, InputTokens: rec.InputTokens, OutputTokens: rec.OutputTokens,
		ProcessingTimeMS: rec.ProcessingTimeMS, Attempts: a.call.Attempts, ErrorMessage: msg}
	if !success {
		code := enricher.CodeValidationFailed
		if a.call.ErrorCode != nil {
			code = *a.call.ErrorCode
		}
		res.ErrorCode = &code
	}
	return res
}

func (a *schemaJobActor) succeed(c actor.Context, s *enricher.SavedSchema, reused bool) {
	rec := a.record(true, a.answer.Content, "")
	if a.in.Spec.Kind == enricher.SchemaJobGeneration {
		id := s.ID
		rec.SchemaID = &id
	}
	result, err := json.Marshal(enricher.SchemaJobResult{SchemaID: s.ID, Schema: a.answer.Content, RecordID: rec.ID,
		Suggestions: a.answer.Suggestions, Reused: reused})
	if err != nil { // rec is not stored: the failure writes its own record
		a.in.Journal.log.Error("schema job result cannot be encoded; the job fails", "job_id", a.job.ID, "err", err)
		a.fail(c, "the job's result could not be encoded")
		return
	}
	a.job.CompletedModels = 1
	a.job.RecordIDs = append(a.job.RecordIDs, rec.ID)
	a.job.RecordCount++
	a.emit(c, enricher.EventModelCompleted, enricher.ModelCompletedEvent{ModelResult: a.modelResult(rec, true, nil)}, []*enricher.Record{rec})
	a.job.Status, a.job.Result = enricher.JobCompleted, result
	a.job.FinishedAt = enricher.NewTimePtr(a.in.Journal.cfg.Now())
	a.emit(c, enricher.EventCompleted, enricher.CompletedEvent{Result: result}, nil)
}

func (a *schemaJobActor) fail(c actor.Context, msg string) {
	rec := a.record(false, nil, msg)
	a.job.CompletedModels = 1
	a.job.RecordIDs = append(a.job.RecordIDs, rec.ID)
	a.job.RecordCount++
	a.emit(c, enricher.EventModelCompleted, enricher.ModelCompletedEvent{ModelResult: a.modelResult(rec, false, &msg)}, []*enricher.Record{rec})
	code := a.in.Spec.Kind + "_failed"
	a.emit(c, enricher.EventError, enricher.ErrorEvent{ErrorCode: code, ErrorMessage: msg, Fatal: true}, nil)
	a.job.Status, a.job.ErrorMessage = enricher.JobFailed, &msg
	a.job.FinishedAt = enricher.NewTimePtr(a.in.Journal.cfg.Now())
	a.emit(c, enricher.EventFailed, enricher.FailedEvent{ErrorCode: code, ErrorMessage: msg}, nil)
}

func (a *schemaJobActor) emit(c actor.Context, typ string, payload any, records []*enricher.Record) int64 {
	h := enricher.EventHeader{Type: typ, LastErrorSummary: a.lastErr}
	if !enricher.TerminalEvent(typ) && typ != enricher.EventModelCompleted {
		key := a.in.Model.Key
		h.CurrentModel, h.CurrentAttempt, h.MaxAttempts, h.RunningModels = &key, a.attempt, a.in.Journal.cfg.MaxAttempts, []string{key}
	}
	return a.journal.append(c, a.job, &h, payload, storage.Batch{Records: records})
}

// flushJournal sends the journal's writes of the message just handled.
func (a *schemaJobActor) flushJournal(c actor.Context) {
	if a.journal != nil {
		a.journal.flush(c)
	}
}
