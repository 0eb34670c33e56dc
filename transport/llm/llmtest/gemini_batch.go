package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// The Gemini fake's batch mode, in the shapes google.golang.org/genai sends and decodes:
// POST /v1beta/models/{model}:batchGenerateContent with {"batch": {"displayName",
// "inputConfig": {"requests": {"requests": [{"request", "metadata": {"key"}}]}}}} (unknown
// fields rejected, displayName and unique keys required, each request checked as
// generateContent checks it), answered by an Operation "batches/{id}"; GET
// /v1beta/batches/{id} (the Operation: metadata.state BATCH_STATE_RUNNING, SUCCEEDED or
// CANCELLED, batchStats with int64 counts as strings, and once done the inlined responses in
// metadata.output and in response); POST /v1beta/batches/{id}:cancel. Each request is
// answered at the end by the fake's generateContent logic (its checks and its Script, which
// sees each request); an error answer becomes a google.rpc.Status with the gRPC code of its
// status and its message, without details (genai's JobError reads details as strings, so a
// RetryInfo object there would not decode).

// SetBatchDelay sets how long batches submitted from now on run before they end on their own
// (default DefaultBatchDelay); negative: only EndBatches ends them.
func (s *GeminiServer) SetBatchDelay(d time.Duration) { s.batches.setDelay(d) }

// EndBatches ends every open batch now, answering its requests, and returns how many it ended.
func (s *GeminiServer) EndBatches() int { return s.batches.end() }

// BatchCounts returns how many batches, and requests in them, were submitted so far.
func (s *GeminiServer) BatchCounts() (batches, requests int) { return s.batches.counts() }

var (
	geminiBatchCreateRE = regexp.MustCompile(`^/v1beta/models/([^/:]+):batchGenerateContent$`)
	geminiBatchRE       = regexp.MustCompile(`^/v1beta/batches/([^/:]+)(:cancel)?$`)
)

// grpcCodes are the gRPC codes of the google.rpc.Status status names.
var grpcCodes = map[string]int{"CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
	"NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
	"ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15,
	"UNAUTHENTICATED": 16}

// isGeminiBatchPath reports whether path is one of batch mode's.
func isGeminiBatchPath(path string) bool {
	return geminiBatchCreateRE.MatchString(path) || geminiBatchRE.MatchString(path)
}

// answerLine answers one batch request with the generateContent endpoint.
func (s *GeminiServer) answerLine(l fakeBatchLine) fakeOutcome {
	s.mu.Lock()
	key := s.batchKey
	s.mu.Unlock()
	h := http.Header{"Content-Type": {"application/json"}, "X-Goog-Api-Key": {key}}
	return serveLine(s.serve, http.MethodPost, "/v1beta/models/"+l.Model+":generateContent", h, l.Body)
}

// serveBatch serves batch mode's paths.
func (s *GeminiServer) serveBatch(w http.ResponseWriter, r *http.Request) {
	body, _ := readGeminiBody(r)
	write := func(reply GeminiReply) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(reply.Status)
		_, _ = w.Write([]byte(reply.Body))
	}
	key := r.Header.Get("x-goog-api-key")
	if key == "" || s.APIKey != "" && key != s.APIKey {
		write(GeminiReply{Status: 400, Body: GeminiErrorBody(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "")})
		return
	}
	if m := geminiBatchCreateRE.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost {
		write(s.createBatch(m[1], key, body))
		return
	}
	m := geminiBatchRE.FindStringSubmatch(r.URL.Path)
	switch {
	case m != nil && m[2] == "" && r.Method == http.MethodGet:
		write(s.batchOperation(s.batches.get(m[1]), m[1]))
	case m != nil && m[2] == ":cancel" && r.Method == http.MethodPost:
		if s.batches.cancelBatch(m[1]) == nil {
			write(s.batchOperation(nil, m[1]))
			return
		}
		write(GeminiReply{Status: 200, Body: "{}"})
	default:
		write(GeminiReply{Status: 404, Body: GeminiErrorBody(404, "NOT_FOUND", "path not found: "+r.URL.Path, "")})
	}
}

// createBatch checks and stores a batch of model.
func (s *GeminiServer) createBatch(model, key string, body []byte) GeminiReply {
	bad := func(format string, args ...any) GeminiReply {
		return GeminiReply{Status: 400, Body: GeminiErrorBody(400, "INVALID_ARGUMENT", fmt.Sprintf(format, args...), "")}
	}
	var req struct {
		Batch struct {
			DisplayName string `json:"displayName"`
			InputConfig struct {
				Requests struct {
					Requests []struct {
						Request  map[string]json.RawMessage `json:"request"`
						Metadata map[string]string          `json:"metadata"`
					} `json:"requests"`
				} `json:"requests"`
			} `json:"inputConfig"`
			Priority json.RawMessage `json:"priority"`
		} `json:"batch"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return bad("Invalid JSON payload received. %v", err)
	}
	if req.Batch.DisplayName == "" {
		return bad("* BatchGenerateContentRequest.batch.display_name: display_name is required")
	}
	reqs := req.Batch.InputConfig.Requests.Requests
	if len(reqs) == 0 {
		return bad("* BatchGenerateContentRequest.batch.input_config: no requests")
	}
	seen := map[string]bool{}
	lines := make([]fakeBatchLine, 0, len(reqs))
	for i, ir := range reqs {
		id := ir.Metadata["key"]
		if id == "" || seen[id] {
			return bad("requests[%d].metadata.key must be set and unique", i)
		}
		seen[id] = true
		if m, ok := ir.Request["model"]; ok {
			var name string
			if json.Unmarshal(m, &name) != nil || name != "models/"+model {
				return bad("requests[%d].request.model %s is not models/%s", i, m, model)
			}
			delete(ir.Request, "model")
		}
		line, err := json.Marshal(ir.Request)
		if err != nil {
			return bad("requests[%d].request: %v", i, err)
		}
		probe, _ := http.NewRequest(http.MethodPost, "http://fake/v1beta/models/"+model+":generateContent", nil)
		probe.Header.Set("x-goog-api-key", key)
		if reply := s.answer(probe, line); reply.Status != http.StatusOK {
			return reply
		}
		lines = append(lines, fakeBatchLine{CustomID: id, Model: model, Body: line})
	}
	s.mu.Lock()
	s.batchKey = key
	s.mu.Unlock()
	return s.batchOperation(s.batches.submit(lines, map[string]string{"model": model, "displayName": req.Batch.DisplayName}), "")
}

// batchOperation renders the Operation of fb (404 when nil).
func (s *GeminiServer) batchOperation(fb *fakeBatch, id string) GeminiReply {
	if fb == nil {
		return GeminiReply{Status: 404, Body: GeminiErrorBody(404, "NOT_FOUND", "Requested entity was not found. (batches/"+id+")", "")}
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	name := "batches/" + fb.id
	meta := map[string]any{"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
		"name": name, "model": "models/" + fb.extra["model"], "displayName": fb.extra["displayName"],
		"createTime": ts(fb.created), "updateTime": ts(time.Now())}
	ok, failed := 0, 0
	var responses []any
	for _, o := range fb.outcomes {
		item := map[string]any{"metadata": map[string]any{"key": o.CustomID}}
		if o.Status == http.StatusOK {
			ok++
			item["response"] = json.RawMessage(o.Body)
		} else {
			failed++
			var eb struct {
				Error struct {
					Message string `json:"message"`
					Status  string `json:"status"`
				} `json:"error"`
			}
			_ = json.Unmarshal(o.Body, &eb)
			code, known := grpcCodes[eb.Error.Status]
			if !known {
				code = grpcCodes["INTERNAL"]
			}
			// no details: genai decodes an inlined error's details as strings (JobError)
			item["error"] = map[string]any{"code": code, "message": eb.Error.Message}
		}
		responses = append(responses, item)
	}
	pending := 0
	state := "BATCH_STATE_RUNNING"
	switch {
	case fb.cancelled:
		state = "BATCH_STATE_CANCELLED"
	case fb.ended:
		state = "BATCH_STATE_SUCCEEDED"
	default:
		pending = len(fb.lines)
	}
	meta["state"] = state
	meta["batchStats"] = map[string]any{"requestCount": strconv.Itoa(len(fb.lines)),
		"successfulRequestCount": strconv.Itoa(ok), "failedRequestCount": strconv.Itoa(failed),
		"pendingRequestCount": strconv.Itoa(pending)}
	op := map[string]any{"name": name, "metadata": meta}
	if fb.ended {
		op["done"] = true
		meta["endTime"] = ts(fb.endedAt)
		if !fb.cancelled {
			out := map[string]any{"inlinedResponses": map[string]any{"inlinedResponses": responses}}
			meta["output"] = out
			op["response"] = map[string]any{"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput",
				"inlinedResponses": out["inlinedResponses"]}
		}
	}
	b, err := json.Marshal(op)
	if err != nil {
		panic(err) // JSON bodies and plain values
	}
	return GeminiReply{Status: 200, Body: string(b)}
}
