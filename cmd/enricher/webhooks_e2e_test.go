package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hook is one request a test receiver got.
type hook struct {
	id, timestamp, signature string
	body                     []byte
	payload                  map[string]any
}

// receiver is a webhook endpoint on loopback. Answer decides the status of the n-th request
// (1-based; default 200); it may block to play a receiver that never answers.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	n      int
	got    chan hook
	Answer func(n int, r *http.Request) int
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) int) *receiver {
	rc := &receiver{got: make(chan hook, 64), Answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		h := hook{id: r.Header.Get("webhook-id"), timestamp: r.Header.Get("webhook-timestamp"), signature: r.Header.Get("webhook-signature"), body: body}
		_ = json.Unmarshal(body, &h.payload)
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.mu.Unlock()
		rc.got <- h
		status := http.StatusOK
		if rc.Answer != nil {
			status = rc.Answer(n, r)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next waits for the next request.
func (rc *receiver) next(t *testing.T) hook {
	t.Helper()
	select {
	case h := <-rc.got:
		return h
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook within 15s")
	}
	return hook{}
}

// checkSignature verifies a request the way a receiver would, with crypto/hmac only: the key
// is the base64 part of the whsec_ secret, the signed text "<id>.<timestamp>.<body>".
func checkSignature(t *testing.T, secret string, h hook) {
	t.Helper()
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.id + "." + h.timestamp + "." + string(h.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	require.True(t, hmac.Equal([]byte(want), []byte(h.signature)), "signature %q, computed %q", h.signature, want)
}

// deliveriesWhen polls the job's webhook list until ok accepts it.
func (c *client) deliveriesWhen(jobID string, ok func([]any) bool) []any {
	c.ts.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := c.must(200, "GET", "/api/llm/jobs/"+jobID+"/webhooks", nil)
		list, _ := r.get("deliveries").([]any)
		if ok(list) {
			return list
		}
		if time.Now().After(deadline) {
			c.ts.t.Fatalf("deliveries never as expected: %s", r.raw)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func allDelivered(n int) func([]any) bool {
	return func(list []any) bool {
		if len(list) != n {
			return false
		}
		for _, d := range list {
			if d.(map[string]any)["status"] != "delivered" {
				return false
			}
		}
		return true
	}
}

func TestWebhooksAreSignedAndListed(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_FETCH_ALLOW_PRIVATE": "true"}, nil)
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	single := map[string]any{"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"}, "schema_id": schemaID,
		"models": []string{"sim::fast"}, "webhook_url": rc.URL + "/hook"}

	// Secret routes are the owner's; without a secret a webhook job is refused.
	opKey, _ := c.createKey(map[string]any{"name": "operator", "role": "operator"})
	ts.key(opKey).must(403, "GET", "/api/auth/webhook-secret", nil)
	ts.key(opKey).must(403, "POST", "/api/auth/webhook-secret", nil)
	none := c.must(200, "GET", "/api/auth/webhook-secret", nil)
	require.Equal(t, false, none.get("exists"))
	require.Nil(t, none.get("created_at"))
	r := c.must(400, "POST", "/api/single/enrich/stream", single)
	require.Contains(t, r.str("detail"), "create a webhook secret first")

	shapes := newShapes(t, c.must(200, "GET", "/api/openapi.json", nil).raw)
	conform := func(name string, v any) { t.Helper(); require.Empty(t, shapes.conform(name, v), "%s: %v", name, v) }
	conform("WebhookSecretStatus", none.body)
	created := c.must(200, "POST", "/api/auth/webhook-secret", nil)
	conform("WebhookSecretCreated", created.body)
	first := created.str("secret")
	secret := c.must(200, "POST", "/api/auth/webhook-secret", nil).str("secret")
	require.NotEqual(t, first, secret, "POST rotates")
	has := c.must(200, "GET", "/api/auth/webhook-secret", nil)
	require.Equal(t, true, has.get("exists"))
	require.NotEmpty(t, has.str("created_at"))
	require.NotContains(t, string(has.raw), secret[6:], "the secret is shown once only")
	conform("WebhookSecretStatus", has.body)

	for _, bad := range []map[string]any{
		{"webhook_events": []string{"completed", "started"}},
		{"webhook_events": []string{"entity_completed"}}, // only for batches
	} {
		body := map[string]any{}
		for k, v := range single {
			body[k] = v
		}
		for k, v := range bad {
			body[k] = v
		}
		c.must(400, "POST", "/api/single/enrich/stream", body)
	}

	// A single job: its terminal event arrives signed with the current secret.
	jobID := ts.key(opKey).must(200, "POST", "/api/single/enrich/stream", single).str("job_id")
	h := rc.next(t)
	checkSignature(t, secret, h)
	require.Equal(t, "completed", h.payload["type"])
	require.Equal(t, jobID, h.payload["job_id"])
	require.Equal(t, "single_enrichment", h.payload["job_type"])
	require.Equal(t, "completed", h.payload["status"])
	data := h.payload["data"].(map[string]any)
	require.Equal(t, "completed", data["type"])
	require.NotNil(t, data["result"])
	conform("WebhookPayload", h.payload)
	list := ts.key(opKey).deliveriesWhen(jobID, allDelivered(1))
	conform("WebhookDeliveryList", ts.key(opKey).must(200, "GET", "/api/llm/jobs/"+jobID+"/webhooks", nil).body)
	d := list[0].(map[string]any)
	require.Equal(t, h.id, d["webhook_id"])
	require.Equal(t, "completed", d["event_type"])
	require.Equal(t, rc.URL+"/hook", d["url"])
	attempts := d["attempts"].([]any)
	require.Len(t, attempts, 1)
	require.EqualValues(t, 200, attempts[0].(map[string]any)["status_code"])

	// Another organization does not see the job's deliveries.
	tok, _ := ts.register("other@example.com", "Other Org")
	ts.bearer(tok).must(404, "GET", "/api/llm/jobs/"+jobID+"/webhooks", nil)

	// Schema jobs call back too.
	genID := c.must(200, "POST", "/api/schema/generate/stream", map[string]any{"entity_data": map[string]any{"name": "Roche", "country": "CH"},
		"model": "sim::fast", "webhook_url": rc.URL + "/schema"}).str("job_id")
	h = rc.next(t)
	checkSignature(t, secret, h)
	require.Equal(t, genID, h.payload["job_id"])
	require.Equal(t, "schema_generation", h.payload["job_type"])
	conform("WebhookPayload", h.payload)

	// A batch asking for entity events gets one per entity, then the terminal one.
	var entities []any
	for i := range 3 {
		entities = append(entities, map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"})
	}
	batchID := c.must(200, "POST", "/api/enrichment/batch/start", map[string]any{"entities": entities, "schema_id": schemaID,
		"models": []string{"sim::fast"}, "webhook_url": rc.URL + "/batch", "webhook_events": []string{"entity_completed", "completed"}}).str("job_id")
	ids := map[string]bool{}
	indices := map[float64]bool{}
	var types []string
	for range 4 {
		h := rc.next(t)
		checkSignature(t, secret, h)
		require.Equal(t, batchID, h.payload["job_id"])
		ids[h.id] = true
		types = append(types, h.payload["type"].(string))
		conform("WebhookPayload", h.payload)
		if h.payload["type"] == "entity_completed" {
			indices[h.payload["data"].(map[string]any)["entity_index"].(float64)] = true
		}
	}
	require.Len(t, ids, 4, "each event is its own delivery")
	require.Equal(t, map[float64]bool{0: true, 1: true, 2: true}, indices)
	require.Contains(t, types, "completed")
	c.deliveriesWhen(batchID, allDelivered(4))
}

func TestWebhookRetriedUntilTheReceiverAnswers(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Now()}
	var rc *receiver
	rc = newReceiver(t, func(n int, _ *http.Request) int {
		if n <= 3 {
			clock.Advance(time.Minute) // past the compressed schedule: the retry is due at once
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_FETCH_ALLOW_PRIVATE": "true",
		"ENRICHER_WEBHOOK_RETRY_SCHEDULE": "1s,2s"}, clock)
	c := ts.bootstrap()
	secret := c.must(200, "POST", "/api/auth/webhook-secret", nil).str("secret")
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	jobID := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"},
		"schema_id": schemaID, "models": []string{"sim::fast"}, "webhook_url": rc.URL, "webhook_events": []string{"completed", "failed"}}).str("job_id")

	var got []hook
	for range 4 {
		h := rc.next(t)
		checkSignature(t, secret, h)
		got = append(got, h)
	}
	for _, h := range got[1:] {
		require.Equal(t, got[0].id, h.id, "every retry carries the same webhook-id")
		require.Equal(t, string(got[0].body), string(h.body))
	}
	list := c.deliveriesWhen(jobID, allDelivered(1))
	attempts := list[0].(map[string]any)["attempts"].([]any)
	var statuses []any
	for _, a := range attempts {
		statuses = append(statuses, a.(map[string]any)["status_code"])
	}
	require.Equal(t, []any{503.0, 503.0, 503.0, 204.0}, statuses)
	require.NotNil(t, attempts[0].(map[string]any)["next_attempt_at"])
	require.Nil(t, attempts[3].(map[string]any)["next_attempt_at"])
}

func TestWebhookURLRefusedAtJobStart(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	c := ts.bootstrap()
	c.must(200, "POST", "/api/auth/webhook-secret", nil)
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	for _, tt := range []struct{ url, want string }{
		{"http://127.0.0.1:9/hook", "loopback"},
		{"http://169.254.169.254/latest/meta-data", "link-local"},
		{"ftp://example.com/hook", "only http and https"},
		{"https://user:pw@example.com/hook", "user info"},
	} {
		r := c.must(400, "POST", "/api/single/enrich/stream", map[string]any{"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"},
			"schema_id": schemaID, "models": []string{"sim::fast"}, "webhook_url": tt.url})
		require.Contains(t, r.str("detail"), "webhook_url: ")
		require.Contains(t, r.str("detail"), tt.want)
		c.must(400, "POST", "/api/enrichment/batch/start", map[string]any{"entities": []any{map[string]any{"name": "A", "country": "US"}},
			"schema_id": schemaID, "models": []string{"sim::fast"}, "webhook_url": tt.url})
		c.must(400, "POST", "/api/schema/generate/stream", map[string]any{"entity_data": map[string]any{"name": "A"},
			"model": "sim::fast", "webhook_url": tt.url})
	}
	jobs := c.must(200, "GET", "/api/llm/jobs", nil)
	require.EqualValues(t, 0, jobs.get("total"), "nothing was started")
}

func TestWebhookStoredBeforeAKillIsDeliveredAfterRestart(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 1 { // the first process dies while this attempt waits
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
		return http.StatusOK
	})
	t.Cleanup(func() { close(release) })
	dir := t.TempDir()
	env := []string{"ENRICHER_FETCH_ALLOW_PRIVATE=true"}
	cmd, base := startChild(t, dir, env...)
	ts := &testServer{t: t, base: base}
	c := ts.bootstrap()
	secret := c.must(200, "POST", "/api/auth/webhook-secret", nil).str("secret")
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	jobID := c.must(200, "POST", "/api/single/enrich/stream", map[string]any{"entity_data": map[string]any{"name": "Moderna Inc", "country": "US"},
		"schema_id": schemaID, "models": []string{"sim::fast"}, "webhook_url": rc.URL}).str("job_id")
	before := rc.next(t) // the job ended; its delivery is stored and its first attempt hangs
	require.Equal(t, "completed", c.must(200, "GET", "/api/llm/jobs/"+jobID, nil).str("status"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	_, ts.base = startChild(t, dir, env...)
	after := rc.next(t)
	checkSignature(t, secret, after)
	require.Equal(t, before.id, after.id, "the same delivery, with the same webhook-id")
	require.Equal(t, jobID, after.payload["job_id"])
	c.deliveriesWhen(jobID, allDelivered(1))
}
