// Package openai is the llm.Provider for the OpenAI Chat Completions wire protocol
// (POST {BaseURL}/chat/completions), used by OpenAI itself and by the OpenAI-compatible
// servers: DeepSeek, Ollama (/v1), vLLM and llama.cpp.
//
// Structured output: in ModeJSONSchema the answer schema is sent as a strict
// `response_format: {"type":"json_schema"}` after translation to OpenAI's strict subset
// (strictSchema); a schema that does not fit, and every schema in ModeJSONObject (DeepSeek),
// is sent as `{"type":"json_object"}` with the schema appended to the system prompt, which
// then also contains the word "json" that json_object mode requires.
//
// Responses: the text is choices[0].message.content, StopReason its finish_reason. Usage:
// InputTokens = prompt_tokens − cached tokens, CacheReadTokens = the cached tokens
// (prompt_tokens_details.cached_tokens, or DeepSeek's prompt_cache_hit_tokens),
// CacheWriteTokens = prompt_tokens_details.cache_write_tokens (informational: those tokens
// are also counted in InputTokens). A refusal (message.refusal) or a content_filter stop is
// a bad_request (the same prompt would be refused again); an empty or blank answer
// (DeepSeek's documented failure mode) is a server_error, so the call is retried.
//
// Errors: 402 and insufficient_quota bodies → quota_exhausted; code context_length_exceeded
// or a 400/413/422 about the context window → context_length_exceeded; 429 → rate_limited;
// 401/403 → auth_failed; 404 or code model_not_found → model_not_found; 408 → timeout;
// 503/529 → overloaded; other 5xx → server_error; other 4xx → bad_request. Retryable kinds
// carry the wait from retry-after-ms, retry-after, or x-ratelimit-reset-*. Network failures
// are server_error, the deadline timeout, a cancelled context cancelled. Messages are the
// vendor's; the API key appears only in the Authorization header.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
)

// Mode selects how the answer schema is sent.
type Mode string

// The modes.
const (
	// ModeJSONSchema sends a strict json_schema response format when the schema fits
	// (OpenAI, Ollama, vLLM, llama.cpp), else falls back to ModeJSONObject.
	ModeJSONSchema Mode = "json_schema"
	// ModeJSONObject sends {"type":"json_object"} and the schema in the system prompt
	// (DeepSeek).
	ModeJSONObject Mode = "json_object"
)

// Defaults of Config.
const (
	DefaultConnectTimeout   = vendorhttp.DefaultConnectTimeout
	DefaultTimeout          = vendorhttp.DefaultTimeout
	DefaultMaxResponseBytes = vendorhttp.DefaultMaxResponseBytes
	DefaultMaxConns         = vendorhttp.DefaultMaxConns
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API root, e.g. "https://api.openai.com/v1" or
	// "https://api.deepseek.com"; "/chat/completions" is appended. Required.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>"; empty sends no Authorization header
	// (Ollama). It is never logged or put into an error.
	APIKey string
	// Mode selects the structured-output mechanism. Default ModeJSONSchema.
	Mode Mode
	// LegacyMaxTokens sends the answer cap as max_tokens (compatible servers) instead of
	// max_completion_tokens (OpenAI).
	LegacyMaxTokens bool
	// Options are the HTTP limits: connect, first-byte and total timeouts, response size
	// cap and connections per host (vendorhttp.Options; zero fields take its defaults).
	vendorhttp.Options
}

// withDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	c.Options = c.Options.WithDefaults()
	if c.Mode == "" {
		c.Mode = ModeJSONSchema
	}
	return c
}

// Client is an llm.Provider speaking OpenAI Chat Completions. It is safe for concurrent use
// and reuses connections; it holds no state between calls besides its connection pool.
type Client struct {
	cfg  Config
	base string // BaseURL without a trailing slash
	url  string
	auth string
	http *vendorhttp.Client
	// batches makes the batch API's calls, whose answers may hold a whole batch's results.
	batches *vendorhttp.Client
	now     func() time.Time
	// schemas keeps the forms of the answer schemas sent so far (an engine sends the same
	// few with every call).
	schemas enricher.Memo[schemaForms]
}

var _ llm.Provider = (*Client)(nil)

// schemaForms is what a request takes of an answer schema: its strict-mode translation, or,
// when it does not fit strict mode or the client is in ModeJSONObject (strict nil), its
// compact text for the system prompt.
type schemaForms struct {
	strict  json.RawMessage
	compact string
}

// schemaForms derives the forms of schema; an error when it is not JSON.
func (c *Client) schemaForms(schema []byte) (schemaForms, error) {
	if c.cfg.Mode == ModeJSONSchema {
		if strict, err := strictSchema(schema); err == nil {
			return schemaForms{strict: strict}, nil
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, schema); err != nil {
		return schemaForms{}, fmt.Errorf("schema is not JSON: %w", err)
	}
	return schemaForms{compact: compact.String()}, nil
}

// New returns a Client for cfg, or an error naming the bad field.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	base := strings.TrimRight(cfg.BaseURL, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, errors.New("openai: BaseURL must be an http or https URL")
	}
	if cfg.Mode != ModeJSONSchema && cfg.Mode != ModeJSONObject {
		return nil, fmt.Errorf("openai: unknown Mode %q", cfg.Mode)
	}
	if cfg.ConnectTimeout < 0 || cfg.FirstByteTimeout < 0 || cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 || cfg.MaxConns < 0 {
		return nil, errors.New("openai: timeouts and limits must not be negative")
	}
	hc, err := vendorhttp.New(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	bc, err := vendorhttp.New(cfg.Options.ForBatches())
	if err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	c := &Client{cfg: cfg, base: base, url: base + "/chat/completions", http: hc, batches: bc, now: time.Now}
	if cfg.APIKey != "" {
		c.auth = "Bearer " + cfg.APIKey
	}
	return c, nil
}

// Complete sends req and returns the answer, or an *llm.Error.
func (c *Client) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	body, err := c.requestBody(req)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindBadRequest, Message: err.Error(), Err: err}
	}
	hreq, hresp := c.newRequest(fasthttp.MethodPost, c.url)
	hreq.Header.SetContentType("application/json")
	hreq.SetBodyRaw(body)

	if err := c.http.Do(ctx, hreq, hresp); err != nil {
		return nil, err
	}
	status := hresp.StatusCode()
	if status < 200 || status > 299 {
		return nil, statusError(status, hresp.Body(), func(name string) string {
			return string(hresp.Header.Peek(name))
		}, c.now())
	}
	resp, err := parseResponse(hresp.Body())
	if err == nil {
		resp.RateLimit = rateLimit(func(name string) string { return string(hresp.Header.Peek(name)) })
	}
	return resp, err
}

// newRequest returns a request of method to url with the Accept and Authorization headers set,
// and a response to read it into.
func (c *Client) newRequest(method, url string) (*fasthttp.Request, *fasthttp.Response) {
	hreq := &fasthttp.Request{}
	hreq.SetRequestURI(url)
	hreq.Header.SetMethod(method)
	hreq.Header.Set("Accept", "application/json")
	if c.auth != "" {
		hreq.Header.Set("Authorization", c.auth)
	}
	return hreq, &fasthttp.Response{}
}

// rateLimit reads x-ratelimit-remaining-requests with x-ratelimit-reset-requests, and
// x-ratelimit-remaining-tokens with x-ratelimit-reset-tokens; nil unless one pair is there
// and valid.
func rateLimit(h header) *llm.RateLimit {
	pair := func(budget string) (int, time.Duration, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(h("x-ratelimit-remaining-" + budget)))
		reset := resetDuration(h("x-ratelimit-reset-" + budget))
		return n, reset, err == nil && n >= 0 && reset > 0
	}
	return llm.RateLimitOf(pair)
}

// schemaNamePattern is what OpenAI accepts as response_format.json_schema.name.
var schemaNameInvalid = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// jsonInstruction introduces the schema appended to the system prompt in json_object mode; it
// contains the lower-case word "json" that DeepSeek requires.
const jsonInstruction = "\n\nReply with a single json object, without prose or code fences, that conforms to this JSON Schema:\n"

// requestBody returns the wire body of req. req.Hints are never sent.
func (c *Client) requestBody(req *llm.Request) ([]byte, error) {
	if req.Model == "" {
		return nil, errors.New("model is empty")
	}
	if len(req.Messages) == 0 {
		return nil, errors.New("no messages")
	}
	w := chatRequest{Model: req.Model, Temperature: req.Temperature}
	if c.cfg.LegacyMaxTokens {
		w.MaxTokens = req.MaxTokens
	} else {
		w.MaxCompletionTokens = req.MaxTokens
	}
	system := req.System
	if len(req.Schema) > 0 {
		forms, err := c.schemas.Get(req.Schema, c.schemaForms)
		if err != nil {
			return nil, err
		}
		if forms.strict != nil {
			w.ResponseFormat = &responseFormat{Type: "json_schema", JSONSchema: &jsonSchemaFormat{
				Name: schemaName(req.SchemaName), Strict: true, Schema: forms.strict}}
		} else {
			w.ResponseFormat = &responseFormat{Type: "json_object"}
			system += jsonInstruction + forms.compact
		}
	}
	if system != "" {
		w.Messages = append(w.Messages, chatMessage{Role: "system", Content: system})
	}
	for _, m := range req.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Errorf("message role %q is not user or assistant", m.Role)
		}
		w.Messages = append(w.Messages, chatMessage{Role: m.Role, Content: m.Content})
	}
	return json.Marshal(w)
}

// schemaName returns name in OpenAI's [a-zA-Z0-9_-]{1,64} form; "answer" when empty.
func schemaName(name string) string {
	name = schemaNameInvalid.ReplaceAllString(name, "_")
	if len(name) > 64 {
		name = name[:64]
	}
	if strings.Trim(name, "_") == "" {
		return "answer"
	}
	return name
}

// parseResponse reads a successful body, which may start with DeepSeek's blank keep-alive
// lines.
func parseResponse(body []byte) (*llm.Response, error) {
	var w chatResponse
	if err := json.Unmarshal(bytes.TrimSpace(body), &w); err != nil {
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "response is not valid JSON: " + err.Error(), Err: err}
	}
	if len(w.Choices) == 0 {
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "response has no choices"}
	}
	ch := w.Choices[0]
	if ch.Message.Refusal != nil && *ch.Message.Refusal != "" {
		return nil, &llm.Error{Kind: llm.KindBadRequest, Status: 200, Message: "model refused: " + *ch.Message.Refusal}
	}
	text := ""
	if ch.Message.Content != nil {
		text = *ch.Message.Content
	}
	if strings.TrimSpace(text) == "" {
		if ch.FinishReason == "content_filter" {
			return nil, &llm.Error{Kind: llm.KindBadRequest, Status: 200, Message: "answer withheld by the content filter"}
		}
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "empty answer (finish_reason " + ch.FinishReason + ")"}
	}
	return &llm.Response{Text: text, Usage: usageOf(w.Usage), StopReason: ch.FinishReason}, nil
}

// usageOf converts the usage block; cached tokens are moved out of InputTokens.
func usageOf(u *chatUsage) llm.Usage {
	if u == nil {
		return llm.Usage{}
	}
	cached, written := u.PromptCacheHitTokens, 0
	if d := u.PromptTokensDetails; d != nil {
		cached = max(cached, d.CachedTokens)
		written = d.CacheWriteTokens
	}
	cached = min(cached, u.PromptTokens)
	return llm.Usage{
		InputTokens:      u.PromptTokens - cached,
		OutputTokens:     u.CompletionTokens,
		CacheReadTokens:  cached,
		CacheWriteTokens: written,
	}
}
