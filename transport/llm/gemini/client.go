// Package gemini is the llm.Provider of Google's Gemini Developer API (generateContent,
// Gemini API): one non-streaming POST {BaseURL}/v1beta/models/{model}:generateContent per
// call, the key in the x-goog-api-key header, the answer schema through generationConfig's
// responseJsonSchema (default) or responseSchema, over one pooled fasthttp client.
package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
)

// Defaults of Config.
const (
	DefaultBaseURL          = "https://generativelanguage.googleapis.com"
	DefaultConnectTimeout   = vendorhttp.DefaultConnectTimeout
	DefaultTimeout          = vendorhttp.DefaultTimeout
	DefaultMaxResponseBytes = vendorhttp.DefaultMaxResponseBytes
)

// Config configures a Client. Zero fields take the documented defaults.
type Config struct {
	// BaseURL is the API root without /v1beta; default DefaultBaseURL. A trailing slash is ignored.
	BaseURL string
	// APIKey is sent only in the x-goog-api-key header; required.
	APIKey string
	// SchemaField chooses how the answer schema is sent: SchemaFieldJSON (default) passes it
	// verbatim as responseJsonSchema; SchemaFieldOpenAPI translates it to responseSchema.
	SchemaField string
	// Options are the HTTP limits: connect, first-byte and total timeouts, response size
	// cap and connections per host (vendorhttp.Options; zero fields take its defaults).
	vendorhttp.Options
}

// withDefaults returns a copy of cfg with zero fields set.
func (cfg Config) withDefaults() Config {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.Options = cfg.Options.WithDefaults()
	if cfg.SchemaField == "" {
		cfg.SchemaField = SchemaFieldJSON
	}
	return cfg
}

// Client is the Gemini llm.Provider. It is safe for concurrent use; connections are pooled
// and reused between calls.
type Client struct {
	cfg  Config
	http *vendorhttp.Client
	// batches makes the batch API's calls, whose answers may hold a whole batch's results.
	batches *vendorhttp.Client
	// schemas keeps the OpenAPI translations of the answer schemas sent so far (an engine
	// sends the same few with every call).
	schemas enricher.Memo[json.RawMessage]
}

var _ llm.Provider = (*Client)(nil)

// New returns a Client for cfg. It fails when APIKey is empty, BaseURL is not an absolute
// http(s) URL, or SchemaField is unknown. It does no I/O.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if cfg.APIKey == "" {
		return nil, errors.New("gemini: APIKey is required")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gemini: BaseURL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	if cfg.SchemaField != SchemaFieldJSON && cfg.SchemaField != SchemaFieldOpenAPI {
		return nil, fmt.Errorf("gemini: SchemaField must be %q or %q", SchemaFieldJSON, SchemaFieldOpenAPI)
	}
	hc, err := vendorhttp.New(cfg.Options)
	if err != nil {
		return nil, fmt.Errorf("gemini: %w", err)
	}
	bc, err := vendorhttp.New(cfg.Options.ForBatches())
	if err != nil {
		return nil, fmt.Errorf("gemini: %w", err)
	}
	return &Client{cfg: cfg, http: hc, batches: bc}, nil
}

// Complete sends req and returns the answer text with its usage. Errors are *llm.Error:
// a bad request (unknown role, untranslatable schema) is bad_request before anything is sent;
// HTTP errors are mapped by statusError; network failures are server_error; a call past its
// deadline is timeout; a cancelled ctx is cancelled and closes the connection at once. A
// refusal (blocked prompt or answer) is bad_request; an empty answer is server_error.
func (c *Client) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	body, err := c.requestBody(req)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindBadRequest, Message: err.Error(), Err: err}
	}
	hreq, hresp := c.newRequest(fasthttp.MethodPost, c.cfg.BaseURL+"/v1beta/models/"+url.PathEscape(req.Model)+":generateContent")
	hreq.Header.SetContentType("application/json")
	hreq.SetBody(body)

	if err := c.http.Do(ctx, hreq, hresp); err != nil {
		return nil, err
	}
	status := hresp.StatusCode()
	if status < 200 || status > 299 {
		return nil, statusError(status, hresp.Body(), string(hresp.Header.Peek("Retry-After")), time.Now())
	}
	return parseAnswer(hresp.Body())
}

// newRequest returns a request of method to u carrying the API key, and a response to read
// it into.
func (c *Client) newRequest(method, u string) (*fasthttp.Request, *fasthttp.Response) {
	hreq := &fasthttp.Request{}
	hreq.Header.SetMethod(method)
	hreq.SetRequestURI(u)
	hreq.Header.Set("x-goog-api-key", c.cfg.APIKey)
	return hreq, &fasthttp.Response{}
}

// requestBody builds the JSON body of req.
func (c *Client) requestBody(req *llm.Request) ([]byte, error) {
	if req.Model == "" {
		return nil, errors.New("no model")
	}
	if len(req.Messages) == 0 {
		return nil, errors.New("no messages")
	}
	gr := generateRequest{GenerationConfig: generationConfig{
		Temperature:     req.Temperature,
		MaxOutputTokens: req.MaxTokens,
	}}
	if req.System != "" {
		// Role "user", as google.golang.org/genai sends it (transport/llm/sdkcheck/genai_test.go); the API ignores it.
		gr.SystemInstruction = &content{Role: "user", Parts: []part{{Text: req.System}}}
	}
	for i, m := range req.Messages {
		role := m.Role
		switch role {
		case "user":
		case "assistant":
			role = "model"
		default:
			return nil, fmt.Errorf("message %d has role %q (want user or assistant)", i, m.Role)
		}
		gr.Contents = append(gr.Contents, content{Role: role, Parts: []part{{Text: m.Content}}})
	}
	if len(req.Schema) > 0 {
		gr.GenerationConfig.ResponseMimeType = "application/json"
		if c.cfg.SchemaField == SchemaFieldOpenAPI {
			s, err := c.schemas.Get(req.Schema, func(b []byte) (json.RawMessage, error) { return openAPISchema(b) })
			if err != nil {
				return nil, err
			}
			gr.GenerationConfig.ResponseSchema = s
		} else {
			if !json.Valid(req.Schema) {
				return nil, errors.New("answer schema is not valid JSON")
			}
			gr.GenerationConfig.ResponseJSONSchema = req.Schema
		}
	}
	return json.Marshal(gr)
}

// refusalReasons are the finishReason values that mean the answer was withheld by a filter.
var refusalReasons = map[string]bool{
	"SAFETY": true, "RECITATION": true, "PROHIBITED_CONTENT": true, "BLOCKLIST": true, "SPII": true,
	"IMAGE_SAFETY": true, "LANGUAGE": true,
}

// parseAnswer reads a 200 body: the text of the first candidate's non-thought parts, usage
// and finish reason.
func parseAnswer(body []byte) (*llm.Response, error) {
	var gr generateResponse
	if err := json.Unmarshal(body, &gr); err != nil {
		return nil, &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "response is not valid JSON: " + err.Error(), Err: err}
	}
	if len(gr.Candidates) == 0 {
		if fb := gr.PromptFeedback; fb != nil && fb.BlockReason != "" {
			return nil, answerError(llm.KindBadRequest, "refused: prompt blocked (%s) %s", fb.BlockReason, fb.BlockReasonMessage)
		}
		return nil, answerError(llm.KindServerError, "empty answer: no candidates")
	}
	cand := gr.Candidates[0]
	if refusalReasons[cand.FinishReason] {
		return nil, answerError(llm.KindBadRequest, "refused: answer blocked (finishReason %s)", cand.FinishReason)
	}
	var text strings.Builder
	if cand.Content != nil {
		for _, p := range cand.Content.Parts {
			if !p.Thought {
				text.WriteString(p.Text)
			}
		}
	}
	if strings.TrimSpace(text.String()) == "" {
		return nil, answerError(llm.KindServerError, "empty answer (finishReason %s)", cand.FinishReason)
	}
	resp := &llm.Response{Text: text.String(), StopReason: cand.FinishReason}
	if u := gr.UsageMetadata; u != nil {
		resp.Usage = llm.Usage{
			InputTokens:     u.PromptTokenCount - u.CachedContentTokenCount + u.ToolUsePromptTokenCount,
			OutputTokens:    u.CandidatesTokenCount + u.ThoughtsTokenCount,
			CacheReadTokens: u.CachedContentTokenCount,
		}
	}
	return resp, nil
}
