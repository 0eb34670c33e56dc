package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

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

// runOverhead measures what the server adds to one LLM call: the same number of calls made
// directly to an OpenAI-compatible fake upstream and through the server (single_pass, one
// model, POST /api/single/enrich/sync), in alternating rounds; the figure is the paired
// difference.
func runOverhead(args []string) error {
	var calls, round int
	var out string
	if err := flags("overhead", args, func(fs *flag.FlagSet) {
		fs.IntVar(&calls, "calls", 1000, "calls per path")
		fs.IntVar(&round, "round", 50, "calls per path per round")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	upstream := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(chatReply)
	}}
	go func() { _ = upstream.Serve(ln) }()
	defer upstream.Shutdown()
	upstreamURL := "http://" + ln.Addr().String() + "/v1"

	dir, err := tempDir()
	if err != nil {
		return err
	}
	defer removeAll(dir)
	models := filepath.Join(dir, "models.json")
	if err := os.WriteFile(models, []byte(`{"models": [{"key": "ollama::bench", "upstream_model": "bench"}]}`), 0o600); err != nil {
		return err
	}
	srv, err := startServer("ENRICHER_BOOTSTRAP_KEY="+benchKey, "OLLAMA_BASE_URL="+upstreamURL, "ENRICHER_MODELS_FILE="+models)
	if err != nil {
		return err
	}
	defer srv.stop()
	c := benchClient(srv.Base, 4)
	up := newAPI(upstreamURL, 4)
	enrich := client.SyncRequest{EnrichRequest: client.EnrichRequest{EntityData: map[string]any{"name": "Acme"},
		TargetSchema: json.RawMessage(overheadSchema), Models: []string{"ollama::bench"}}}
	throughServer := func() error {
		out, err := c.EnrichSync(context.Background(), enrich)
		if err == nil && !out.Success {
			err = fmt.Errorf("job %s ended %s", out.JobID, out.Status)
		}
		return err
	}
	direct := map[string]any{"model": "bench", "messages": []map[string]string{{"role": "system", "content": "You fill in facts."},
		{"role": "user", "content": "Company: Acme. Answer with JSON."}}, "response_format": map[string]string{"type": "json_object"}}
	// Warm both paths (connections, caches).
	for range 20 {
		if err := up.call("POST", "/chat/completions", direct, nil); err != nil {
			return err
		}
		if err := throughServer(); err != nil {
			return fmt.Errorf("warm-up through the server: %w", err)
		}
	}
	var viaDirect, viaServer, diff []time.Duration
	for len(viaServer) < calls {
		start := len(viaDirect)
		for range round {
			t0 := time.Now()
			if err := up.call("POST", "/chat/completions", direct, nil); err != nil {
				return err
			}
			viaDirect = append(viaDirect, time.Since(t0))
		}
		for i := range round {
			t0 := time.Now()
			if err := throughServer(); err != nil {
				return fmt.Errorf("through the server: %w", err)
			}
			d := time.Since(t0)
			viaServer = append(viaServer, d)
			diff = append(diff, d-viaDirect[start+i])
		}
	}
	fmt.Println("limit: 0 added latency (the direct call); target added p50 ≤ 0.3 ms")
	return report("overhead", []string{"calls", "direct_p50_ms", "server_p50_ms", "added_p50_ms", "added_p99_ms"}, []Row{{
		"calls": len(viaServer), "direct_p50_ms": ms(percentile(viaDirect, 50)), "server_p50_ms": ms(percentile(viaServer, 50)),
		"added_p50_ms": ms(percentile(diff, 50)), "added_p99_ms": ms(percentile(diff, 99)),
	}}, out)
}
