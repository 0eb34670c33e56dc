package llm

import (
	"context"
	"encoding/json"
	"time"
)

// Request is one call to a model. Providers must not modify it.
type Request struct {
	Model       string          // upstream model id (for sim: the part after "sim::")
	System      string          // system prompt
	Messages    []Message       // the conversation, first message from the user
	Schema      json.RawMessage // JSON Schema of the answer object; nil when free-form
	SchemaName  string          // a short name for the schema (some vendors want one)
	MaxTokens   int             // answer token cap
	Temperature float64
	Hints       *Hints // call metadata; real vendors ignore it, the simulator answers from it
}

// Message is one turn of the conversation.
type Message struct {
	Role    string // "user" or "assistant"
	Content string
}

// Hints describe a call for the simulator and for logs. Real adapters never send them.
type Hints struct {
	CallKind  string         // enrichment, classification, arbitration, schema_generation, schema_edit
	ModelKey  string         // e.g. "sim::fast"
	Entity    map[string]any // entity_data without the _sim directive
	Directive map[string]any // the entity's _sim object, nil when none
	Attempt   int            // validation attempt, 1-based
	Try       int            // transport try of this attempt, 1-based
	Languages []string
	RootName  string          // schema root entity name (classification, enrichment)
	Conflicts []Conflict      // arbitration: the conflicts to decide
	Sample    map[string]any  // schema_generation: the sample
	Schema    json.RawMessage // schema_edit: the current schema document
	Prompt    string          // schema_edit: the user's instruction
}

// Conflict is one field to arbitrate.
type Conflict struct {
	Path          string
	ValuesByModel map[string]any
}

// Usage is the token accounting of one response.
type Usage struct {
	InputTokens      int
	OutputTokens     int
	CacheReadTokens  int
	CacheWriteTokens int
}

// Response is a model's answer.
type Response struct {
	Text       string
	Usage      Usage
	StopReason string
	// RateLimit is the vendor's report of the account's request budget sent with the answer;
	// nil when it sent none.
	RateLimit *RateLimit
}

// RateLimit is what a vendor reports of an account's budgets with an answer: the requests
// left and the time until that budget refills (x-ratelimit-remaining-requests /
// x-ratelimit-reset-requests, anthropic-ratelimit-requests-remaining / -reset), and the
// same of tokens when reported. Reset is 0 (and RemainingRequests -1) when the vendor
// reported only tokens; Tokens is nil when it reported no tokens. The provider actor starts
// no new call while a reported budget is 0, until its reset has passed, unless the model has
// a budget of its own in the models file, which then takes the report (actors/budget.go).
type RateLimit struct {
	RemainingRequests int
	Reset             time.Duration
	Tokens            *TokenLimit
}

// RateLimitOf assembles what a vendor reported of an account's budgets: report returns, for
// budget "requests" and then "tokens", the amount left and the time until it refills, and
// whether the vendor reported that budget validly. Nil when it reported neither.
func RateLimitOf(report func(budget string) (remaining int, reset time.Duration, ok bool)) *RateLimit {
	rl := &RateLimit{RemainingRequests: -1}
	n, reset, reqOK := report("requests")
	if reqOK {
		rl.RemainingRequests, rl.Reset = n, reset
	}
	if n, reset, ok := report("tokens"); ok {
		rl.Tokens = &TokenLimit{Remaining: n, Reset: reset}
	}
	if !reqOK && rl.Tokens == nil {
		return nil
	}
	return rl
}

// TokenLimit is the token budget a vendor reports: the tokens left (x-ratelimit-remaining-
// tokens, anthropic-ratelimit-tokens-remaining) and the time until it refills
// (x-ratelimit-reset-tokens, anthropic-ratelimit-tokens-reset).
type TokenLimit struct {
	Remaining int
	Reset     time.Duration
}

// PromptTokens estimates the input tokens of req before it is sent: the bytes of the system
// prompt, the messages and the answer schema over 4, rounded up (the vendors' rule of thumb
// for English text and JSON; it over-counts languages with multi-byte characters, which is
// the safe side for a budget).
func PromptTokens(req *Request) int {
	n := len(req.System) + len(req.Schema)
	for _, m := range req.Messages {
		n += len(m.Content)
	}
	return (n + 3) / 4
}

// EstimateTokens is what a call may cost against a tokens-per-minute budget before it is
// sent: PromptTokens plus the answer cap asked (MaxTokens), as OpenAI counts a request
// against its TPM limit on admission. The provider actor reserves it and gives back the
// difference to the usage the answer reports.
func EstimateTokens(req *Request) int { return PromptTokens(req) + max(req.MaxTokens, 0) }

// Provider answers requests. Implementations are safe for concurrent use, honour ctx
// (returning ctx.Err() or an *Error of kind timeout/cancelled when it ends), and report
// failures as *Error with the kind that fits.
type Provider interface {
	Complete(ctx context.Context, req *Request) (*Response, error)
}
