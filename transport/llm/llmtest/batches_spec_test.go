package llmtest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBatchSpecsFindViolations proves the batch operations' checks can fail: each exchange
// is routed to its templated operation, valid ones pass, and a wrong batch object, results
// line (JSON Lines, checked line by line) or unknown path is reported.
func TestBatchSpecsFindViolations(t *testing.T) {
	t.Parallel()
	const (
		oaBatch = `{"id":"b1","object":"batch","endpoint":"/v1/chat/completions","input_file_id":"f1",` +
			`"completion_window":"24h","status":"in_progress","created_at":1}`
		oaLine = `{"id":"r1","custom_id":"c1","response":{"status_code":200,"request_id":"q","body":{}},"error":null}`
		anLine = `{"custom_id":"c1","result":{"type":"errored","error":{"type":"error","error":{"type":"api_error","message":"x"}}}}`
	)
	openAI := append(specSet{openAISpec}, openAIBatchSpecs...)
	anthropic := append(specSet{anthropicSpec}, anthropicBatchSpecs...)
	tests := []struct {
		name, method, path string
		set                specSet
		request            string // checked when status is 0
		status             int
		contentType, body  string
		want               string // "" when valid
	}{
		{name: "openai create valid", set: openAI, method: "POST", path: "/v1/batches",
			request: `{"input_file_id":"f1","endpoint":"/v1/chat/completions","completion_window":"24h"}`},
		{name: "openai create bad window", set: openAI, method: "POST", path: "/v1/batches",
			request: `{"input_file_id":"f1","endpoint":"/v1/chat/completions","completion_window":"1h"}`, want: "$.completion_window"},
		{name: "openai batch valid", set: openAI, method: "GET", path: "/v1/batches/b1", status: 200, body: oaBatch},
		{name: "openai batch bad status", set: openAI, method: "GET", path: "/v1/batches/b1", status: 200,
			body: strings.Replace(oaBatch, "in_progress", "sleeping", 1), want: "$.status"},
		{name: "openai cancel missing id", set: openAI, method: "POST", path: "/v1/batches/b1/cancel", status: 200,
			body: strings.Replace(oaBatch, `"id":"b1",`, "", 1), want: "missing property 'id'"},
		{name: "openai output valid", set: openAI, method: "GET", path: "/v1/files/f2/content", status: 200,
			contentType: "application/octet-stream", body: oaLine + "\n" + oaLine + "\n"},
		{name: "openai output bad second line", set: openAI, method: "GET", path: "/v1/files/f2/content", status: 200,
			contentType: "application/octet-stream", body: oaLine + "\n" + strings.Replace(oaLine, `"custom_id":"c1",`, "", 1), want: "line 2"},
		{name: "openai unknown path", set: openAI, method: "GET", path: "/v1/batches/b1/outputs", status: 200, body: oaBatch,
			want: "not found"},
		{name: "anthropic results valid", set: anthropic, method: "GET", path: "/v1/messages/batches/m1/results", status: 200,
			contentType: "application/x-jsonl", body: anLine + "\n"},
		{name: "anthropic results bad type", set: anthropic, method: "GET", path: "/v1/messages/batches/m1/results", status: 200,
			contentType: "application/x-jsonl", body: strings.Replace(anLine, `"errored"`, `"exploded"`, 1), want: "line 1"},
		{name: "anthropic create bad custom_id", set: anthropic, method: "POST", path: "/v1/messages/batches",
			request: `{"requests":[{"custom_id":"no spaces","params":{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}}]}`,
			want:    "custom_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := http.NewRequest(tt.method, "http://fake"+tt.path, strings.NewReader(tt.request))
			require.NoError(t, err)
			r.Header.Set("Content-Type", "application/json")
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			var got []string
			if tt.status == 0 {
				got = tt.set.checkRequest(r, []byte(tt.request))
			} else {
				got = tt.set.checkResponse(r, tt.status, http.Header{"Content-Type": {ct}}, []byte(tt.body))
			}
			if tt.want == "" {
				require.Empty(t, got)
				return
			}
			require.Contains(t, strings.Join(got, "\n"), tt.want)
		})
	}
}
