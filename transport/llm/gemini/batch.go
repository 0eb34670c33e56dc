package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher/transport/llm"
)

// Gemini batch mode (llm.Batcher), as google.golang.org/genai's Batches speaks it to the
// Gemini Developer API: POST /v1beta/models/{model}:batchGenerateContent with
// {"batch": {"displayName", "inputConfig": {"requests": {"requests": [{"request": <the body
// Complete would send>, "metadata": {"key": <custom id>}}]}}}}, answered by an Operation
// named "batches/{id}"; GET /v1beta/batches/{id} returns the Operation, whose metadata (a
// GenerateContentBatch) has the state (BATCH_STATE_PENDING, RUNNING, SUCCEEDED, FAILED,
// CANCELLED, EXPIRED), batchStats and, once done, output.inlinedResponses.inlinedResponses:
// [{response | error, metadata: {key}}] (also in the Operation's response, read when the
// metadata has none); POST /v1beta/batches/{id}:cancel.
//
// The batch id is the Operation's name ("batches/{id}"); Batch, BatchResults and
// CancelBatch also take the bare id. A response is decoded as Complete decodes an answer; an
// error (a google.rpc.Status, whose code is a gRPC code) becomes the *llm.Error Complete
// would return for the HTTP status that code maps to (grpcHTTPStatus). The batch calls map
// HTTP errors as Complete does, except 404, which is not_found (the batch is unknown). The
// results are read whole with the batch, so they are bounded by the client's
// MaxResponseBytes.

var _ llm.Batcher = (*Client)(nil)

// batchDisplayName is the displayName of the batches the adapter creates (required).
const batchDisplayName = "entity-enricher"

// inlinedRequest is one request of a batch.
type inlinedRequest struct {
	Request  json.RawMessage   `json:"request"`
	Metadata map[string]string `json:"metadata"`
}

// batchCreate is the body of batchGenerateContent.
type batchCreate struct {
	Batch struct {
		DisplayName string `json:"displayName"`
		InputConfig struct {
			Requests struct {
				Requests []inlinedRequest `json:"requests"`
			} `json:"requests"`
		} `json:"inputConfig"`
	} `json:"batch"`
}

// int64JSON is a proto-JSON int64: a string, or a number.
type int64JSON int64

// UnmarshalJSON accepts "12" and 12.
func (n *int64JSON) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	*n = int64JSON(v)
	return err
}

// inlinedResponses is GenerateContentBatchOutput's inlinedResponses.
type inlinedResponses struct {
	InlinedResponses struct {
		InlinedResponses []inlinedResponse `json:"inlinedResponses"`
	} `json:"inlinedResponses"`
}

// inlinedResponse is one outcome: a GenerateContentResponse or a google.rpc.Status.
type inlinedResponse struct {
	Response json.RawMessage   `json:"response"`
	Error    *rpcStatus        `json:"error"`
	Metadata map[string]string `json:"metadata"`
}

// rpcStatus is a google.rpc.Status; Code is a gRPC code.
type rpcStatus struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details,omitempty"`
}

// operation is the Operation of a batch (only the fields read).
type operation struct {
	Name     string `json:"name"`
	Done     bool   `json:"done"`
	Metadata struct {
		State      string `json:"state"`
		BatchStats struct {
			RequestCount           int64JSON `json:"requestCount"`
			SuccessfulRequestCount int64JSON `json:"successfulRequestCount"`
			FailedRequestCount     int64JSON `json:"failedRequestCount"`
			PendingRequestCount    int64JSON `json:"pendingRequestCount"`
		} `json:"batchStats"`
		Output *inlinedResponses `json:"output"`
	} `json:"metadata"`
	Response *inlinedResponses `json:"response"`
}

// grpcHTTPStatus maps the gRPC codes of google.rpc.Status to the HTTP status the API
// answers with them (google.rpc.Code's documented mapping).
var grpcHTTPStatus = map[int]int{
	1: 499, 2: http.StatusInternalServerError, 3: http.StatusBadRequest, 4: http.StatusGatewayTimeout,
	5: http.StatusNotFound, 6: http.StatusConflict, 7: http.StatusForbidden, 8: http.StatusTooManyRequests,
	9: http.StatusBadRequest, 10: http.StatusConflict, 11: http.StatusBadRequest, 12: http.StatusNotImplemented,
	13: http.StatusInternalServerError, 14: http.StatusServiceUnavailable, 15: http.StatusInternalServerError,
	16: http.StatusUnauthorized,
}

// SubmitBatch creates a batch of reqs, inlined (llm.Batcher).
func (c *Client) SubmitBatch(ctx context.Context, reqs []llm.BatchRequest) (string, error) {
	if len(reqs) == 0 {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "batch has no requests"}
	}
	var create batchCreate
	create.Batch.DisplayName = batchDisplayName
	for _, r := range reqs {
		body, err := c.requestBody(r.Request)
		if err != nil {
			return "", &llm.Error{Kind: llm.KindBadRequest, Message: fmt.Sprintf("request %s: %v", r.CustomID, err), Err: err}
		}
		create.Batch.InputConfig.Requests.Requests = append(create.Batch.InputConfig.Requests.Requests,
			inlinedRequest{Request: body, Metadata: map[string]string{"key": r.CustomID}})
	}
	body, err := json.Marshal(create)
	if err != nil {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "encode batch: " + err.Error(), Err: err}
	}
	var op operation
	u := c.cfg.BaseURL + "/v1beta/models/" + url.PathEscape(reqs[0].Request.Model) + ":batchGenerateContent"
	if err := c.batchCall(ctx, u, body, &op); err != nil {
		return "", err
	}
	if !strings.HasPrefix(op.Name, "batches/") {
		return "", &llm.Error{Kind: llm.KindServerError, Status: 200, Message: fmt.Sprintf("the created batch has no batch name (%q)", op.Name)}
	}
	return op.Name, nil
}

// batchURL is the URL of batch id ("batches/x" or "x").
func (c *Client) batchURL(id string) string {
	return c.cfg.BaseURL + "/v1beta/batches/" + url.PathEscape(strings.TrimPrefix(id, "batches/"))
}

// operation reads the Operation of batch id.
func (c *Client) operation(ctx context.Context, id string) (*operation, error) {
	var op operation
	if err := c.batchCall(ctx, c.batchURL(id), nil, &op); err != nil {
		return nil, err
	}
	return &op, nil
}

// Batch returns the state of batch id (llm.Batcher).
func (c *Client) Batch(ctx context.Context, id string) (*llm.BatchState, error) {
	op, err := c.operation(ctx, id)
	if err != nil {
		return nil, err
	}
	return stateOf(op), nil
}

// stateOf converts an Operation. A batch is ended when the Operation is done or its state is
// final.
func stateOf(op *operation) *llm.BatchState {
	m := op.Metadata
	ended := op.Done
	switch m.State {
	case "BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED":
		ended = true
	}
	return &llm.BatchState{Status: m.State, Ended: ended, Total: int(m.BatchStats.RequestCount),
		Succeeded: int(m.BatchStats.SuccessfulRequestCount), Failed: int(m.BatchStats.FailedRequestCount)}
}

// BatchResults reads the inlined responses of the ended batch id (llm.Batcher).
func (c *Client) BatchResults(ctx context.Context, id string, fn func(llm.BatchResult) error) error {
	op, err := c.operation(ctx, id)
	if err != nil {
		return err
	}
	if !stateOf(op).Ended {
		return &llm.Error{Kind: llm.KindBadRequest, Message: fmt.Sprintf("batch %s has not ended (state %s)", id, op.Metadata.State)}
	}
	out := op.Metadata.Output
	if out == nil || len(out.InlinedResponses.InlinedResponses) == 0 {
		out = op.Response
	}
	if out == nil {
		return nil
	}
	for i, ir := range out.InlinedResponses.InlinedResponses {
		key := ir.Metadata["key"]
		if key == "" {
			return &llm.Error{Kind: llm.KindServerError, Status: 200, Message: fmt.Sprintf("batch response %d has no metadata key", i)}
		}
		res := llm.BatchResult{CustomID: key}
		switch {
		case ir.Error != nil:
			status, ok := grpcHTTPStatus[ir.Error.Code]
			if !ok {
				status = http.StatusInternalServerError
			}
			body, err := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": ir.Error.Message,
				"details": ir.Error.Details}})
			if err != nil {
				return &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "batch response error: " + err.Error(), Err: err}
			}
			res.Err = statusError(status, body, "", time.Now())
		case len(ir.Response) > 0:
			res.Response, res.Err = parseAnswer(ir.Response)
		default:
			continue // no outcome
		}
		if err := fn(res); err != nil {
			return err
		}
	}
	return nil
}

// CancelBatch asks the API to cancel batch id (llm.Batcher).
func (c *Client) CancelBatch(ctx context.Context, id string) error {
	return c.batchCall(ctx, c.batchURL(id)+":cancel", []byte("{}"), nil)
}

// batchCall sends a POST of body (nil: a GET) to u and decodes the JSON answer into out (nil:
// ignored).
func (c *Client) batchCall(ctx context.Context, u string, body []byte, out any) error {
	method := fasthttp.MethodGet
	if body != nil {
		method = fasthttp.MethodPost
	}
	hreq, hresp := c.newRequest(method, u)
	if body != nil {
		hreq.Header.SetContentType("application/json")
		hreq.SetBodyRaw(body)
	}
	if err := c.batches.Do(ctx, hreq, hresp); err != nil {
		return err
	}
	status := hresp.StatusCode()
	if status < 200 || status > 299 {
		e := statusError(status, hresp.Body(), string(hresp.Header.Peek("Retry-After")), time.Now())
		if status == http.StatusNotFound {
			e.Kind = llm.KindNotFound
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(hresp.Body(), out); err != nil {
		return &llm.Error{Kind: llm.KindServerError, Status: status, Message: "response is not valid JSON: " + err.Error(), Err: err}
	}
	return nil
}
