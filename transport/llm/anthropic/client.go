// Package anthropic is the llm.Provider of the Anthropic Messages API (POST /v1/messages,
// Messages API). It asks for structured output through a forced tool: the answer schema is
// the input_schema of one tool, "record_answer", which tool_choice forces the model to call; the
// answer is the JSON of that tool_use block's input. Without a schema, the answer is the text of
// the response's text blocks. The calls are plain (not streamed) HTTPS requests made with
// fasthttp.
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
)

// ToolName is the name of the forced tool that carries the answer.
const ToolName = "record_answer"

// toolDescription is the description of the forced tool.
const toolDescription = "Record the complete answer. Call this tool exactly once; its input is the answer."

// The Config defaults.
const (
	DefaultBaseURL          = "https://api.anthropic.com"
	DefaultVersion          = "2023-06-01"
	DefaultConnectTimeout   = vendorhttp.DefaultConnectTimeout
	DefaultTimeout          = vendorhttp.DefaultTimeout
	DefaultMaxResponseBytes = vendorhttp.DefaultMaxResponseBytes
	DefaultMaxTokens        = 8192
	DefaultMaxConns         = vendorhttp.DefaultMaxConns
)

// The values of Config.AuthStyle.
const (
	AuthAPIKey = "x-api-key" // x-api-key: <key> (the documented header)
	AuthBearer = "bearer"    // Authorization: Bearer <key> (SDK v2, proxies)
)

// Config configures a Client. Zero fields take the defaults listed with them.
type Config struct {
	// BaseURL is the API root without /v1 (default DefaultBaseURL); a trailing slash is ignored.
	BaseURL string
	// APIKey is the credential. It is sent only in the auth header, never logged or returned in
	// an error. Empty: no auth header is sent (for keyless proxies).
	APIKey string
	// AuthStyle is AuthAPIKey (default) or AuthBearer.
	AuthStyle string
	// Version is the anthropic-version header (default DefaultVersion).
	Version string
	// MaxTokens is max_tokens when a Request has none (default 8192); the API requires it.
	MaxTokens int
	// NowFunc returns the current time, for HTTP-date Retry-After values (default time.Now).
	NowFunc func() time.Time
	// Options are the HTTP limits: connect, first-byte and total timeouts, response size
	// cap and connections per host (vendorhttp.Options; zero fields take its defaults).
	vendorhttp.Options
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.AuthStyle == "" {
		c.AuthStyle = AuthAPIKey
	}
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	c.Options = c.Options.WithDefaults()
	if c.MaxTokens == 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	return c
}

func (c Config) validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("anthropic: base URL %q is not an http(s) URL", c.BaseURL)
	}
	if c.AuthStyle != AuthAPIKey && c.AuthStyle != AuthBearer {
		return fmt.Errorf("anthropic: auth style %q is not %q or %q", c.AuthStyle, AuthAPIKey, AuthBearer)
	}
	if c.ConnectTimeout < 0 || c.FirstByteTimeout < 0 || c.Timeout < 0 || c.MaxResponseBytes < 0 ||
		c.MaxTokens < 0 || c.MaxConns < 0 {
		return errors.New("anthropic: timeouts and limits must not be negative")
	}
	return nil
}

// Client is an llm.Provider for the Anthropic Messages API. It holds one vendorhttp.Client
// (keep-alive connections are reused across calls) and is safe for concurrent use; it needs no
// Close (idle connections are closed after a while).
type Client struct {
	cfg      Config
	endpoint string
	http     *vendorhttp.Client
	batches  *vendorhttp.Client // the batch API's calls, whose answers may hold a whole batch's results
	// tools keeps the tool input schemas of the answer schemas sent so far (an engine sends
	// the same few with every call).
	tools enricher.Memo[toolInput]
}

// toolInput is the forced tool's input schema for an answer schema, and whether the answer
// is wrapped in an object (toolSchema).
type toolInput struct {
	schema  json.RawMessage
	wrapped bool
}

var _ llm.Provider = (*Client)(nil)

// New returns a Client for cfg (after WithDefaults). It fails when the base URL is not an
// http(s) URL, the auth style is unknown or a limit is negative.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hc, err := vendorhttp.New(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	bc, err := vendorhttp.New(cfg.Options.ForBatches())
	if err != nil {
		return nil, fmt.Errorf("anthropic: %w", err)
	}
	return &Client{cfg: cfg, endpoint: cfg.BaseURL + "/v1/messages", http: hc, batches: bc}, nil
}

// Complete sends req and returns the answer (llm.Provider). With req.Schema the answer is the
// JSON object the model passed to the forced tool; without, the concatenated text blocks.
// req.Hints is never sent. Failures are *llm.Error:
//   - HTTP errors as mapped by statusError (see errors.go), transport failures as server_error,
//     deadlines as timeout, ctx cancellation as cancelled (wrapping ctx.Err());
//   - stop_reason "max_tokens" with a schema (the tool input may be partial): bad_request, as
//     the same call would be cut again;
//   - stop_reason "refusal": bad_request;
//   - a 200 without the answer (no tool_use block with a schema, no text without one) or a body
//     that is not a Messages response: server_error, as a retry may succeed.
func (c *Client) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	body, forced, wrapped, err := c.encode(req)
	if err != nil {
		return nil, err
	}
	hreq := fasthttp.AcquireRequest()
	hresp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(hreq)
	defer fasthttp.ReleaseResponse(hresp)
	c.prepare(hreq, fasthttp.MethodPost, c.endpoint)
	hreq.Header.SetContentType("application/json")
	hreq.SetBody(body)
	if err := c.http.Do(ctx, hreq, hresp); err != nil {
		return nil, err
	}
	status := hresp.StatusCode()
	if status < 200 || status > 299 {
		header := func(k string) string { return string(hresp.Header.Peek(k)) }
		return nil, statusError(status, header, hresp.Body(), c.cfg.NowFunc())
	}
	resp, err := decode(hresp.Body(), forced, wrapped)
	if err == nil {
		resp.RateLimit = rateLimit(func(k string) string { return string(hresp.Header.Peek(k)) }, c.cfg.NowFunc())
	}
	return resp, err
}

// prepare sets hreq's method, URL, version and auth headers.
func (c *Client) prepare(hreq *fasthttp.Request, method, url string) {
	hreq.SetRequestURI(url)
	hreq.Header.SetMethod(method)
	hreq.Header.Set("anthropic-version", c.cfg.Version)
	if c.cfg.APIKey != "" {
		if c.cfg.AuthStyle == AuthBearer {
			hreq.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
		} else {
			hreq.Header.Set("x-api-key", c.cfg.APIKey)
		}
	}
}

// rateLimit reads anthropic-ratelimit-requests-remaining with -requests-reset, and
// anthropic-ratelimit-tokens-remaining with -tokens-reset (RFC 3339); nil unless one pair is
// there, valid, and its reset ahead of now.
func rateLimit(header func(string) string, now time.Time) *llm.RateLimit {
	pair := func(budget string) (int, time.Duration, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(header("anthropic-ratelimit-" + budget + "-remaining")))
		if err != nil || n < 0 {
			return 0, 0, false
		}
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(header("anthropic-ratelimit-"+budget+"-reset")))
		if err != nil || !t.After(now) {
			return 0, 0, false
		}
		return n, t.Sub(now), true
	}
	return llm.RateLimitOf(pair)
}

// encode builds the request body of Complete, the tool it forces ("" without a schema) and
// whether that tool's input wraps the answer.
func (c *Client) encode(req *llm.Request) (body []byte, forced string, wrapped bool, err error) {
	m, forced, wrapped, err := c.params(req, ToolName)
	if err != nil {
		return nil, "", false, err
	}
	body, err = json.Marshal(m)
	if err != nil {
		return nil, "", false, &llm.Error{Kind: llm.KindBadRequest, Message: "encode request: " + err.Error(), Err: err}
	}
	return body, forced, wrapped, nil
}

// params builds the Messages parameters of req, the body of a call or the params of a batch
// request, the tool it forces ("" without a schema, else ToolName, or wrappedTool when the
// schema is not an object and toolSchema wrapped it) and whether it wrapped.
func (c *Client) params(req *llm.Request, wrappedTool string) (m *messageRequest, forced string, wrapped bool, err error) {
	if len(req.Messages) == 0 {
		return nil, "", false, &llm.Error{Kind: llm.KindBadRequest, Message: "request has no messages"}
	}
	m = &messageRequest{
		Model:       req.Model,
		MaxTokens:   req.MaxTokens,
		System:      req.System,
		Messages:    make([]inputMessage, 0, len(req.Messages)),
		Temperature: req.Temperature,
	}
	if m.MaxTokens <= 0 {
		m.MaxTokens = c.cfg.MaxTokens
	}
	for _, msg := range req.Messages {
		m.Messages = append(m.Messages, inputMessage{Role: msg.Role, Content: msg.Content})
	}
	if req.Schema != nil {
		in, err := c.tools.Get(req.Schema, func(s []byte) (toolInput, error) {
			schema, wrapped, err := toolSchema(s)
			return toolInput{schema: schema, wrapped: wrapped}, err
		})
		if err != nil {
			return nil, "", false, &llm.Error{Kind: llm.KindBadRequest, Message: err.Error(), Err: err}
		}
		schema := in.schema
		wrapped = in.wrapped
		forced = ToolName
		if wrapped {
			forced = wrappedTool
		}
		m.Tools = []tool{{Name: forced, Description: toolDescription, InputSchema: schema}}
		m.ToolChoice = &toolChoice{Type: "tool", Name: forced}
	}
	return m, forced, wrapped, nil
}

// decode reads a 200 body. A tool ("" for none) selects the answer that tool's input carries
// over the text blocks; wrapped says its input wraps the answer (toolSchema).
func decode(body []byte, tool string, wrapped bool) (*llm.Response, error) {
	withSchema := tool != ""
	var m messageResponse
	if err := json.Unmarshal(body, &m); err != nil || m.Type != "message" {
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "response is not a Messages API message", Err: err}
	}
	resp := &llm.Response{
		StopReason: m.StopReason,
		Usage: llm.Usage{
			InputTokens:      m.Usage.InputTokens,
			OutputTokens:     m.Usage.OutputTokens,
			CacheReadTokens:  m.Usage.CacheReadInputTokens,
			CacheWriteTokens: m.Usage.CacheCreationInputTokens,
		},
	}
	switch m.StopReason {
	case "refusal":
		return nil, &llm.Error{Kind: llm.KindBadRequest, Status: 200, Message: "the model refused to answer (stop_reason refusal)"}
	case "max_tokens":
		if withSchema {
			return nil, &llm.Error{Kind: llm.KindBadRequest, Status: 200, Message: fmt.Sprintf(
				"the answer was cut at max_tokens (%d output tokens) before it was complete", m.Usage.OutputTokens)}
		}
	}
	if withSchema {
		for _, b := range m.Content {
			if b.Type != "tool_use" || b.Name != tool {
				continue
			}
			text, err := answerText(b.Input, wrapped)
			if err != nil {
				return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "the answer tool input is unusable: " + err.Error(), Err: err}
			}
			resp.Text = text
			return resp, nil
		}
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: fmt.Sprintf(
			"the model did not call the %s tool (stop_reason %q)", tool, m.StopReason)}
	}
	var sb strings.Builder
	for _, b := range m.Content {
		if b.Type == "text" {
			sb.WriteString(b.Text)
		}
	}
	if strings.TrimSpace(sb.String()) == "" {
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: fmt.Sprintf(
			"the answer is empty (stop_reason %q)", m.StopReason)}
	}
	resp.Text = sb.String()
	return resp, nil
}
