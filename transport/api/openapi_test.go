package api

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// pathParam matches a path parameter; both fasthttp/router and OpenAPI write them {name}.
var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// operationKey names an operation as "METHOD /path/{}", parameter names dropped.
func operationKey(method, path string) string {
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// compareRoutes returns the routes missing from the document and the documented operations no
// route serves, each sorted. It fails when doc is not an OpenAPI 3.1 JSON document.
func compareRoutes(routes []route, doc []byte) (undocumented, unserved []string, err error) {
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, nil, fmt.Errorf("document is not JSON: %w", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.1.") {
		return nil, nil, fmt.Errorf("openapi is %q, want 3.1.x", d.OpenAPI)
	}
	documented := map[string]bool{}
	for p, item := range d.Paths {
		for m := range item {
			if slices.Contains(openAPIMethods, m) {
				documented[operationKey(m, p)] = true
			}
		}
	}
	served := map[string]bool{}
	for _, r := range routes {
		k := operationKey(r.method, r.path)
		served[k] = true
		if !documented[k] {
			undocumented = append(undocumented, k)
		}
	}
	for k := range documented {
		if !served[k] {
			unserved = append(unserved, k)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unserved)
	return undocumented, unserved, nil
}

// servedRoutes are the routes of a server with the metrics route on the main listener.
func servedRoutes() []route {
	s := &Server{}
	return append(s.routeTable(), route{method: "GET", path: "/metrics", minRole: enricher.RoleAdmin})
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	undocumented, unserved, err := compareRoutes(servedRoutes(), openAPIDocument)
	require.NoError(t, err)
	require.Empty(t, undocumented, "routes missing from transport/api/openapi.json")
	require.Empty(t, unserved, "documented operations that no route serves")
}

func TestCompareRoutesFindsDifferences(t *testing.T) {
	doc := []byte(`{"openapi":"3.1.0","paths":{
		"/api/records/{record_id}":{"get":{},"parameters":[]},
		"/api/gone":{"post":{}}}}`)
	tests := []struct {
		name                   string
		routes                 []route
		undocumented, unserved []string
	}{
		{"same, parameter names differ", []route{{method: "GET", path: "/api/records/{id}"}, {method: "POST", path: "/api/gone"}}, nil, nil},
		{"route missing from the document", []route{{method: "GET", path: "/api/records/{record_id}"}, {method: "POST", path: "/api/gone"},
			{method: "DELETE", path: "/api/records/{record_id}"}}, []string{"DELETE /api/records/{}"}, nil},
		{"documented operation not served", []route{{method: "GET", path: "/api/records/{record_id}"}}, nil, []string{"POST /api/gone"}},
		{"method differs", []route{{method: "PUT", path: "/api/records/{record_id}"}, {method: "POST", path: "/api/gone"}},
			[]string{"PUT /api/records/{}"}, []string{"GET /api/records/{}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			undocumented, unserved, err := compareRoutes(tt.routes, doc)
			require.NoError(t, err)
			require.Equal(t, tt.undocumented, undocumented)
			require.Equal(t, tt.unserved, unserved)
		})
	}
}

func TestCompareRoutesRejectsBadDocuments(t *testing.T) {
	for _, doc := range []string{`{"openapi":"3.0.3","paths":{}}`, `{"openapi":`, `{"swagger":"2.0"}`} {
		_, _, err := compareRoutes(nil, []byte(doc))
		require.Error(t, err, doc)
	}
}

// TestOpenAPIReferencesResolve checks that every local $ref names an existing component.
func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok && strings.HasPrefix(r, "#/components/") {
				refs++
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				require.NotNil(t, cur, "unresolved $ref %s", r)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	require.Greater(t, refs, 100)
}

// TestOpenAPIEventCatalog checks that JobEvent names exactly the events the engine emits, each with
// a component whose type is that name.
func TestOpenAPIEventCatalog(t *testing.T) {
	want := []string{enricher.EventClassificationStarted, enricher.EventClassificationCompleted, enricher.EventMismatchPause,
		enricher.EventJobResumed, enricher.EventModelStarted, enricher.EventAttemptFailed, enricher.EventExpertiseCompleted,
		enricher.EventModelCompleted, enricher.EventWaterfallEscalated, enricher.EventFusionStarted, enricher.EventConflictsDetected, enricher.EventArbitrationStarted,
		enricher.EventArbitrationCompleted, enricher.EventFusionCompleted, enricher.EventBatchStarted, enricher.EventEntityStarted,
		enricher.EventEntityCompleted, enricher.EventBatchCompleted, enricher.EventProviderBatchSubmitted,
		enricher.EventProviderBatchProgress, enricher.EventProviderBatchEnded, enricher.EventError, enricher.EventCompleted,
		enricher.EventFailed, enricher.EventCancelled}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Discriminator struct {
					Mapping map[string]string `json:"mapping"`
				} `json:"discriminator"`
				AllOf []struct {
					Properties map[string]struct {
						Const string `json:"const"`
					} `json:"properties"`
				} `json:"allOf"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	mapping := doc.Components.Schemas["JobEvent"].Discriminator.Mapping
	var got []string
	for name, target := range mapping {
		got = append(got, name)
		schema, ok := doc.Components.Schemas[strings.TrimPrefix(target, "#/components/schemas/")]
		require.True(t, ok, "%s maps to a missing schema %s", name, target)
		require.Len(t, schema.AllOf, 2, name)
		require.Equal(t, name, schema.AllOf[1].Properties["type"].Const, target)
	}
	slices.Sort(got)
	slices.Sort(want)
	require.Equal(t, want, got)
}
