package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher/transport/llm"
)

// The OpenAI Batch API (llm.Batcher): the requests are uploaded as one JSON Lines file
// (POST {BaseURL}/files, purpose "batch"), each line {"custom_id", "method": "POST", "url":
// "/v1/chat/completions", "body": <the body Complete would send>}; the batch is created on it
// (POST {BaseURL}/batches, completion window 24h), polled (GET /batches/{id}), read from its
// output and error files (GET /files/{id}/content, lines {custom_id, response: {status_code,
// body}, error}) and cancelled (POST /batches/{id}/cancel). Only OpenAI itself has this API;
// the compatible servers (DeepSeek, Ollama) do not, and are not wired as batchers.
//
// A line answered 200 is decoded as Complete decodes an answer; a line with another status
// becomes the *llm.Error Complete would return for that status and body; a line with only an
// error (a request the vendor could not run, e.g. an invalid line) is bad_request, except
// batch_expired and batch_cancelled lines, which are requests without an outcome and not
// reported. The batch calls map HTTP errors as Complete does, except 404, which is
// not_found (the batch or file id is unknown). A results file is read whole, so it is bounded
// by the client's MaxResponseBytes.

var _ llm.Batcher = (*Client)(nil)

// batchEndpoint is the endpoint every line of a batch calls.
const batchEndpoint = "/v1/chat/completions"

// completionWindow is the only window the Batch API offers.
const completionWindow = "24h"

// batchLine is one line of the uploaded requests file.
type batchLine struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// batchCreate is the body of POST /batches.
type batchCreate struct {
	InputFileID      string `json:"input_file_id"`
	Endpoint         string `json:"endpoint"`
	CompletionWindow string `json:"completion_window"`
}

// batchObject is the Batch object (only the fields read).
type batchObject struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	OutputFileID  string `json:"output_file_id"`
	ErrorFileID   string `json:"error_file_id"`
	RequestCounts struct {
		Total     int `json:"total"`
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
	} `json:"request_counts"`
}

// fileObject is the File object (only the id is read).
type fileObject struct {
	ID string `json:"id"`
}

// outputLine is one line of a batch's output or error file.
type outputLine struct {
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// SubmitBatch uploads reqs as a JSONL file and creates a batch on it (llm.Batcher).
func (c *Client) SubmitBatch(ctx context.Context, reqs []llm.BatchRequest) (string, error) {
	if len(reqs) == 0 {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "batch has no requests"}
	}
	var jsonl bytes.Buffer
	for _, r := range reqs {
		body, err := c.requestBody(r.Request)
		if err != nil {
			return "", &llm.Error{Kind: llm.KindBadRequest, Message: fmt.Sprintf("request %s: %v", r.CustomID, err), Err: err}
		}
		line, err := json.Marshal(batchLine{CustomID: r.CustomID, Method: http.MethodPost, URL: batchEndpoint, Body: body})
		if err != nil {
			return "", &llm.Error{Kind: llm.KindBadRequest, Message: "encode batch line: " + err.Error(), Err: err}
		}
		jsonl.Write(line)
		jsonl.WriteByte('\n')
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	if err := mw.WriteField("purpose", "batch"); err != nil {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "encode upload: " + err.Error(), Err: err}
	}
	fw, err := mw.CreateFormFile("file", "batch.jsonl")
	if err == nil {
		_, err = fw.Write(jsonl.Bytes())
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "encode upload: " + err.Error(), Err: err}
	}
	var file fileObject
	if err := c.batchCall(ctx, fasthttp.MethodPost, c.base+"/files", mw.FormDataContentType(), form.Bytes(), &file); err != nil {
		return "", err
	}
	body, err := json.Marshal(batchCreate{InputFileID: file.ID, Endpoint: batchEndpoint, CompletionWindow: completionWindow})
	if err != nil {
		return "", &llm.Error{Kind: llm.KindBadRequest, Message: "encode batch: " + err.Error(), Err: err}
	}
	var b batchObject
	if err := c.batchCall(ctx, fasthttp.MethodPost, c.base+"/batches", "application/json", body, &b); err != nil {
		return "", err
	}
	if b.ID == "" {
		return "", &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "the created batch has no id"}
	}
	return b.ID, nil
}

// Batch returns the state of batch id (llm.Batcher).
func (c *Client) Batch(ctx context.Context, id string) (*llm.BatchState, error) {
	b, err := c.batch(ctx, id)
	if err != nil {
		return nil, err
	}
	return stateOf(b), nil
}

// stateOf converts a Batch object.
func stateOf(b *batchObject) *llm.BatchState {
	ended := false
	switch b.Status {
	case "completed", "failed", "expired", "cancelled":
		ended = true
	}
	return &llm.BatchState{Status: b.Status, Ended: ended, Total: b.RequestCounts.Total,
		Succeeded: b.RequestCounts.Completed, Failed: b.RequestCounts.Failed}
}

func (c *Client) batch(ctx context.Context, id string) (*batchObject, error) {
	var b batchObject
	if err := c.batchCall(ctx, fasthttp.MethodGet, c.base+"/batches/"+url.PathEscape(id), "", nil, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// BatchResults reads the output file, then the error file, of the ended batch id
// (llm.Batcher).
func (c *Client) BatchResults(ctx context.Context, id string, fn func(llm.BatchResult) error) error {
	b, err := c.batch(ctx, id)
	if err != nil {
		return err
	}
	if !stateOf(b).Ended {
		return &llm.Error{Kind: llm.KindBadRequest, Message: fmt.Sprintf("batch %s has not ended (status %s)", id, b.Status)}
	}
	for _, file := range []string{b.OutputFileID, b.ErrorFileID} {
		if file == "" {
			continue
		}
		content, err := c.fileContent(ctx, file)
		if err != nil {
			return err
		}
		if err := c.walkOutput(content, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkOutput calls fn for each line of an output or error file that has an outcome.
func (c *Client) walkOutput(content []byte, fn func(llm.BatchResult) error) error {
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(nil, len(content)+1)
	noHeader := func(string) string { return "" }
	for sc.Scan() {
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var line outputLine
		if err := json.Unmarshal(raw, &line); err != nil || line.CustomID == "" {
			return &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "a batch results line is not a request output", Err: err}
		}
		res := llm.BatchResult{CustomID: line.CustomID}
		switch {
		case line.Response != nil && line.Response.StatusCode >= 200 && line.Response.StatusCode <= 299:
			res.Response, res.Err = parseResponse(line.Response.Body)
		case line.Response != nil:
			res.Err = statusError(line.Response.StatusCode, line.Response.Body, noHeader, c.now())
		case line.Error != nil && (line.Error.Code == "batch_expired" || line.Error.Code == "batch_cancelled"):
			continue // not run: no outcome
		case line.Error != nil:
			res.Err = &llm.Error{Kind: llm.KindBadRequest, Message: strings.TrimSpace(line.Error.Code + ": " + line.Error.Message)}
		default:
			return &llm.Error{Kind: llm.KindServerError, Status: 200, Message: "batch results line " + line.CustomID + " has neither response nor error"}
		}
		if err := fn(res); err != nil {
			return err
		}
	}
	return nil
}

// CancelBatch cancels batch id (llm.Batcher).
func (c *Client) CancelBatch(ctx context.Context, id string) error {
	var b batchObject
	return c.batchCall(ctx, fasthttp.MethodPost, c.base+"/batches/"+url.PathEscape(id)+"/cancel", "", nil, &b)
}

// fileContent downloads file id.
func (c *Client) fileContent(ctx context.Context, id string) ([]byte, error) {
	hreq, hresp := c.newRequest(fasthttp.MethodGet, c.base+"/files/"+url.PathEscape(id)+"/content")
	hreq.Header.Set("Accept", "application/octet-stream, application/json")
	if err := c.exchange(ctx, hreq, hresp); err != nil {
		return nil, err
	}
	return hresp.Body(), nil
}

// batchCall sends one batch or file call with body of contentType ("" for none) and decodes
// the JSON answer into out.
func (c *Client) batchCall(ctx context.Context, method, url, contentType string, body []byte, out any) error {
	hreq, hresp := c.newRequest(method, url)
	if contentType != "" {
		hreq.Header.SetContentType(contentType)
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
	e := statusError(status, hresp.Body(), func(name string) string { return string(hresp.Header.Peek(name)) }, c.now())
	if status == http.StatusNotFound {
		e.Kind = llm.KindNotFound
	}
	return e
}
