package main

import (
	"encoding/json"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// resourceRef matches the URL of a src= or href= attribute.
var resourceRef = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*["']?([^"'\s>]+)`)

func TestAPIDocsAccess(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	opKey, _ := ts.bootstrap().createKey(map[string]any{"name": "op", "role": "operator"})
	tokenQuery := "?token=" + url.QueryEscape(testBootstrapKey)
	for _, path := range []string{"/api/openapi.json", "/docs"} {
		t.Run(path, func(t *testing.T) {
			ts.anon().must(401, "GET", path, nil)
			ts.anon().must(401, "GET", path+"?token=ent_notAKeyAtAll0123456789abcdefghij", nil)
			ts.key(opKey).must(403, "GET", path, nil)
			ts.anon().must(403, "GET", path+"?token="+url.QueryEscape(opKey), nil)
			ts.bootstrap().must(200, "GET", path, nil)
			ts.anon().must(200, "GET", path+tokenQuery, nil)
		})
	}
	// A token in the query is accepted only where the contract allows it.
	ts.anon().must(401, "GET", "/api/enrichment/options"+tokenQuery, nil)
}

func TestOpenAPIDocumentServed(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	res := ts.bootstrap().must(200, "GET", "/api/openapi.json", nil)
	require.Equal(t, "application/json", res.header.Get("Content-Type"))
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(res.raw, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1."), doc.OpenAPI)
	require.Contains(t, doc.Paths["/api/single/enrich/stream"], "post")
	require.Contains(t, doc.Paths["/api/llm/stream/{job_id}"], "get")
}

func TestDocsPageIsSelfContained(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	res := ts.anon().must(200, "GET", "/docs?token="+url.QueryEscape(testBootstrapKey), nil)
	require.Equal(t, "text/html; charset=utf-8", res.header.Get("Content-Type"))
	csp := res.header.Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.Contains(t, csp, "script-src 'self';")
	html := string(res.raw)
	require.True(t, strings.Contains(html, `<script id="openapi-document" type="application/json">{"openapi":"3.1.`), "the document is inlined")
	require.True(t, strings.Contains(html, `"/api/single/enrich/stream"`), "the document is inlined")
	require.Equal(t, 3, strings.Count(html, "</script>"), "the inlined JSON cannot end its script block early")

	refs := resourceRef.FindAllStringSubmatch(html, -1)
	require.NotEmpty(t, refs)
	for _, m := range refs {
		ref := m[1]
		require.False(t, strings.Contains(ref, "//"), "external or protocol-relative resource %q", ref)
		u, err := url.Parse(ref)
		require.NoError(t, err)
		if u.Scheme == "data" {
			continue // inline, no request
		}
		require.Empty(t, u.Scheme, "resource %q has a scheme", ref)
		// Every referenced file is served by this server, without credentials.
		asset := ts.anon().do("GET", "/"+strings.TrimPrefix(ref, "/"), nil)
		require.Equal(t, 200, asset.status, ref)
		require.NotEmpty(t, asset.raw, ref)
	}
}

func TestDocsAssets(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	for path, ctype := range map[string]string{
		"/docs/assets/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"/docs/assets/init.js":              "text/javascript; charset=utf-8",
		"/docs/assets/swagger-ui.css":       "text/css; charset=utf-8",
		"/docs/assets/LICENSE":              "text/plain; charset=utf-8",
	} {
		res := ts.anon().must(200, "GET", path, nil)
		require.Equal(t, ctype, res.header.Get("Content-Type"), path)
		require.NotEmpty(t, res.raw, path)
	}
	for _, path := range []string{"/docs/assets/missing.js", "/docs/assets/README.md", "/docs/assets/..%2Fopenapi.json", "/docs/assets/"} {
		ts.anon().must(404, "GET", path, nil)
	}
}

// outsideDocRef matches what a reader of the product's documentation cannot follow: the design
// notes kept outside the repository and their section numbers.
var outsideDocRef = regexp.MustCompile(`SPEC|DESIGN\.md|§|\.\./shared`)

// The README, the OpenAPI document and the pages the server serves stand on their own: they
// describe the behaviour instead of citing documents outside the repository. (The vendored
// swagger-ui bundle is code, not documentation: it carries a "§" in its typographer table.)
func TestDocsCiteNothingOutside(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	texts := map[string][]byte{
		"README.md":            readme,
		"/api/openapi.json":    ts.bootstrap().must(200, "GET", "/api/openapi.json", nil).raw,
		"/docs":                ts.bootstrap().must(200, "GET", "/docs", nil).raw,
		"/docs/assets/init.js": ts.anon().must(200, "GET", "/docs/assets/init.js", nil).raw,
	}
	for name, text := range texts {
		for i, line := range strings.Split(string(text), "\n") {
			if m := outsideDocRef.FindString(line); m != "" {
				t.Errorf("%s:%d cites %q: %.200s", name, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
