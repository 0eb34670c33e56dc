package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	runChildIfAsked()
	goleak.VerifyTestMain(m,
		// badger and ristretto start process-wide goroutines that outlive a DB.
		goleak.IgnoreAnyFunction("github.com/dgraph-io/ristretto/v2/z.(*AllocatorPool).freeupAllocators"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		// fasthttp keeps a process-wide Date updater, and a stopped worker pool's cleaner
		// sleeps out its idle period (10 s) before it returns.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// The adapters' fasthttp clients sweep idle connections with goroutines that return by
		// themselves once the pool is empty (after up to 10 s).
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"), // the process-wide dialer
		// protoactor starts one dead-letter throttle goroutine per actor system and never stops it.
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	)
}

// testBootstrapKey is the bootstrap key of test servers.
const testBootstrapKey = "ent_TestBootstrapKey0123456789abcdefghijklmn"

// fakeClock is a settable clock shared by a test and its server.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testServer is one in-process server on a loopback port with its own data directory.
type testServer struct {
	t     *testing.T
	base  string
	dir   string
	clock *fakeClock
	env   map[string]string
	stop  func()
}

// startWithModels starts a server with the bootstrap key whose models file holds modelsJSON
// (a {"models": [...]} document).
func startWithModels(t *testing.T, modelsJSON string) *testServer {
	t.Helper()
	models := filepath.Join(t.TempDir(), "models.json")
	require.NoError(t, os.WriteFile(models, []byte(modelsJSON), 0o600))
	return startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_MODELS_FILE": models}, nil)
}

// startServer runs the real server (Open + Run) on 127.0.0.1:0 with data in dir.
// Settings come from env (ENRICHER_* names, as a user would set them).
func startServer(t *testing.T, dir string, env map[string]string, clock *fakeClock) *testServer {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}
	cfg, err := parseConfig(args, getenv, io.Discard)
	require.NoError(t, err)
	if clock == nil {
		clock = &fakeClock{now: time.Now()}
	}
	m, err := Open(cfg, Env{Getenv: getenv, Log: testWriter{t}, Now: clock.Now})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	ts := &testServer{t: t, base: "http://" + m.Addr(), dir: dir, clock: clock, env: env}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// testWriter sends server logs to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client calls the API with one credential.
type client struct {
	ts     *testServer
	header string // "X-API-Key" or "Authorization"
	value  string
}

func (ts *testServer) anon() *client        { return &client{ts: ts} }
func (ts *testServer) key(k string) *client { return &client{ts: ts, header: "X-API-Key", value: k} }
func (ts *testServer) bearer(tok string) *client {
	return &client{ts: ts, header: "Authorization", value: "Bearer " + tok}
}
func (ts *testServer) bootstrap() *client { return ts.key(testBootstrapKey) }

// response is a decoded reply.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// str returns the string at a dotted path of the body ("user.role").
func (r response) str(path string) string {
	v := r.get(path)
	s, _ := v.(string)
	return s
}

func (r response) get(path string) any {
	var cur any = r.body
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// do sends body (marshalled unless it is a string, []byte or io.Reader; a reader other than
// *strings.Reader or *bytes.Reader goes out chunked) and decodes the JSON answer.
func (c *client) do(method, path string, body any, headers ...string) response {
	c.ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		enc, err := json.Marshal(b)
		require.NoError(c.ts.t, err)
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.ts.base+path, rd)
	require.NoError(c.ts.t, err)
	if c.header != "" {
		req.Header.Set(c.header, c.value)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.ts.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(c.ts.t, err)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(c.ts.t, json.Unmarshal(raw, &out.body), string(raw))
	}
	return out
}

// must asserts the status and returns the response.
func (c *client) must(status int, method, path string, body any, headers ...string) response {
	c.ts.t.Helper()
	r := c.do(method, path, body, headers...)
	require.Equal(c.ts.t, status, r.status, "%s %s: %s", method, path, r.raw)
	if status >= 400 {
		require.NotEmpty(c.ts.t, r.str("detail"), "error responses carry a detail: %s", r.raw)
	}
	return r
}

// register creates an account and returns the access token and the response.
func (ts *testServer) register(email, org string) (string, response) {
	r := ts.anon().must(200, "POST", "/api/auth/register", map[string]any{
		"email": email, "password": "correct horse battery", "organization_name": org,
	})
	return r.str("access_token"), r
}

// createKey creates an API key with the given fields and returns its value.
func (c *client) createKey(fields map[string]any) (string, response) {
	c.ts.t.Helper()
	r := c.must(200, "POST", "/api/auth/api-keys", fields)
	return r.str("key"), r
}

// companySchema is the example Company schema, trimmed.
var companySchema = map[string]any{
	"root": map[string]any{
		"name": "Company", "description": "A business", "type": "object",
		"properties": map[string]any{
			"name":         map[string]any{"type": "string", "is_key": true, "expertise": "profile"},
			"country":      map[string]any{"type": "string", "search_key": true, "expertise": "profile"},
			"founded_year": map[string]any{"type": "integer", "expertise": "profile"},
			"revenue_usd":  map[string]any{"type": "number", "expertise": "financial"},
		},
	},
	"expertise_domains": map[string]any{
		"profile":   map[string]any{"name": "Corporate profile", "description": "Identity"},
		"financial": map[string]any{"name": "Financial analyst", "description": "Money"},
	},
}
