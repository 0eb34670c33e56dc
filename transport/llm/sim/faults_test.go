package sim

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// outcome classifies the result of one call: a transport error kind, "malformed_json",
// "schema_invalid", "mismatch" (classification) or "ok".
func outcome(t *testing.T, resp *llm.Response, err error, kind string) string {
	t.Helper()
	if err != nil {
		var lerr *llm.Error
		require.True(t, errors.As(err, &lerr), "%v", err)
		return string(lerr.Kind)
	}
	var v any
	if json.Unmarshal([]byte(resp.Text), &v) != nil {
		return FaultMalformedJSON
	}
	if kind == KindClassification {
		m := v.(map[string]any)
		if _, ok := m["confidence"].(float64); !ok {
			return FaultSchemaInvalid
		}
		for _, k := range []string{"status", "expected_type", "entity_description", "reasoning"} {
			if _, ok := m[k].(string); !ok {
				return FaultSchemaInvalid
			}
		}
		if _, ok := m["alternative_interpretations"].([]any); !ok {
			return FaultSchemaInvalid
		}
		if m["status"] == "mismatch" {
			return "mismatch"
		}
		return "ok"
	}
	if len(conform(schemaMap(t, companySchema), v, "answer")) > 0 {
		return FaultSchemaInvalid
	}
	return "ok"
}

func TestDirectiveFaults(t *testing.T) {
	t.Parallel()
	type step struct {
		attempt, try int
		want         string
	}
	tests := []struct {
		name      string
		model     string
		directive map[string]any
		steps     []step
	}{
		{name: "rate_limited counts tries of each attempt", model: "fast",
			directive: map[string]any{"fail": "rate_limited", "fail_attempts": 2.0},
			steps:     []step{{1, 1, "rate_limited"}, {1, 2, "rate_limited"}, {1, 3, "ok"}, {2, 1, "rate_limited"}}},
		{name: "server_error once by default", model: "fast", directive: map[string]any{"fail": "server_error"},
			steps: []step{{1, 1, "server_error"}, {1, 2, "ok"}}},
		{name: "timeout", model: "flaky", directive: map[string]any{"fail": "timeout", "fail_attempts": 10.0},
			steps: []step{{1, 1, "timeout"}, {1, 4, "timeout"}}},
		{name: "overloaded", model: "fast", directive: map[string]any{"fail": "overloaded"},
			steps: []step{{1, 1, "overloaded"}, {1, 2, "ok"}}},
		{name: "bad_request", model: "fast", directive: map[string]any{"fail": "bad_request"},
			steps: []step{{1, 1, "bad_request"}}},
		{name: "malformed_json counts attempts", model: "fast",
			directive: map[string]any{"fail": "malformed_json", "fail_attempts": 2.0},
			steps:     []step{{1, 1, FaultMalformedJSON}, {1, 2, FaultMalformedJSON}, {2, 1, FaultMalformedJSON}, {3, 1, "ok"}}},
		{name: "schema_invalid fixed by the next attempt", model: "realistic",
			directive: map[string]any{"fail": "schema_invalid"},
			steps:     []step{{1, 1, FaultSchemaInvalid}, {2, 1, "ok"}}},
		{name: "fail_models leaves other models alone", model: "fast",
			directive: map[string]any{"fail": "server_error", "fail_models": []any{"sim::realistic"}},
			steps:     []step{{1, 1, "ok"}}},
		{name: "fail_models names the model", model: "fast",
			directive: map[string]any{"fail": "server_error", "fail_models": []any{"sim::realistic", "sim::fast"}},
			steps:     []step{{1, 1, "server_error"}}},
		{name: "fail_attempts 0 disables", model: "fast",
			directive: map[string]any{"fail": "server_error", "fail_attempts": 0.0},
			steps:     []step{{1, 1, "ok"}}},
		{name: "unknown fault kind ignored", model: "fast", directive: map[string]any{"fail": "meteor"},
			steps: []step{{1, 1, "ok"}}},
		{name: "classification_mismatch does not touch enrichment", model: "fast",
			directive: map[string]any{"fail": "classification_mismatch"},
			steps:     []step{{1, 1, "ok"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			// Probability faults of flaky are avoided by picking an entity without any.
			entity := quietEntity(t, p, tt.model)
			for _, s := range tt.steps {
				req := enrichReq(tt.model, entity, s.attempt, s.try)
				req.Hints.Directive = tt.directive
				resp, err := p.Complete(context.Background(), req)
				require.Equal(t, s.want, outcome(t, resp, err, KindEnrichment), "attempt %d try %d", s.attempt, s.try)
			}
		})
	}
}

// quietEntity finds an entity whose calls of model have no profile fault for the first
// attempts and tries the tests use.
func quietEntity(t *testing.T, p *Provider, model string) map[string]any {
	t.Helper()
	for i := range 1000 {
		e := company(1000 + i)
		quiet := true
		for a := 1; a <= 3 && quiet; a++ {
			for try := 1; try <= 4 && quiet; try++ {
				resp, err := p.Complete(context.Background(), enrichReq(model, e, a, try))
				quiet = outcome(t, resp, err, KindEnrichment) == "ok"
			}
		}
		if quiet {
			return e
		}
	}
	t.Fatal("no quiet entity")
	return nil
}

func TestTransportErrorDetails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fault      string
		model      string
		kind       llm.ErrorKind
		status     int
		retryAfter time.Duration
		slept      []time.Duration
	}{
		{fault: "rate_limited", model: "flaky", kind: llm.KindRateLimited, status: 429, retryAfter: time.Second},
		{fault: "server_error", model: "flaky", kind: llm.KindServerError, status: 500},
		{fault: "timeout", model: "flaky", kind: llm.KindTimeout, slept: []time.Duration{2 * time.Second}},
		{fault: "timeout", model: "fast", kind: llm.KindTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.fault+" "+tt.model, func(t *testing.T) {
			t.Parallel()
			p, rec := newTest(Config{})
			req := enrichReq(tt.model, company(1), 1, 1)
			req.Hints.Directive = map[string]any{"fail": tt.fault}
			_, err := p.Complete(context.Background(), req)
			var lerr *llm.Error
			require.ErrorAs(t, err, &lerr)
			require.Equal(t, tt.kind, lerr.Kind)
			require.Equal(t, tt.status, lerr.Status)
			require.Equal(t, tt.retryAfter, lerr.RetryAfter)
			require.Equal(t, tt.slept, rec.total())
		})
	}
}

func TestProfileFaultRates(t *testing.T) {
	t.Parallel()
	const n = 2000
	tests := []struct {
		name  string
		model string
		kind  string
		want  map[string]float64
	}{
		{name: "flaky enrichment", model: "flaky", kind: KindEnrichment, want: map[string]float64{
			"rate_limited": 0.08, "server_error": 0.05, "timeout": 0.02,
			FaultMalformedJSON: 0.08, FaultSchemaInvalid: 0.10, "mismatch": 0}},
		{name: "flaky classification", model: "flaky", kind: KindClassification, want: map[string]float64{
			"rate_limited": 0.08, "server_error": 0.05, "timeout": 0.02,
			FaultMalformedJSON: 0.08, FaultSchemaInvalid: 0.10, "mismatch": 0.05}},
		{name: "fast has no faults", model: "fast", kind: KindEnrichment, want: map[string]float64{
			"rate_limited": 0, "server_error": 0, "timeout": 0, FaultMalformedJSON: 0, FaultSchemaInvalid: 0}},
		{name: "realistic has no faults", model: "realistic", kind: KindClassification, want: map[string]float64{
			"rate_limited": 0, "server_error": 0, "timeout": 0, FaultMalformedJSON: 0, "mismatch": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _ := newTest(Config{})
			counts := map[string]int{}
			for i := range n {
				// Vary entity, attempt and try, as the engine does.
				req := enrichReq(tt.model, company(i/4), 1+i%2, 1+(i/2)%2)
				req.Hints.CallKind = tt.kind
				req.Hints.RootName = "Company"
				resp, err := p.Complete(context.Background(), req)
				counts[outcome(t, resp, err, tt.kind)]++
			}
			for fault, prob := range tt.want {
				mean := prob * n
				band := 4*math.Sqrt(mean*(1-prob)) + 1
				require.InDelta(t, mean, float64(counts[fault]), band, "%s: %v", fault, counts)
			}
		})
	}
}

func TestFaultsDeterministic(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	for i := range 200 {
		a, errA := p.Complete(context.Background(), enrichReq("flaky", company(i), 1, 1))
		b, errB := p.Complete(context.Background(), enrichReq("flaky", company(i), 1, 1))
		require.Equal(t, errA, errB)
		require.Equal(t, a, b)
	}
}

func TestParseDirective(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   map[string]any
		want directive
	}{
		{name: "absent", in: nil, want: directive{failAttempts: 1, latencyMS: -1}},
		{name: "full", in: map[string]any{"fail": "timeout", "fail_attempts": 3.0, "fail_models": []any{"sim::fast"},
			"classification": "ambiguous", "latency_ms": json.Number("250")},
			want: directive{fail: "timeout", failAttempts: 3, failModels: []string{"sim::fast"}, classification: "ambiguous", latencyMS: 250}},
		{name: "wrong types ignored", in: map[string]any{"fail": 3, "fail_attempts": "x", "classification": "maybe", "latency_ms": -5.0},
			want: directive{failAttempts: 1, latencyMS: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, parseDirective(tt.in))
		})
	}
}

func TestSimKeyInEntityIgnored(t *testing.T) {
	t.Parallel()
	p, _ := newTest(Config{})
	clean, err := p.Complete(context.Background(), enrichReq("fast", company(3), 1, 1))
	require.NoError(t, err)
	withKey := company(3)
	withKey["_sim"] = map[string]any{"latency_ms": 5.0}
	got, err := p.Complete(context.Background(), enrichReq("fast", withKey, 1, 1))
	require.NoError(t, err)
	require.Equal(t, clean.Text, got.Text)
}

func TestProfileOverrideFromModelsFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		base  string
		entry string
		want  Profile
	}{
		{name: "tune flaky faults", base: "flaky", entry: `{"faults": {"rate_limited": 0.2}}`,
			want: Profile{BaseLatencyMS: 150, MSPerOutputToken: 5, Jitter: 0.25, TimeoutMS: 2000, Faults: map[string]float64{
				FaultRateLimited: 0.2, FaultServerError: 0.05, FaultTimeout: 0.02, FaultMalformedJSON: 0.08,
				FaultSchemaInvalid: 0.10, FaultClassificationMismatch: 0.05}}},
		{name: "new slow model", base: "", entry: `{"base_latency_ms": 5000}`, want: Profile{BaseLatencyMS: 5000}},
		{name: "realistic jitter", base: "realistic", entry: `{"jitter": 0}`,
			want: Profile{BaseLatencyMS: 600, MSPerOutputToken: 20, TimeoutMS: 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prof := BuiltinProfiles()[tt.base]
			require.NoError(t, json.Unmarshal([]byte(tt.entry), &prof))
			require.Equal(t, tt.want, prof)
			require.Equal(t, 0.08, BuiltinProfiles()["flaky"].Faults[FaultRateLimited], "builtins are fresh copies")
		})
	}
}

func TestFullModelKeyAccepted(t *testing.T) {
	t.Parallel()
	p, rec := newTest(Config{})
	_, err := p.Complete(context.Background(), enrichReq("sim::realistic", company(1), 1, 1))
	require.NoError(t, err)
	require.Len(t, rec.total(), 1)
}
