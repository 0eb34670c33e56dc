package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// The Anthropic fake's Message Batches: POST /v1/messages/batches, GET
// /v1/messages/batches/{id}, POST /v1/messages/batches/{id}/cancel and GET
// /v1/messages/batches/{id}/results. Each request's params are answered by the fake's
// /v1/messages logic (its checks, its Script, which sees each as a request), validated against
// the description like a realtime call; a 200 is a succeeded result, any other answer an
// errored one with the error body.

// SetBatchDelay sets how long batches submitted from now on run before they end on their own
// (default DefaultBatchDelay); negative: only EndBatches ends them.
func (s *AnthropicServer) SetBatchDelay(d time.Duration) { s.batches.setDelay(d) }

// EndBatches ends every open batch now, answering its requests, and returns how many it ended.
func (s *AnthropicServer) EndBatches() int { return s.batches.end() }

// BatchCounts returns how many batches, and requests in them, were submitted so far.
func (s *AnthropicServer) BatchCounts() (batches, requests int) { return s.batches.counts() }

// anthropicCustomID is the rule for custom_id.
var anthropicCustomID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// answerLine answers one batch request with the realtime endpoint.
func (s *AnthropicServer) answerLine(l fakeBatchLine) fakeOutcome {
	h := http.Header{"Content-Type": {"application/json"}, "Anthropic-Version": {"2023-06-01"}}
	if s.Key != "" {
		h.Set("x-api-key", s.Key)
	}
	return serveLine(validated(anthropicSpec, &s.violations, s.serve), http.MethodPost, "/v1/messages", h, l.Body)
}

// serveBatch serves the Message Batches paths.
func (s *AnthropicServer) serveBatch(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Clone()
	if r.ContentLength <= 0 {
		h.Set("Content-Type", "application/json") // the check wants it of bodies only
	}
	if status, typ, msg := s.checkHeaders(h); status != 0 {
		anthropicWriteError(w, status, typ, msg)
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/messages/batches"), "/"), "/")
	switch {
	case r.Method == http.MethodPost && parts[0] == "":
		s.createBatch(w, r)
	case r.Method == http.MethodGet && len(parts) == 1:
		s.writeBatch(w, s.batches.get(parts[0]), parts[0])
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "cancel":
		s.writeBatch(w, s.batches.cancelBatch(parts[0]), parts[0])
	case r.Method == http.MethodGet && len(parts) == 2 && parts[1] == "results":
		s.writeResults(w, s.batches.get(parts[0]), parts[0])
	default:
		anthropicWriteError(w, http.StatusNotFound, "not_found_error", "Not found")
	}
}

// createBatch checks and stores a batch.
func (s *AnthropicServer) createBatch(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Requests []struct {
			CustomID string          `json:"custom_id"`
			Params   json.RawMessage `json:"params"`
		} `json:"requests"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		anthropicWriteError(w, http.StatusBadRequest, "invalid_request_error", "invalid JSON body: "+err.Error())
		return
	}
	if len(req.Requests) == 0 {
		anthropicWriteError(w, http.StatusBadRequest, "invalid_request_error", "requests: at least one request is required")
		return
	}
	seen := map[string]bool{}
	lines := make([]fakeBatchLine, 0, len(req.Requests))
	for i, br := range req.Requests {
		if !anthropicCustomID.MatchString(br.CustomID) || seen[br.CustomID] {
			anthropicWriteError(w, http.StatusBadRequest, "invalid_request_error",
				fmt.Sprintf("requests.%d.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$ and be unique", i))
			return
		}
		if _, problem := anthropicParse(br.Params); problem != "" {
			anthropicWriteError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("requests.%d.params.%s", i, problem))
			return
		}
		seen[br.CustomID] = true
		lines = append(lines, fakeBatchLine{CustomID: br.CustomID, Body: br.Params})
	}
	fb := s.batches.submit(lines, nil)
	s.writeBatch(w, fb, fb.id)
}

// writeBatch answers the Message Batch object of fb (404 when nil).
func (s *AnthropicServer) writeBatch(w http.ResponseWriter, fb *fakeBatch, id string) {
	if fb == nil {
		anthropicWriteError(w, http.StatusNotFound, "not_found_error", "message batch "+id+" not found")
		return
	}
	counts := map[string]int{"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
	status := "in_progress"
	var endedAt, cancelAt any
	switch {
	case fb.cancelled:
		status, endedAt, cancelAt = "ended", fb.endedAt.UTC().Format(time.RFC3339), fb.endedAt.UTC().Format(time.RFC3339)
		counts["canceled"] = len(fb.lines)
	case fb.ended:
		status, endedAt = "ended", fb.endedAt.UTC().Format(time.RFC3339)
		for _, o := range fb.outcomes {
			if o.Status == http.StatusOK {
				counts["succeeded"]++
			} else {
				counts["errored"]++
			}
		}
	case fb.cancel:
		status, cancelAt = "canceling", time.Now().UTC().Format(time.RFC3339)
		counts["processing"] = len(fb.lines)
	default:
		counts["processing"] = len(fb.lines)
	}
	var results any
	if fb.ended {
		results = s.URL + "/v1/messages/batches/" + fb.id + "/results"
	}
	out := map[string]any{"id": fb.id, "type": "message_batch", "processing_status": status, "request_counts": counts,
		"ended_at": endedAt, "created_at": fb.created.UTC().Format(time.RFC3339),
		"expires_at": fb.created.Add(24 * time.Hour).UTC().Format(time.RFC3339), "archived_at": nil,
		"cancel_initiated_at": cancelAt, "results_url": results}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// writeResults answers the results of the ended batch fb as JSON Lines.
func (s *AnthropicServer) writeResults(w http.ResponseWriter, fb *fakeBatch, id string) {
	if fb == nil {
		anthropicWriteError(w, http.StatusNotFound, "not_found_error", "message batch "+id+" not found")
		return
	}
	if !fb.ended {
		anthropicWriteError(w, http.StatusBadRequest, "invalid_request_error", "message batch "+id+" is still processing")
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, l := range fb.lines {
		if fb.cancelled {
			_ = enc.Encode(map[string]any{"custom_id": l.CustomID, "result": map[string]any{"type": "canceled"}})
		}
	}
	for _, o := range fb.outcomes {
		result := map[string]any{"type": "succeeded", "message": json.RawMessage(o.Body)}
		if o.Status != http.StatusOK {
			body := o.Body
			if !json.Valid(body) {
				body = []byte(AnthropicErrorBody("api_error", "Internal server error"))
			}
			result = map[string]any{"type": "errored", "error": json.RawMessage(body)}
		}
		if err := enc.Encode(map[string]any{"custom_id": o.CustomID, "result": result}); err != nil {
			panic(err) // valid JSON bodies
		}
	}
	w.Header().Set("Content-Type", "application/x-jsonl")
	_, _ = w.Write(buf.Bytes())
}
