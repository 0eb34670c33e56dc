package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSavedSchemas(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	tok, _ := ts.register("editor@example.com", "Schemas Inc")
	c := ts.bearer(tok)

	created := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema, "tags": []string{"crm"}})
	id := created.str("id")
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, created.str("content_hash"))
	require.EqualValues(t, 4, created.get("property_count"))
	require.EqualValues(t, 2, created.get("expertise_count"))
	props := created.get("schema_content.root.properties").(map[string]any)
	country := props["country"].(map[string]any)
	require.Equal(t, true, country["is_key"], "search_key spelling is stored as is_key")
	require.NotContains(t, country, "search_key")
	require.Equal(t, []any{}, created.get("ai_suggestions"))

	ts.clock.Advance(time.Second)
	second := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema, "is_pinned": true})
	ts.clock.Advance(time.Second)
	require.Equal(t, "Company (2)", second.str("name"))
	third := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Drug", "schema_content": companySchema})

	list := c.must(200, "GET", "/api/schema/saved", nil)
	require.EqualValues(t, 3, list.get("total"))
	items := list.body["schemas"].([]any)
	require.Equal(t, second.str("id"), items[0].(map[string]any)["id"], "pinned first")
	require.Equal(t, third.str("id"), items[1].(map[string]any)["id"], "then newest first")
	require.NotContains(t, items[0], "schema_content", "list items omit the content")

	require.EqualValues(t, 1, c.must(200, "GET", "/api/schema/saved?search=DRU", nil).get("total"))
	require.EqualValues(t, 1, c.must(200, "GET", "/api/schema/saved?tag=crm", nil).get("total"))

	c.must(409, "PATCH", "/api/schema/saved/"+id, map[string]any{"name": "Drug"})
	patched := c.must(200, "PATCH", "/api/schema/saved/"+id, map[string]any{"name": "Company v2", "is_pinned": true})
	require.Equal(t, "Company v2", patched.str("name"))
	require.Equal(t, created.str("content_hash"), patched.str("content_hash"))

	deleted := c.must(200, "DELETE", "/api/schema/saved/"+id, nil)
	require.Equal(t, true, deleted.get("is_deleted"))
	c.must(200, "DELETE", "/api/schema/saved/"+id, nil)
	require.EqualValues(t, 2, c.must(200, "GET", "/api/schema/saved", nil).get("total"))
	require.EqualValues(t, 3, c.must(200, "GET", "/api/schema/saved?include_deleted=true", nil).get("total"))
	c.must(200, "GET", "/api/schema/saved/"+id, nil)
	c.must(409, "PATCH", "/api/schema/saved/"+id, map[string]any{"name": "x"})
	restored := c.must(200, "POST", "/api/schema/saved/"+id+"/restore", nil)
	require.Equal(t, false, restored.get("is_deleted"))

	dup := c.must(200, "POST", "/api/schema/saved/"+id+"/duplicate", nil)
	require.Equal(t, "Company v2 (copy)", dup.str("name"))
	require.Equal(t, false, dup.get("is_pinned"))
	require.Equal(t, []any{"crm"}, dup.get("tags"))

	c.must(404, "GET", "/api/schema/saved/not-a-uuid", nil)
	c.must(404, "GET", "/api/schema/saved/00000000-0000-4000-8000-000000000000", nil)
}

func TestSchemaValidationErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	c := ts.bootstrap()
	bad := map[string]any{"root": map[string]any{"name": "X", "type": "object", "properties": map[string]any{
		"revenue": map[string]any{"type": "money"},
		"hq":      map[string]any{"type": "object", "is_key": true, "properties": map[string]any{"city": map[string]any{"type": "string"}}},
		"list":    map[string]any{"type": "array"},
	}}}
	r := c.must(400, "POST", "/api/schema/saved", map[string]any{"name": "Bad", "schema_content": bad})
	errs := toStrings(r.get("errors"))
	require.Len(t, errs, 3, "every problem is reported at once: %v", errs)
	require.Contains(t, errs, `root.properties.revenue.type: unknown type "money"`)
	require.Contains(t, errs, `root.properties.list: array has no items`)
	require.Contains(t, errs, `root.properties.hq.is_key: a search key must be a scalar`)

	tests := []struct {
		name string
		body any
	}{
		{"missing content", map[string]any{"name": "x"}},
		{"content not object", map[string]any{"name": "x", "schema_content": "text"}},
		{"empty name", map[string]any{"name": "", "schema_content": companySchema}},
		{"too many tags", map[string]any{"name": "x", "schema_content": companySchema, "tags": make([]string, 21)}},
		{"tags wrong type", map[string]any{"name": "x", "schema_content": companySchema, "tags": "crm"}},
		{"sample not object", map[string]any{"name": "x", "schema_content": companySchema, "sample_json": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.must(400, "POST", "/api/schema/saved", tt.body)
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	tokA, _ := ts.register("a@example.com", "Org A")
	tokB, _ := ts.register("b@example.com", "Org B")
	a, b := ts.bearer(tokA), ts.bearer(tokB)
	schema := a.must(200, "POST", "/api/schema/saved", map[string]any{"name": "A's", "schema_content": companySchema}).str("id")
	_, key := a.createKey(map[string]any{"name": "a-key"})
	keyID := key.str("id")
	_, orgKey := a.createKey(map[string]any{"name": "a-org-key", "role": "operator"})

	for _, tt := range []struct{ method, path string }{
		{"GET", "/api/schema/saved/" + schema},
		{"PATCH", "/api/schema/saved/" + schema},
		{"DELETE", "/api/schema/saved/" + schema},
		{"POST", "/api/schema/saved/" + schema + "/restore"},
		{"POST", "/api/schema/saved/" + schema + "/duplicate"},
		{"PATCH", "/api/auth/api-keys/" + keyID},
		{"DELETE", "/api/auth/api-keys/" + keyID},
		{"PATCH", "/api/auth/api-keys/" + orgKey.str("id")},
		{"DELETE", "/api/auth/api-keys/" + orgKey.str("id")},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := b.must(404, tt.method, tt.path, map[string]any{"name": "stolen"})
			require.NotContains(t, r.str("detail"), "organization")
		})
	}
	require.EqualValues(t, 0, b.must(200, "GET", "/api/schema/saved?include_deleted=true", nil).get("total"))
	require.EqualValues(t, 0, b.must(200, "GET", "/api/auth/api-keys?include_revoked=true", nil).get("total"))
	// A's objects are untouched.
	require.Equal(t, "A's", a.must(200, "GET", "/api/schema/saved/"+schema, nil).str("name"))
	require.Equal(t, true, a.must(200, "GET", "/api/auth/api-keys", nil).body["api_keys"].([]any)[0].(map[string]any)["is_active"])
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, nil, nil)
	tok, _ := ts.register("persist@example.com", "Persist Inc")
	key, _ := ts.bearer(tok).createKey(map[string]any{"name": "keep"})
	id := ts.key(key).must(200, "POST", "/api/schema/saved", map[string]any{"name": "Kept", "schema_content": companySchema}).str("id")
	ts.stop()

	ts = startServer(t, dir, nil, nil)
	ts.bearer(tok).must(200, "GET", "/api/auth/me", nil) // the token secret survived
	require.Equal(t, "Kept", ts.key(key).must(200, "GET", "/api/schema/saved/"+id, nil).str("name"))
	ts.anon().must(200, "POST", "/api/auth/login", map[string]any{"email": "persist@example.com", "password": "correct horse battery"})
	keys := ts.key(key).must(200, "GET", "/api/auth/api-keys", nil)
	require.EqualValues(t, 1, keys.body["api_keys"].([]any)[0].(map[string]any)["use_count"], "usage is flushed at shutdown")
}

func TestOptions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "OPENAI_API_KEY": "sk-test"}, nil)
	o := ts.bootstrap().must(200, "GET", "/api/enrichment/options", nil)
	models := o.body["models"].([]any)
	require.Len(t, models, 7)
	avail := toStrings(o.get("available_models"))
	require.Equal(t, []string{"openai::gpt-4o", "sim::fast", "sim::realistic", "sim::flaky"}, avail)
	require.Equal(t, "single_pass", o.str("default_strategy"))
	require.Equal(t, "German (Deutsch)", o.get("languages").(map[string]any)["de"])
	require.EqualValues(t, 10, o.get("limits.max_models"))
	require.NotContains(t, string(o.raw), "sk-test", "credentials never leave the server")
	first := models[0].(map[string]any)
	require.Equal(t, "anthropic::claude-sonnet-4-5-20250514", first["key"])
	require.Equal(t, "no_api_key", first["unavailable_reason"])
	var sim map[string]any
	for _, p := range o.get("providers").([]any) {
		if p.(map[string]any)["name"] == "sim" {
			sim = p.(map[string]any)
		}
	}
	require.NotNil(t, sim, "every provider reports its limit")
	require.EqualValues(t, 8, sim["limit"], "an idle provider is at its ceiling")
	require.EqualValues(t, 8, sim["ceiling"])
}
