package llmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The OpenAI fake's Batch API: POST /files (multipart, purpose "batch", a JSON Lines file
// whose lines are {custom_id, method "POST", url "/v1/chat/completions", body}), POST /batches,
// GET /batches/{id}, POST /batches/{id}/cancel and GET /files/{id}/content (the output and
// error files). Every line's body is answered by the fake's /chat/completions logic (its
// checks, its Script, which sees each line as a request), validated against the description
// like a realtime call; 2xx answers go to the output file, others to the error file.

// openAIFiles are the files uploaded to or produced by an OpenAI fake.
type openAIFiles struct {
	mu    sync.Mutex
	seq   int
	files map[string][]byte
}

func (f *openAIFiles) put(content []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("file-fake%06d", f.seq)
	f.files[id] = content
	return id
}

func (f *openAIFiles) get(id string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[id]
	return b, ok
}

// SetBatchDelay sets how long batches submitted from now on run before they end on their own
// (default DefaultBatchDelay); negative: only EndBatches ends them.
func (s *OpenAIServer) SetBatchDelay(d time.Duration) { s.batches.setDelay(d) }

// EndBatches ends every open batch now, answering its lines, and returns how many it ended.
func (s *OpenAIServer) EndBatches() int { return s.batches.end() }

// BatchCounts returns how many batches, and requests in them, were submitted so far.
func (s *OpenAIServer) BatchCounts() (batches, requests int) { return s.batches.counts() }

// isOpenAIBatchPath reports whether path is one of the Batch API's.
func isOpenAIBatchPath(path string) bool {
	return strings.Contains(path, "/batches") || strings.Contains(path, "/files")
}

// answerLine answers one line with the realtime endpoint.
func (s *OpenAIServer) answerLine(l fakeBatchLine) fakeOutcome {
	h := http.Header{"Content-Type": {"application/json"}}
	if s.apiKey != "" {
		h.Set("Authorization", "Bearer "+s.apiKey)
	}
	return serveLine(validated(openAISpec, &s.violations, s.serve), http.MethodPost, "/v1/chat/completions", h, l.Body)
}

// serveBatch serves the Batch API paths.
func (s *OpenAIServer) serveBatch(w http.ResponseWriter, r *http.Request) {
	if s.flavor != OpenAIFlavorOpenAI {
		writeOpenAI(w, http.StatusNotFound, nil, OpenAIErrorBody("Invalid URL ("+r.Method+" "+r.URL.Path+")", "invalid_request_error", ""))
		return
	}
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeOpenAI(w, http.StatusUnauthorized, nil, OpenAIErrorBody("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && path == "/files":
		s.uploadFile(w, r)
	case r.Method == http.MethodPost && path == "/batches":
		s.createBatch(w, r)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "batches":
		s.writeBatch(w, s.batches.get(parts[1]), parts[1])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "batches" && parts[2] == "cancel":
		s.writeBatch(w, s.batches.cancelBatch(parts[1]), parts[1])
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "files" && parts[2] == "content":
		content, ok := s.files.get(parts[1])
		if !ok {
			writeOpenAI(w, http.StatusNotFound, nil, OpenAIErrorBody("No such File object: "+parts[1], "invalid_request_error", ""))
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(content)
	default:
		writeOpenAI(w, http.StatusNotFound, nil, OpenAIErrorBody("Invalid URL ("+r.Method+" "+r.URL.Path+")", "invalid_request_error", ""))
	}
}

// openAIInputLine is one line of a batch input file (unknown fields are rejected).
type openAIInputLine struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// uploadFile stores a batch input file after checking it like the vendor.
func (s *OpenAIServer) uploadFile(w http.ResponseWriter, r *http.Request) {
	bad := func(msg string) {
		writeOpenAI(w, http.StatusBadRequest, nil, OpenAIErrorBody(msg, "invalid_request_error", ""))
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		bad("the upload must be multipart/form-data")
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var purpose, filename string
	var content []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			bad("malformed multipart body: " + err.Error())
			return
		}
		data, _ := io.ReadAll(p)
		switch p.FormName() {
		case "purpose":
			purpose = string(data)
		case "file":
			filename, content = p.FileName(), data
		default:
			bad("unknown form field " + p.FormName())
			return
		}
	}
	if purpose != "batch" || filename == "" {
		bad("purpose must be 'batch' and a file must be sent")
		return
	}
	if msg := checkOpenAIInput(content); msg != "" {
		bad(msg)
		return
	}
	id := s.files.put(content)
	b, err := json.Marshal(map[string]any{"id": id, "object": "file", "bytes": len(content), "created_at": time.Now().Unix(),
		"filename": filename, "purpose": "batch", "status": "processed"})
	if err != nil {
		panic(err) // plain values
	}
	writeOpenAI(w, http.StatusOK, nil, string(b))
}

// checkOpenAIInput checks a batch input file: each line a request of POST
// /v1/chat/completions with a unique custom_id and an object body.
func checkOpenAIInput(content []byte) string {
	seen := map[string]bool{}
	n := 0
	for i, raw := range bytes.Split(content, []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		n++
		var l openAIInputLine
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return fmt.Sprintf("line %d is not a batch request: %v", i+1, err)
		}
		switch {
		case l.CustomID == "" || seen[l.CustomID]:
			return fmt.Sprintf("line %d: custom_id %q is empty or not unique", i+1, l.CustomID)
		case l.Method != http.MethodPost || l.URL != "/v1/chat/completions":
			return fmt.Sprintf("line %d: method and url must be POST /v1/chat/completions", i+1)
		case len(l.Body) == 0 || l.Body[0] != '{':
			return fmt.Sprintf("line %d: body must be an object", i+1)
		}
		seen[l.CustomID] = true
	}
	if n == 0 {
		return "the file has no requests"
	}
	return ""
}

// createBatch creates a batch on an uploaded input file.
func (s *OpenAIServer) createBatch(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		InputFileID      string          `json:"input_file_id"`
		Endpoint         string          `json:"endpoint"`
		CompletionWindow string          `json:"completion_window"`
		Metadata         json.RawMessage `json:"metadata"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Endpoint != "/v1/chat/completions" || req.CompletionWindow != "24h" {
		writeOpenAI(w, http.StatusBadRequest, nil, OpenAIErrorBody("invalid batch: endpoint must be /v1/chat/completions and completion_window 24h", "invalid_request_error", ""))
		return
	}
	content, ok := s.files.get(req.InputFileID)
	if !ok {
		writeOpenAI(w, http.StatusNotFound, nil, OpenAIErrorBody("No such File object: "+req.InputFileID, "invalid_request_error", ""))
		return
	}
	var lines []fakeBatchLine
	for _, raw := range bytes.Split(content, []byte("\n")) {
		var l openAIInputLine
		if json.Unmarshal(raw, &l) == nil {
			lines = append(lines, fakeBatchLine{CustomID: l.CustomID, Body: l.Body})
		}
	}
	fb := s.batches.submit(lines, map[string]string{"input_file_id": req.InputFileID})
	s.writeBatch(w, fb, fb.id)
}

// writeBatch answers the Batch object of fb (404 when nil), writing its output and error
// files the first time it is seen ended.
func (s *OpenAIServer) writeBatch(w http.ResponseWriter, fb *fakeBatch, id string) {
	if fb == nil {
		writeOpenAI(w, http.StatusNotFound, nil, OpenAIErrorBody("No batch found with id '"+id+"'.", "invalid_request_error", ""))
		return
	}
	completed, failed := 0, 0
	var out, errs bytes.Buffer
	for i, o := range fb.outcomes {
		line := map[string]any{"id": fmt.Sprintf("batch_req_%s_%d", fb.id, i), "custom_id": o.CustomID,
			"response": map[string]any{"status_code": o.Status, "request_id": fmt.Sprintf("req_%d", i), "body": json.RawMessage(o.Body)},
			"error":    nil}
		if !json.Valid(o.Body) || o.Body[0] != '{' {
			line["response"] = nil
			line["error"] = map[string]any{"code": "server_error", "message": "the request failed"}
		}
		b, err := json.Marshal(line)
		if err != nil {
			panic(err) // valid JSON bodies
		}
		if o.Status >= 200 && o.Status <= 299 && line["response"] != nil {
			completed++
			out.Write(append(b, '\n'))
		} else {
			failed++
			errs.Write(append(b, '\n'))
		}
	}
	status := "in_progress"
	obj := map[string]any{"id": fb.id, "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": fb.extra["input_file_id"],
		"completion_window": "24h", "created_at": fb.created.Unix(),
		"request_counts": map[string]any{"total": len(fb.lines), "completed": completed, "failed": failed}}
	switch {
	case fb.cancelled:
		status = "cancelled"
		obj["cancelled_at"] = fb.endedAt.Unix()
	case fb.ended:
		status = "completed"
		obj["completed_at"] = fb.endedAt.Unix()
		s.mu.Lock()
		files := s.outputFiles[fb.id]
		if files == nil {
			files = map[string]string{}
			if out.Len() > 0 {
				files["output_file_id"] = s.files.put(out.Bytes())
			}
			if errs.Len() > 0 {
				files["error_file_id"] = s.files.put(errs.Bytes())
			}
			s.outputFiles[fb.id] = files
		}
		s.mu.Unlock()
		for k, v := range files {
			obj[k] = v
		}
	case fb.cancel:
		status = "cancelling"
	}
	obj["status"] = status
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err) // plain values
	}
	writeOpenAI(w, http.StatusOK, nil, string(b))
}
