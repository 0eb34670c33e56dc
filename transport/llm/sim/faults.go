package sim

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// Fault names, as used in Profile.Faults and in the `fail` field of an entity's _sim
// directive.
//
// Transport faults (rate_limited, server_error, timeout, and the directive-only overloaded and
// bad_request) make Complete return an *llm.Error; the engine retries them as transport tries.
// Content faults (malformed_json, schema_invalid) return a response with a bad answer; the
// engine's validation loop asks again, as a new attempt. classification_mismatch only affects
// classification calls, whose answer then has status "mismatch".
const (
	FaultRateLimited            = "rate_limited"
	FaultServerError            = "server_error"
	FaultTimeout                = "timeout"
	FaultMalformedJSON          = "malformed_json"
	FaultSchemaInvalid          = "schema_invalid"
	FaultClassificationMismatch = "classification_mismatch"
	FaultOverloaded             = "overloaded"  // directive only: 529
	FaultBadRequest             = "bad_request" // directive only: 400, never retried
)

// faultOrder is the order in which profile probabilities are stacked on one draw.
var faultOrder = []string{
	FaultRateLimited, FaultServerError, FaultTimeout,
	FaultMalformedJSON, FaultSchemaInvalid, FaultClassificationMismatch,
}

// Profile is the behaviour of one sim model: its latency and its fault
// probabilities. Faults maps a fault name to its probability per attempt and try (0..1; the
// sum should stay at or below 1). TimeoutMS is how long a timeout fault waits before failing.
//
// The JSON names are those of the models file (`"sim": {"base_latency_ms": 5000}`).
// Unmarshalling a file entry onto a copy of an existing profile overrides only the fields the
// entry gives (fault probabilities are merged key by key), which is how the models file tunes
// the built-in sim models.
type Profile struct {
	BaseLatencyMS    int                `json:"base_latency_ms"`
	MSPerOutputToken float64            `json:"ms_per_output_token"`
	Jitter           float64            `json:"jitter"`
	TimeoutMS        int                `json:"timeout_ms"`
	Faults           map[string]float64 `json:"faults,omitempty"`
	// RPM makes the model a rate-limited account: at most RPM requests per window of WindowMS
	// (default 60000, a minute); past it a request is answered 429 with Retry-After until the
	// window ends (ratelimit.go). 0: no limit.
	RPM      int `json:"rpm,omitempty"`
	WindowMS int `json:"window_ms,omitempty"`
	// TPM (tokens per minute), or Refill "continuous", makes the account a token bucket
	// instead of fixed windows: RPM and TPM each hold a minute's worth and refill
	// continuously (over WindowMS when set, else a minute); a request is refused while either
	// is short (ratelimit.go). Refill is
	// "window" (the default without TPM) or "continuous" (the default with TPM).
	TPM    int    `json:"tpm,omitempty"`
	Refill string `json:"refill,omitempty"`
	// NoRetryAfter sends the 429s without Retry-After and the answers without budget reports,
	// so that the refusal is a client's only signal.
	NoRetryAfter bool `json:"no_retry_after,omitempty"`
	// NullRate is the share (0..1) of nullable leaves the model answers null, drawn per
	// model, entity and path (hash(model, entity, path)), so models miss different fields:
	// a cheap model that knows less. 0 keeps the default: about 10 % of nullable leaves are
	// null, decided by the leaf's value, so models that agree on a value agree on its null too.
	// A negative value means never null.
	NullRate float64 `json:"null_rate,omitempty"`
	// BatchDelayMS is how long a batch of this model runs before it ends (Provider's
	// llm.Batcher); 0 means DefaultBatchDelay.
	BatchDelayMS int `json:"batch_delay_ms,omitempty"`
}

// BuiltinProfiles returns a fresh copy of the profiles of the three built-in sim models, keyed
// by model name: "fast", "realistic" and "flaky". Only flaky has a timeout_ms (2000);
// realistic uses 2000 too and fast 0 (a directed timeout fails at once).
func BuiltinProfiles() map[string]Profile {
	return map[string]Profile{
		"fast":      {},
		"realistic": {BaseLatencyMS: 600, MSPerOutputToken: 20, Jitter: 0.25, TimeoutMS: 2000},
		"flaky": {BaseLatencyMS: 150, MSPerOutputToken: 5, Jitter: 0.25, TimeoutMS: 2000,
			Faults: map[string]float64{
				FaultRateLimited:            0.08,
				FaultServerError:            0.05,
				FaultTimeout:                0.02,
				FaultMalformedJSON:          0.08,
				FaultSchemaInvalid:          0.10,
				FaultClassificationMismatch: 0.05,
			}},
	}
}

// isTransport reports whether fault makes the call fail without an answer.
func isTransport(fault string) bool {
	switch fault {
	case FaultRateLimited, FaultServerError, FaultTimeout, FaultOverloaded, FaultBadRequest:
		return true
	}
	return false
}

// knownFault reports whether a directive may name fault.
func knownFault(fault string) bool {
	return isTransport(fault) || fault == FaultMalformedJSON || fault == FaultSchemaInvalid ||
		fault == FaultClassificationMismatch
}

// transportError is the error of a transport fault, nil for any other fault.
func transportError(fault string) error {
	switch fault {
	case FaultRateLimited:
		return &llm.Error{Kind: llm.KindRateLimited, Status: 429, RetryAfter: time.Second, Message: "sim: rate limited"}
	case FaultServerError:
		return &llm.Error{Kind: llm.KindServerError, Status: 500, Message: "sim: internal server error"}
	case FaultTimeout:
		return &llm.Error{Kind: llm.KindTimeout, Message: "sim: request timed out"}
	case FaultOverloaded:
		return &llm.Error{Kind: llm.KindOverloaded, Status: 529, Message: "sim: overloaded"}
	case FaultBadRequest:
		return &llm.Error{Kind: llm.KindBadRequest, Status: 400, Message: "sim: bad request"}
	}
	return nil
}

// directive is the parsed _sim object of an entity. latencyMS is -1 when not set.
type directive struct {
	fail           string
	failAttempts   int
	failModels     []string // nil: every sim model
	classification string
	latencyMS      int
}

// parseDirective reads a _sim object leniently: unknown fields, unknown fault kinds and
// values of the wrong type are ignored.
func parseDirective(m map[string]any) directive {
	d := directive{failAttempts: 1, latencyMS: -1}
	if m == nil {
		return d
	}
	if s, ok := m["fail"].(string); ok && knownFault(s) {
		d.fail = s
	}
	if n, ok := number(m["fail_attempts"]); ok {
		d.failAttempts = n
	}
	if list, ok := m["fail_models"].([]any); ok {
		d.failModels = []string{}
		for _, v := range list {
			if s, ok := v.(string); ok {
				d.failModels = append(d.failModels, s)
			}
		}
	} else if list, ok := m["fail_models"].([]string); ok {
		d.failModels = list
	}
	switch s, _ := m["classification"].(string); s {
	case "match", "mismatch", "ambiguous", "unknown":
		d.classification = s
	}
	if n, ok := number(m["latency_ms"]); ok && n >= 0 {
		d.latencyMS = n
	}
	return d
}

// number converts a decoded JSON number to an int.
func number(v any) (int, bool) {
	switch t := v.(type) {
	case float64:
		return int(math.Round(t)), true
	case int:
		return t, true
	case int64:
		return int(t), true
	case json.Number:
		f, err := t.Float64()
		return int(math.Round(f)), err == nil
	}
	return 0, false
}

// directed returns the directive's fault when it applies to this call. The directive's
// fail_attempts counts validation attempts (Hints.Attempt) for content faults and transport
// tries of the current attempt (Hints.Try) for transport faults, so that `"fail":
// "rate_limited", "fail_attempts": 1` costs one retry and a value above llm_retries+1 makes
// every attempt's call fail.
func (d directive) directed(c *call) string {
	if d.fail == "" || d.failModels != nil && !slices.Contains(d.failModels, c.model) {
		return ""
	}
	if d.fail == FaultClassificationMismatch && c.kind != KindClassification {
		return ""
	}
	n := c.attempt
	if isTransport(d.fail) {
		n = c.try
	}
	if n <= d.failAttempts {
		return d.fail
	}
	return ""
}

// chooseFault returns the fault of this call, "" for none: the directed one when it applies,
// otherwise one drawn with the profile's probabilities from a hash of (seed, model, entity,
// kind, attempt, try).
func (p *Provider) chooseFault(c *call, prof Profile) string {
	if f := c.dir.directed(c); f != "" {
		return f
	}
	if len(prof.Faults) == 0 {
		return ""
	}
	u := unit(mix(c.perTry, saltFault))
	acc := 0.0
	for _, f := range faultOrder {
		pr := prof.Faults[f]
		if pr <= 0 || f == FaultClassificationMismatch && c.kind != KindClassification {
			continue
		}
		acc += pr
		if u < acc {
			return f
		}
	}
	return ""
}
