// Package sim is the built-in simulated LLM provider. It answers in-process,
// without network, for tests, demos and benchmarks, and goes through the same seam as real
// providers (llm.Provider), so the engine applies its concurrency cap, retries, validation,
// cost and records to it unchanged; only the answer is made up.
//
// Every answer, fault and latency is a pure function of (seed, model key, canonical entity
// JSON, field path, language, call kind, validation attempt, transport try): the same request
// gives the same response. The provider keeps no state between calls beyond its Config and is
// safe for concurrent use.
//
// Call metadata comes from llm.Request.Hints. Enrichment answers are generated from the
// request's answer schema (Request.Schema); the other call kinds (classification, arbitration,
// schema_generation, schema_edit) read what they need from the hints.
//
// Agreement: each leaf has a consensus value derived without the model key; a model deviates
// (its own value, derived with the model key) when hash(model, entity, path) mod 100 <
// 100 × disagreement. Values do not depend on the attempt or the try, so a retried call gives
// the same values and models on different attempts still agree. Each model deviates on about
// `disagreement` of the leaves, so two models conflict on about 1-(1-d)² of them (51 % at the
// default 0.3).
//
// Faults are drawn once per (attempt, try) from the profile's probabilities, or directed by
// the entity's _sim object. A directive's fail_attempts counts validation attempts
// (Hints.Attempt) for the content faults malformed_json and schema_invalid, and transport
// tries of the current attempt (Hints.Try) for rate_limited, server_error, timeout (and the
// directive-only overloaded and bad_request). Transport faults return no answer and cost
// nothing; content faults return a billed answer that fails validation.
package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	enricher "github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// DefaultDisagreement is the share of leaves on which a sim model deviates from the consensus
// value when Config.Disagreement is zero.
const DefaultDisagreement = 0.3

// The call kinds of llm.Hints.CallKind that the simulator understands.
const (
	KindEnrichment       = "enrichment"
	KindClassification   = "classification"
	KindArbitration      = "arbitration"
	KindSchemaGeneration = "schema_generation"
	KindSchemaEdit       = "schema_edit"
)

// Config configures a Provider. The zero value is usable: seed 0, the built-in profiles,
// disagreement 0.3 and a real timer.
type Config struct {
	// Seed is ENRICHER_SIM_SEED; it enters every hash (default 0).
	Seed int64
	// Profiles maps the model name after "sim::" ("fast") to its profile. Nil means
	// BuiltinProfiles(); a non-nil map is used as given (callers merge overrides first).
	Profiles map[string]Profile
	// Disagreement is the share (0..1) of leaves where a model deviates from the consensus
	// value. Zero means DefaultDisagreement; a negative value means models always agree.
	Disagreement float64
	// Sleep waits d or until ctx is done, returning ctx.Err() in that case. Nil means a timer
	// honouring ctx. Tests inject a recorder so that no test really sleeps.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the rate-limited models' windows (Profile.RPM). Nil means time.Now.
	Now func() time.Time
}

// Provider is the sim provider and its batch API (llm.Batcher, batch.go). It is immutable
// after New, except the request windows of its rate-limited models and its batches (each
// with its own mutex), and safe for concurrent use.
type Provider struct {
	accounts  *accounts
	batches   *batches
	seed      int64
	profiles  map[string]Profile
	threshold uint64 // 100 × disagreement, rounded
	sleep     func(ctx context.Context, d time.Duration) error
	schemas   enricher.Memo[*node] // parsed answer schemas
}

var _ llm.Provider = (*Provider)(nil)

// New returns a Provider for cfg, with the defaults of Config filled in. The profiles map is
// copied, so later changes to cfg do not affect the provider.
func New(cfg Config) *Provider {
	p := &Provider{seed: cfg.Seed, sleep: cfg.Sleep, profiles: map[string]Profile{}, accounts: newAccounts(cfg.Now),
		batches: newBatches(cfg.Now)}
	profiles := cfg.Profiles
	if profiles == nil {
		profiles = BuiltinProfiles()
	}
	for k, v := range profiles {
		p.profiles[k] = v
	}
	d := cfg.Disagreement
	switch {
	case d == 0:
		d = DefaultDisagreement
	case d < 0:
		d = 0
	case d > 1:
		d = 1
	}
	p.threshold = uint64(math.Round(d * 100))
	if p.sleep == nil {
		p.sleep = timerSleep
	}
	return p
}

// timerSleep waits d or until ctx is done.
func timerSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call is one request with its hints resolved and its hash prefixes computed.
type call struct {
	req       *llm.Request
	hints     *llm.Hints // never nil
	kind      string
	model     string // model key, "sim::<name>"
	attempt   int
	try       int
	dir       directive
	consensus uint64  // hash of (seed, kind, subject): values without the model key
	own       uint64  // hash of (seed, kind, model, subject): values with the model key
	perTry    uint64  // hash of own + (attempt, try): faults and jitter
	nullRate  float64 // the model's Profile.NullRate
}

// Complete answers req. req.Model is the model name after "sim::" (a full "sim::" key is
// accepted too). Errors: *llm.Error with KindBadRequest for an unknown model or call
// kind; the transport faults (*llm.Error with KindRateLimited, KindServerError,
// KindTimeout, or KindOverloaded/KindBadRequest when a directive asks for them); ctx.Err()
// when ctx ends before the answer. Content faults (malformed_json, schema_invalid) return a
// response whose Text is bad, as a real model would.
func (p *Provider) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, prof, resp, fault, err := p.respond(req)
	if err != nil {
		return nil, err
	}
	text := ""
	if resp != nil {
		text = resp.Text
	}
	// the account charges the tokens the answer reports (none for a transport fault's output)
	budget, err := p.accounts.admit(req.Model, prof, tokens(promptBytes(req))+tokens(len(text)))
	if err != nil {
		return nil, err
	}
	if err := transportError(fault); err != nil {
		if fault == FaultTimeout && prof.TimeoutMS > 0 {
			if serr := p.sleep(ctx, time.Duration(prof.TimeoutMS)*time.Millisecond); serr != nil {
				return nil, serr
			}
		}
		return nil, err
	}
	if d := latency(c, prof, resp.Usage.OutputTokens); d > 0 {
		if err := p.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	resp.RateLimit = budget
	return resp, nil
}

// respond draws the fault of req and builds its answer, as Complete and the batch results
// answer it, without the account, the latency or a timeout's wait. resp is nil when fault is a
// transport fault (transportError); err is a request the simulator refuses (unknown model,
// call kind or entity).
func (p *Provider) respond(req *llm.Request) (c *call, prof Profile, resp *llm.Response, fault string, err error) {
	prof, ok := p.profiles[strings.TrimPrefix(req.Model, "sim::")]
	if !ok {
		return nil, prof, nil, "", &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: fmt.Sprintf("unknown sim model %q", req.Model)}
	}
	if c, err = p.newCall(req); err != nil {
		return nil, prof, nil, "", err
	}
	c.nullRate = prof.NullRate
	fault = p.chooseFault(c, prof)
	if transportError(fault) != nil {
		return c, prof, nil, fault, nil
	}
	text, err := p.answer(c, fault)
	if err != nil {
		return nil, prof, nil, "", err
	}
	stop := "end_turn"
	if fault == FaultMalformedJSON {
		text = truncate(text)
		stop = "max_tokens"
	}
	return c, prof, &llm.Response{
		Text:       text,
		Usage:      llm.Usage{InputTokens: tokens(promptBytes(req)), OutputTokens: tokens(len(text))},
		StopReason: stop,
	}, fault, nil
}

// newCall resolves req's hints. Without hints the call is an enrichment whose subject is the
// conversation, attempt 1, try 1.
func (p *Provider) newCall(req *llm.Request) (*call, error) {
	h := req.Hints
	if h == nil {
		h = &llm.Hints{CallKind: KindEnrichment}
	}
	c := &call{req: req, hints: h, kind: h.CallKind, model: h.ModelKey, attempt: max(h.Attempt, 1), try: max(h.Try, 1)}
	if c.kind == "" {
		c.kind = KindEnrichment
	}
	if c.model == "" {
		c.model = "sim::" + strings.TrimPrefix(req.Model, "sim::")
	}
	dirObj := h.Directive
	entity := h.Entity
	if raw, ok := entity["_sim"]; ok {
		// Defensive: the engine strips _sim, but a caller that forgot must not change answers.
		if dirObj == nil {
			dirObj, _ = raw.(map[string]any)
		}
		entity = without(entity, "_sim")
	}
	c.dir = parseDirective(dirObj)

	var subject []byte
	var err error
	switch c.kind {
	case KindEnrichment, KindClassification, KindArbitration:
		if entity == nil && req.Hints == nil {
			subject = conversation(req)
		} else {
			subject, err = canonical(entity)
		}
	case KindSchemaGeneration:
		subject, err = canonical(h.Sample)
	case KindSchemaEdit:
		subject = []byte(h.Schema)
		if cs, cerr := enricher.CanonicalJSON(h.Schema); cerr == nil {
			subject = cs
		}
		subject = append(append([]byte(h.Prompt), 0), subject...)
	default:
		return nil, &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: fmt.Sprintf("sim: unknown call kind %q", c.kind)}
	}
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: "sim: entity is not JSON", Err: err}
	}
	base := addInt(hashOffset, p.seed)
	base = addPart(base, c.kind)
	c.consensus = addPart(addBytes(base, subject), "")
	c.own = addPart(addBytes(addPart(base, c.model), subject), "")
	c.perTry = addInt(addInt(c.own, int64(c.attempt)), int64(c.try))
	return c, nil
}

// answer builds the answer text of c, applying the content fault when there is one.
func (p *Provider) answer(c *call, fault string) (string, error) {
	switch c.kind {
	case KindEnrichment:
		return p.enrichment(c, fault == FaultSchemaInvalid)
	case KindClassification:
		return finishDoc(c, classification(c, fault == FaultClassificationMismatch), fault)
	case KindArbitration:
		return finishDoc(c, arbitration(c), fault)
	case KindSchemaGeneration:
		return finishDoc(c, generation(c), fault)
	default:
		return finishDoc(c, edit(c), fault)
	}
}

// finishDoc marshals an answer document, first giving one of its properties a wrong type when
// fault is schema_invalid.
func finishDoc(c *call, d doc, fault string) (string, error) {
	if fault == FaultSchemaInvalid && len(d) > 0 {
		i := int(mix(c.perTry, saltCorrupt) % uint64(len(d)))
		d[i].v = wrongFor(d[i].v)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: "sim: cannot encode answer", Err: err}
	}
	return string(b), nil
}

// truncate cuts an answer in the middle, so that it is no longer a complete JSON value.
func truncate(s string) string {
	if len(s) < 2 {
		return "{"
	}
	return s[:len(s)/2]
}

// latency is the simulated duration of a call: the directive's latency_ms when set, otherwise
// base + ms_per_output_token × output tokens, scaled by a deterministic factor in
// [1-jitter, 1+jitter].
func latency(c *call, prof Profile, outTokens int) time.Duration {
	if c.dir.latencyMS >= 0 {
		return time.Duration(c.dir.latencyMS) * time.Millisecond
	}
	ms := float64(prof.BaseLatencyMS) + prof.MSPerOutputToken*float64(outTokens)
	if prof.Jitter > 0 {
		u := unit(mix(c.perTry, saltJitter))
		ms *= 1 + prof.Jitter*(2*u-1)
	}
	if ms <= 0 {
		return 0
	}
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// tokens is ceil(n / 4).
func tokens(n int) int { return (n + 3) / 4 }

// promptBytes counts the bytes of the system prompt and of every message.
func promptBytes(req *llm.Request) int {
	n := len(req.System)
	for _, m := range req.Messages {
		n += len(m.Content)
	}
	return n
}

// conversation is the subject of a call without hints: its messages.
func conversation(req *llm.Request) []byte {
	var b []byte
	for _, m := range req.Messages {
		if m.Role == "user" {
			return append(b, m.Content...)
		}
	}
	return b
}

// canonical returns the canonical JSON of v.
func canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return enricher.CanonicalJSON(b)
}

// without returns a copy of m without key.
func without(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// FNV-1a 64 over the parts of a call, with a SplitMix64 finaliser for well-spread bits.
const (
	hashOffset uint64 = 14695981039346656037
	hashPrime  uint64 = 1099511628211
)

// Salts that separate the values derived from one hash state.
const (
	saltValue uint64 = iota + 1
	saltDeviate
	saltFault
	saltJitter
	saltCorrupt
	saltNull
)

func addString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= hashPrime
	}
	return h
}

func addBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= hashPrime
	}
	return h
}

// addPart adds s followed by a separator byte that cannot occur in UTF-8 text.
func addPart(h uint64, s string) uint64 {
	h = addString(h, s)
	h ^= 0xff
	return h * hashPrime
}

func addInt(h uint64, v int64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= uint64(byte(v >> (8 * i)))
		h *= hashPrime
	}
	return h
}

// mix finalises hash state h for the use named by salt.
func mix(h, salt uint64) uint64 {
	z := h ^ (salt * 0x9E3779B97F4A7C15)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
