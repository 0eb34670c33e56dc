package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher/transport/client"
)

// overheadSchema is a small schema, so the figures show the server's cost per call rather
// than JSON volume.
const overheadSchema = `{"root": {"name": "Company", "type": "object", "properties": {
	"name": {"type": "string", "is_key": true}, "founded_year": {"type": "integer"}, "ceo": {"type": "string"}}}}`

// chatReply is the fake upstream's answer: an OpenAI chat completion whose content is valid
// for overheadSchema.
var chatReply = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1764000000,"model":"bench",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"{\"name\":\"Acme\",\"founded_year\":1990,\"ceo\":\"Ada\"}","refusal":null},` +
	`"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":300,"completion_tokens":20,"total_tokens":320}}`)

// fakeModel is the one model the server knows in the scenarios behind a fake upstream.
const fakeModel = "ollama::bench"

// fakeUpstream is an OpenAI-compatible upstream on loopback that answers every request with
// chatReply at once, and a real server process whose only model (fakeModel) calls it: the
// setup of the overhead and http-sync scenarios. stop ends both; the harness owns them.
type fakeUpstream struct {
	URL string // the upstream's base URL, ending in /v1
	Srv *server

	upstream *fasthttp.Server
	dir      string // holds the models file
}

// startFakeUpstream starts the fake upstream, then the server with env (KEY=VALUE) added.
func startFakeUpstream(env ...string) (*fakeUpstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeUpstream{URL: "http://" + ln.Addr().String() + "/v1", upstream: &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(chatReply)
	}}}
	go func() { _ = f.upstream.Serve(ln) }()
	if f.dir, err = tempDir(); err != nil {
		f.stop()
		return nil, err
	}
	models := filepath.Join(f.dir, "models.json")
	if err := os.WriteFile(models, []byte(`{"models": [{"key": "`+fakeModel+`", "upstream_model": "bench"}]}`), 0o600); err != nil {
		f.stop()
		return nil, err
	}
	f.Srv, err = startServer(append([]string{"ENRICHER_BOOTSTRAP_KEY=" + benchKey, "OLLAMA_BASE_URL=" + f.URL,
		"ENRICHER_MODELS_FILE=" + models}, env...)...)
	if err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

// stop ends the server, then the upstream, and removes the models file.
func (f *fakeUpstream) stop() {
	if f.Srv != nil {
		f.Srv.stop()
	}
	_ = f.upstream.Shutdown()
	if f.dir != "" {
		removeAll(f.dir)
	}
}

// syncEnrichment is the request of one sync enrichment on fakeModel (single_pass).
var syncEnrichment = client.SyncRequest{EnrichRequest: client.EnrichRequest{EntityData: map[string]any{"name": "Acme"},
	TargetSchema: json.RawMessage(overheadSchema), Models: []string{fakeModel}}}

// enrichSync runs one sync enrichment through the server; a job that did not succeed is an
// error.
func enrichSync(c *client.Client) error {
	out, err := c.EnrichSync(context.Background(), syncEnrichment)
	if err == nil && !out.Success {
		err = fmt.Errorf("job %s ended %s", out.JobID, out.Status)
	}
	return err
}
