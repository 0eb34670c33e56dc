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

// callRun is one LLM call with its validation loop (an expertise of a model run, a
// classification, an arbitration or a schema call), run inside the actor that hosts it: it
// asks the provider actor, checks the answer, and sends the problems back to the model until an
// answer passes or MaxAttempts answers were received. It tells its host of its progress through
// report, with the messages an expertise actor sends its parent (callStarted,
// callAttemptFailed, then one callResult, after which it does nothing more). The host passes
// it the provider's replies whose ID carries the call's tag (callTag), and calls abort when it
// stops. Not safe for concurrent use: the host's Receive owns it.
type callRun struct {
	spec     *callSpec
	tag      uint64 // the call's tag in the high 32 bits of its providerCall IDs
	report   func(msg any)
	ctx      context.Context
	cancel   context.CancelFunc
	messages []llm.Message
	call     enricher.PromptCall
	started  time.Time
	nextID   uint64 // ID of the providerCall in flight
	attempt  int    // answers asked so far (1-based while waiting)
	problems []string
	done     bool
}

// newCallRun returns the run of spec; tag (not 0) tells its provider replies from those of the
// host's other calls.
func newCallRun(spec *callSpec, tag uint32, report func(msg any)) *callRun {
	return &callRun{spec: spec, tag: uint64(tag) << 32, report: report}
}

// callTag returns the tag of the call a provider reply's ID belongs to.
func callTag(id uint64) uint32 { return uint32(id >> 32) }

// start sends the first attempt.
func (r *callRun) start(c actor.Context) {
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.started = r.spec.Now()
	r.messages = []llm.Message{{Role: "user", Content: r.spec.Prompt.User}}
	r.call = enricher.PromptCall{
		ID: uuid.NewString(), CallKind: string(r.spec.Kind), Model: r.spec.Model.Key,
		ExpertiseKey: r.spec.ExpertiseKey, ExpertiseName: r.spec.ExpertiseName,
		SystemPrompt: r.spec.Prompt.System, UserPrompt: r.spec.Prompt.User,
		AttemptLog: []enricher.Attempt{}, ValidationErrors: []string{},
		CreatedAt: enricher.NewTime(r.started),
	}
	r.ask(c)
}

// abort cancels the request in flight (the host stops, or no longer wants the call).
func (r *callRun) abort() {
	if r.cancel != nil {
		r.cancel()
	}
}

// reply handles a providerRetry or providerResult addressed to the call: replies to an
// earlier attempt, and any after the call's result, are ignored.
func (r *callRun) reply(c actor.Context, msg any) {
	switch m := msg.(type) {
	case *providerRetry:
		if m.ID != r.nextID || r.done {
			return
		}
		kind := string(llm.KindOf(m.Err))
		r.report(&callAttemptFailed{Spec: r.spec, Attempt: r.attempt, ErrorKind: kind,
			Errors: []string{errorText(m.Err)}, WillRetry: true})
	case *providerResult:
		if m.ID != r.nextID || r.done {
			return
		}
		r.answered(c, m)
	}
}

// ask sends the conversation so far to the provider actor; it replies to c.Self().
func (r *callRun) ask(c actor.Context) {
	r.attempt++
	r.nextID = r.tag | uint64(uint32(r.attempt))
	hints := r.spec.Hints
	hints.CallKind, hints.ModelKey, hints.Attempt = string(r.spec.Kind), r.spec.Model.Key, r.attempt
	req := &llm.Request{
		Model: r.spec.Model.UpstreamModel, System: r.spec.Prompt.System,
		Messages: append([]llm.Message(nil), r.messages...), Schema: r.spec.Schema, SchemaName: r.spec.SchemaName,
		MaxTokens: r.spec.MaxTokens, Temperature: 0, Hints: &hints,
	}
	r.report(&callStarted{Spec: r.spec, Attempt: r.attempt})
	c.Send(r.spec.Provider, &providerCall{ID: r.nextID, Ctx: r.ctx, Req: req, ReplyTo: c.Self(), Key: r.spec.Key})
}

// answered handles the provider's final answer for the current attempt.
func (r *callRun) answered(c actor.Context, m *providerResult) {
	if m.Err != nil {
		code := errorCode(m.Err)
		if code == enricher.CodeCancelled {
			r.finish(false, nil, code, "cancelled")
			return
		}
		msg := errorText(m.Err)
		r.report(&callAttemptFailed{Spec: r.spec, Attempt: r.attempt, ErrorKind: code, Errors: []string{msg}})
		r.finish(false, nil, code, msg)
		return
	}
	resp := m.Resp
	price := r.spec.Model.Cost
	if m.Batch { // answered through the vendor's batch API, at its batch price
		price = r.spec.Model.BatchCost
	}
	cost := price(resp.Usage.InputTokens+resp.Usage.CacheReadTokens, resp.Usage.OutputTokens)
	text := resp.Text
	entry := enricher.Attempt{
		Attempt: r.attempt, RawResponse: &text, ValidationErrors: []string{},
		InputTokens: resp.Usage.InputTokens + resp.Usage.CacheReadTokens, OutputTokens: resp.Usage.OutputTokens,
		CostUSD: cost, ProcessingTimeMS: m.Elapsed.Milliseconds(),
	}
	r.call.RawResponse = &text
	r.call.InputTokens += entry.InputTokens
	r.call.OutputTokens += entry.OutputTokens
	r.call.CostUSD += cost
	r.call.Attempts = r.attempt
	r.observer().LLMUsage(r.spec.Model.Key, entry.InputTokens, entry.OutputTokens, cost)
	out, problems := r.spec.Check(text)
	if len(problems) == 0 {
		r.call.AttemptLog = append(r.call.AttemptLog, entry)
		r.finish(true, out, "", "")
		return
	}
	kind := enricher.CodeValidationFailed
	entry.ValidationErrors, entry.ErrorKind = problems, &kind
	r.call.AttemptLog = append(r.call.AttemptLog, entry)
	r.problems = problems
	retry := r.attempt < r.spec.MaxAttempts
	r.report(&callAttemptFailed{Spec: r.spec, Attempt: r.attempt, ErrorKind: kind, Errors: problems, WillRetry: retry, Answer: &entry})
	if !retry {
		shown := problems
		if len(shown) > 20 {
			shown = shown[:20]
		}
		r.finish(false, nil, kind, fmt.Sprintf("no valid answer after %d attempts: %s", r.attempt, strings.Join(shown, "; ")))
		return
	}
	r.observer().ValidationRetry(r.spec.Model.Key)
	r.messages = append(r.messages, llm.Message{Role: "assistant", Content: text},
		llm.Message{Role: "user", Content: enricher.CorrectionPrompt(problems)})
	r.ask(c)
}

// finish reports the call's result; the run does nothing after it.
func (r *callRun) finish(ok bool, out any, code, msg string) {
	r.done = true
	r.call.Success = ok
	r.call.ProcessingTimeMS = r.spec.Now().Sub(r.started).Milliseconds()
	if r.problems != nil && !ok {
		r.call.ValidationErrors = r.problems
	}
	if ok {
		if b, err := encodeJSON(out); err == nil {
			r.call.StructuredOutput = b
		}
	} else {
		r.call.ErrorCode, r.call.ErrorMessage = &code, &msg
	}
	r.report(&callResult{Spec: r.spec, Success: ok, Output: out, Code: code, Message: msg, Call: r.call})
}

func (r *callRun) observer() Observer {
	if r.spec.Observer == nil {
		return nopObserver{}
	}
	return r.spec.Observer
}

// expertiseActor hosts one callRun for a parent that does not run the call itself (a job
// actor's classification, a fusion actor's arbitration, a schema job): it sends the run's
// messages to its parent and stops itself after the callResult. Stopping it aborts the request
// in flight.
type expertiseActor struct {
	spec *callSpec
	run  *callRun
}

func newExpertiseActor(spec *callSpec) actor.Producer {
	return func() actor.Actor { return &expertiseActor{spec: spec} }
}

func (a *expertiseActor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.run = newCallRun(a.spec, 1, func(msg any) {
			c.Send(c.Parent(), msg)
			if _, ok := msg.(*callResult); ok {
				c.Stop(c.Self())
			}
		})
		a.run.start(c)
	case *actor.Stopping:
		if a.run != nil {
			a.run.abort()
		}
	case *providerRetry, *providerResult:
		a.run.reply(c, m)
	}
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
