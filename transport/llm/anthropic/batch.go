package anthropic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher/transport/llm"
)

// The Message Batches API (llm.Batcher): POST /v1/messages/batches with {"requests":
// [{"custom_id", "params": <the body Complete would send>}]}, GET /v1/messages/batches/{id}
// (processing_status in_progress, canceling or ended; request_counts), the results as JSON
// Lines from the batch's results_url ({custom_id, result: {type: succeeded|errored|canceled|
// expired, message | error}}), and POST /v1/messages/batches/{id}/cancel.
//
// A succeeded result is decoded as Complete decodes an answer. Batch results do not echo the
// request, so a batch request whose schema is not an object (wrapped by toolSchema) forces the
// tool wrappedToolName instead of ToolName, and the result's tool name says how to read it.
// An errored result becomes the *llm.Error Complete would return for an HTTP error of that
// error type (errorTypeStatus); canceled and expired results have no outcome and are not
// reported. The batch calls map HTTP errors as Complete does, except 404, which is not_found
// (the batch id is unknown). results_url is only followed when it is under BaseURL (it is
// the vendor's, but a client never fetches a URL an answer names elsewhere); otherwise the
// documented results path under BaseURL is read. The results are read whole, so they are
// bounded by the client's MaxResponseBytes.

var _ llm.Batcher = (*Client)(nil)

// wrappedToolName is the forced tool of a batch request whose schema was wrapped.
const wrappedToolName = ToolName + "_wrapped"

// batchRequest is one request of a batch.
type batchRequest struct {
	CustomID string          `json:"custom_id"`
	Params   *messageRequest `json:"params"`
}

// messageBatch is the Message Batch object (only the fields read).
type messageBatch struct {
	ID               string `json:"id"`
	ProcessingStatus string `json:"processing_status"`
	ResultsURL       string `json:"results_url"`
	RequestCounts    struct {
		Processing int `json:"processing"`
		Succeeded  int `json:"succeeded"`
		Errored    int `json:"errored"`
		Canceled   int `json:"canceled"`
		Expired    int `json:"expired"`
	} `json:"request_counts"`
}

// resultLine is one line of a batch's results.
type resultLine struct {
	CustomID string `json:"custom_id"`
	Result   struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
	} `json:"result"`
}

// errorTypeStatus is the HTTP status the Messages API answers with each error type; an
// errored batch result is mapped as that status and body would be.
var errorTypeStatus = map[string]int{
	"invalid_request_error": http.StatusBadRequest,
	"authentication_error":  http.StatusUnauthorized,
	"billing_error":         http.StatusPaymentRequired,
	"permission_error":      http.StatusForbidden,
	"not_found_error":       http.StatusNotFound,
	"request_too_large":     http.StatusRequestEntityTooLarge,
	"rate_limit_error":      http.StatusTooManyRequests,
	"api_error":             http.StatusInternalServerError,
	"timeout_error":         http.StatusGatewayTimeout,
	"overloaded_error":      529,
}

// SubmitBatch creates a Message Batch of reqs (llm.Batcher).
func (c *Client) SubmitBatch(ctx context.Context, reqs []llm.BatchRequest) (string, error) {
	if len(reqs) == 0 {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "batch has no requests"}
	}
	create := struct {
		Requests []batchRequest `json:"requests"`
	}{Requests: make([]batchRequest, 0, len(reqs))}
	for _, r := range reqs {
		m, _, _, err := c.params(r.Request, wrappedToolName)
		if err != nil {
			return "", fmt.Errorf("request %s: %w", r.CustomID, err)
		}
		create.Requests = append(create.Requests, batchRequest{CustomID: r.CustomID, Params: m})
	}
	body, err := json.Marshal(create)
	if err != nil {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "encode batch: " + err.Error(), Err: err}
	}
	var b messageBatch
	if err := c.batchCall(ctx, fasthttp.MethodPost, c.batchesURL(""), body, &b); err != nil {
		return "", err
	}
	if b.ID == "" {
		return "", &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "the created batch has no id"}
	}
	return b.ID, nil
}

// batchesURL is the URL of the batches collection (id "") or of batch id.
func (c *Client) batchesURL(id string) string {
	if id == "" {
		return c.endpoint + "/batches"
	}
	return c.endpoint + "/batches/" + url.PathEscape(id)
}

// Batch returns the state of batch id (llm.Batcher).
func (c *Client) Batch(ctx context.Context, id string) (*llm.BatchState, error) {
	var b messageBatch
	if err := c.batchCall(ctx, fasthttp.MethodGet, c.batchesURL(id), nil, &b); err != nil {
		return nil, err
	}
	return stateOf(&b), nil
}

// stateOf converts a Message Batch object; canceled and expired requests count as failed.
func stateOf(b *messageBatch) *llm.BatchState {
	n := b.RequestCounts
	return &llm.BatchState{Status: b.ProcessingStatus, Ended: b.ProcessingStatus == "ended",
		Total:     n.Processing + n.Succeeded + n.Errored + n.Canceled + n.Expired,
		Succeeded: n.Succeeded, Failed: n.Errored + n.Canceled + n.Expired}
}

// BatchResults reads the results of the ended batch id (llm.Batcher).
func (c *Client) BatchResults(ctx context.Context, id string, fn func(llm.BatchResult) error) error {
	var b messageBatch
	if err := c.batchCall(ctx, fasthttp.MethodGet, c.batchesURL(id), nil, &b); err != nil {
		return err
	}
	if b.ProcessingStatus != "ended" {
		return &llm.Error{Kind: llm.KindBadRequest, Message: fmt.Sprintf("batch %s has not ended (status %s)", id, b.ProcessingStatus)}
	}
	results := c.batchesURL(id) + "/results"
	if strings.HasPrefix(b.ResultsURL, c.cfg.BaseURL+"/") {
		results = b.ResultsURL
	}
	hreq, hresp := &fasthttp.Request{}, &fasthttp.Response{}
	c.prepare(hreq, fasthttp.MethodGet, results)
	if err := c.exchange(ctx, hreq, hresp); err != nil {
		return err
	}
	return c.walkResults(hresp.Body(), fn)
}

// walkResults calls fn for each result line that has an outcome.
func (c *Client) walkResults(content []byte, fn func(llm.BatchResult) error) error {
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(nil, len(content)+1)
	noHeader := func(string) string { return "" }
	for sc.Scan() {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var line resultLine
		if err := json.Unmarshal(raw, &line); err != nil || line.CustomID == "" {
			return &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "a batch results line is not a batch result", Err: err}
		}
		res := llm.BatchResult{CustomID: line.CustomID}
		switch line.Result.Type {
		case "succeeded":
			forced := answerTool(line.Result.Message)
			res.Response, res.Err = decode(line.Result.Message, forced, forced == wrappedToolName)
		case "errored":
			var er errorResponse
			status := http.StatusInternalServerError
			if json.Unmarshal(line.Result.Error, &er) == nil {
				if s, ok := errorTypeStatus[er.Error.Type]; ok {
					status = s
				}
			}
			res.Err = statusError(status, noHeader, line.Result.Error, c.cfg.NowFunc())
		case "canceled", "expired":
			continue // not run: no outcome
		default:
			return &llm.Error{Kind: llm.KindServerError, Status: 200, Message: fmt.Sprintf(
				"batch result %s has an unknown type %q", line.CustomID, line.Result.Type)}
		}
		if err := fn(res); err != nil {
			return err
		}
	}
	return nil
}

// answerTool returns the name of the forced tool a result message called (ToolName or
// wrappedToolName), or "" when it called neither: the request had no schema.
func answerTool(message []byte) string {
	var m messageResponse
	if json.Unmarshal(message, &m) != nil {
		return ""
	}
	for _, b := range m.Content {
		if b.Type == "tool_use" && (b.Name == ToolName || b.Name == wrappedToolName) {
			return b.Name
		}
	}
	return ""
}

// CancelBatch asks the vendor to cancel batch id (llm.Batcher).
func (c *Client) CancelBatch(ctx context.Context, id string) error {
	var b messageBatch
	return c.batchCall(ctx, fasthttp.MethodPost, c.batchesURL(id)+"/cancel", nil, &b)
}

// batchCall sends one batch call with a JSON body (nil: none) and decodes the answer into out.
func (c *Client) batchCall(ctx context.Context, method, url string, body []byte, out any) error {
	hreq, hresp := &fasthttp.Request{}, &fasthttp.Response{}
	c.prepare(hreq, method, url)
	if body != nil {
		hreq.Header.SetContentType("application/json")
		hreq.SetBodyRaw(body)
	}
	if err := c.exchange(ctx, hreq, hresp); err != nil {
		return err
	}
	if err := json.Unmarshal(hresp.Body(), out); err != nil {
		return &llm.Error{Kind: llm.KindServerError, Status: hresp.StatusCode(), Message: "response is not valid JSON: " + err.Error(), Err: err}
	}
	return nil
}

// exchange sends hreq and maps a non-2xx answer: 404 is not_found, others as Complete maps
// them.
func (c *Client) exchange(ctx context.Context, hreq *fasthttp.Request, hresp *fasthttp.Response) error {
	if err := c.batches.Do(ctx, hreq, hresp); err != nil {
		return err
	}
	status := hresp.StatusCode()
	if status >= 200 && status <= 299 {
		return nil
	}
	e := statusError(status, func(k string) string { return string(hresp.Header.Peek(k)) }, hresp.Body(), c.cfg.NowFunc())
	if status == http.StatusNotFound {
		e.Kind = llm.KindNotFound
	}
	return e
}
