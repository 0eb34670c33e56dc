package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// callKind is what an LLM call is for. Its text is the call_kind of prompt records and
// attempt_failed events, and the hint a provider sees.
type callKind string

// The call kinds.
const (
	callEnrichment       callKind = "enrichment"
	callClassification   callKind = "classification"
	callArbitration      callKind = "arbitration"
	callSchemaGeneration callKind = enricher.SchemaJobGeneration
	callSchemaEdit       callKind = enricher.SchemaJobEdit
)

// callSpec describes one LLM call with its validation loop: the prompt, the
// answer's JSON Schema, and check, which turns an answer into a result or its problems.
type callSpec struct {
	Kind          callKind
	Model         enricher.ModelInfo
	Provider      *actor.PID
	Prompt        enricher.Prompt
	Schema        json.RawMessage
	SchemaName    string
	Check         func(text string) (any, []string)
	MaxAttempts   int
	MaxTokens     int
	ExpertiseKey  *string
	ExpertiseName *string
	Hints         llm.Hints
	Now           func() time.Time
	Observer      Observer // default: none
	// Key names the call within its job (callKey): with the attempt, it makes the call's
	// custom id in a vendor batch (provbatch.go). Empty outside batch jobs.
	Key string
}

// expertiseActor runs one LLM call (an expertise of a model run, a classification, an
// arbitration or a schema call): it asks its provider actor, checks the answer, and sends the
// problems back to the model until an answer passes or MaxAttempts answers were received.
// It reports to its parent and stops itself after its callResult. Stopping it aborts the
// request in flight.
type expertiseActor struct {
	spec     *callSpec
	ctx      context.Context
	cancel   context.CancelFunc
	messages []llm.Message
	call     enricher.PromptCall
	started  time.Time
	nextID   uint64
	attempt  int // answers asked so far (1-based while waiting)
	problems []string
}

func newExpertiseActor(spec *callSpec) actor.Producer {
	return func() actor.Actor { return &expertiseActor{spec: spec} }
}

func (a *expertiseActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.ctx, a.cancel = context.WithCancel(context.Background())
		a.started = a.spec.Now()
		a.messages = []llm.Message{{Role: "user", Content: a.spec.Prompt.User}}
		a.call = enricher.PromptCall{
			ID: uuid.NewString(), CallKind: string(a.spec.Kind), Model: a.spec.Model.Key,
			ExpertiseKey: a.spec.ExpertiseKey, ExpertiseName: a.spec.ExpertiseName,
			SystemPrompt: a.spec.Prompt.System, UserPrompt: a.spec.Prompt.User,
			AttemptLog: []enricher.Attempt{}, ValidationErrors: []string{},
			CreatedAt: enricher.NewTime(a.started),
		}
		a.ask(c)
	case *actor.Stopping:
		if a.cancel != nil {
			a.cancel()
		}
	case *providerRetry:
		if m.ID != a.nextID {
			return
		}
		kind := string(llm.KindOf(m.Err))
		c.Send(c.Parent(), &callAttemptFailed{Spec: a.spec, Attempt: a.attempt, ErrorKind: kind,
			Errors: []string{errorText(m.Err)}, WillRetry: true})
	case *providerResult:
		if m.ID != a.nextID {
			return
		}
		a.answered(c, m)
	}
}

// ask sends the conversation so far to the provider actor.
func (a *expertiseActor) ask(c actor.Context) {
	a.attempt++
	a.nextID++
	hints := a.spec.Hints
	hints.CallKind, hints.ModelKey, hints.Attempt = string(a.spec.Kind), a.spec.Model.Key, a.attempt
	req := &llm.Request{
		Model: a.spec.Model.UpstreamModel, System: a.spec.Prompt.System,
		Messages: append([]llm.Message(nil), a.messages...), Schema: a.spec.Schema, SchemaName: a.spec.SchemaName,
		MaxTokens: a.spec.MaxTokens, Temperature: 0, Hints: &hints,
	}
	c.Send(c.Parent(), &callStarted{Spec: a.spec, Attempt: a.attempt})
	c.Send(a.spec.Provider, &providerCall{ID: a.nextID, Ctx: a.ctx, Req: req, ReplyTo: c.Self(), Key: a.spec.Key})
}

// answered handles the provider's final answer for the current attempt.
func (a *expertiseActor) answered(c actor.Context, m *providerResult) {
	if m.Err != nil {
		code := errorCode(m.Err)
		if code == enricher.CodeCancelled {
			a.finish(c, false, nil, code, "cancelled")
			return
		}
		msg := errorText(m.Err)
		c.Send(c.Parent(), &callAttemptFailed{Spec: a.spec, Attempt: a.attempt, ErrorKind: code, Errors: []string{msg}})
		a.finish(c, false, nil, code, msg)
		return
	}
	resp := m.Resp
	price := a.spec.Model.Cost
	if m.Batch { // answered through the vendor's batch API, at its batch price
		price = a.spec.Model.BatchCost
	}
	cost := price(resp.Usage.InputTokens+resp.Usage.CacheReadTokens, resp.Usage.OutputTokens)
	text := resp.Text
	entry := enricher.Attempt{
		Attempt: a.attempt, RawResponse: &text, ValidationErrors: []string{},
		InputTokens: resp.Usage.InputTokens + resp.Usage.CacheReadTokens, OutputTokens: resp.Usage.OutputTokens,
		CostUSD: cost, ProcessingTimeMS: m.Elapsed.Milliseconds(),
	}
	a.call.RawResponse = &text
	a.call.InputTokens += entry.InputTokens
	a.call.OutputTokens += entry.OutputTokens
	a.call.CostUSD += cost
	a.call.Attempts = a.attempt
	a.observer().LLMUsage(a.spec.Model.Key, entry.InputTokens, entry.OutputTokens, cost)
	out, problems := a.spec.Check(text)
	if len(problems) == 0 {
		a.call.AttemptLog = append(a.call.AttemptLog, entry)
		a.finish(c, true, out, "", "")
		return
	}
	kind := enricher.CodeValidationFailed
	entry.ValidationErrors, entry.ErrorKind = problems, &kind
	a.call.AttemptLog = append(a.call.AttemptLog, entry)
	a.problems = problems
	retry := a.attempt < a.spec.MaxAttempts
	c.Send(c.Parent(), &callAttemptFailed{Spec: a.spec, Attempt: a.attempt, ErrorKind: kind, Errors: problems, WillRetry: retry, Answer: &entry})
	if !retry {
		shown := problems
		if len(shown) > 20 {
			shown = shown[:20]
		}
		a.finish(c, false, nil, kind, fmt.Sprintf("no valid answer after %d attempts: %s", a.attempt, strings.Join(shown, "; ")))
		return
	}
	a.observer().ValidationRetry(a.spec.Model.Key)
	a.messages = append(a.messages, llm.Message{Role: "assistant", Content: text},
		llm.Message{Role: "user", Content: enricher.CorrectionPrompt(problems)})
	a.ask(c)
}

func (a *expertiseActor) finish(c actor.Context, ok bool, out any, code, msg string) {
	a.call.Success = ok
	a.call.ProcessingTimeMS = a.spec.Now().Sub(a.started).Milliseconds()
	if a.problems != nil && !ok {
		a.call.ValidationErrors = a.problems
	}
	if ok {
		if b, err := encodeJSON(out); err == nil {
			a.call.StructuredOutput = b
		}
	} else {
		a.call.ErrorCode, a.call.ErrorMessage = &code, &msg
	}
	c.Send(c.Parent(), &callResult{Spec: a.spec, Success: ok, Output: out, Code: code, Message: msg, Call: a.call})
	c.Stop(c.Self())
}

// errorCode maps a provider error to the error_code of a model result (llm.ErrorKind values).
func errorCode(err error) string {
	switch k := llm.KindOf(err); k {
	case llm.KindQuotaExhausted:
		return enricher.CodeRateLimited
	case llm.KindCancelled:
		return enricher.CodeCancelled
	default:
		return string(k)
	}
}

// errorText is the client-safe text of a provider error.
func errorText(err error) string {
	if le, ok := err.(*llm.Error); ok && le.Message != "" {
		return string(le.Kind) + ": " + le.Message
	}
	return err.Error()
}

func (a *expertiseActor) observer() Observer {
	if a.spec.Observer == nil {
		return nopObserver{}
	}
	return a.spec.Observer
}

// callKey names a call within its job, for the custom ids of vendor batches: prefix (the
// job's and entity's part, jobActor.keyPrefix), the call kind and, for one domain of a
// multi_expertise run, a hash of the domain key. Only [a-zA-Z0-9_-], at most 40 characters.
func callKey(prefix string, kind callKind, expertise *string) string {
	code := map[callKind]string{callEnrichment: "enr", callClassification: "cls", callArbitration: "arb"}[kind]
	if code == "" {
		code = "sch"
	}
	key := prefix + "-" + code
	if expertise != nil {
		h := fnv.New32a()
		h.Write([]byte(*expertise))
		key += fmt.Sprintf("-%08x", h.Sum32())
	}
	return key
}
