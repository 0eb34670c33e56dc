package actors

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// waterfallCall is one enrichment call the fake provider saw: the model, the asked
// properties (sorted) and whether its prompt was grouped by expertise domain.
type waterfallCall struct {
	Model   string
	Asked   []string
	Grouped bool
}

// waterfallBundle scripts the fake models: values per model (a missing property is null),
// models in invalid always answer something that fails validation. It records every
// enrichment call.
type waterfallBundle struct {
	*bundle
	mu    sync.Mutex
	calls []waterfallCall
}

func setupWaterfall(t *testing.T, values map[string]map[string]any, invalid ...string) *waterfallBundle {
	t.Helper()
	w := &waterfallBundle{bundle: setup(t, Config{MaxAttempts: 2, BatchConcurrency: 2}, 0)}
	w.provider.values = values
	w.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		if req.Hints.CallKind == "enrichment" {
			var schema struct {
				Properties map[string]any `json:"properties"`
			}
			require.NoError(t, json.Unmarshal(req.Schema, &schema))
			asked := make([]string, 0, len(schema.Properties))
			for k := range schema.Properties {
				asked = append(asked, k)
			}
			slices.Sort(asked)
			w.mu.Lock()
			if req.Hints.Attempt == 1 {
				w.calls = append(w.calls, waterfallCall{Model: req.Hints.ModelKey, Asked: asked,
					Grouped: strings.Contains(req.Messages[0].Content, "grouped by area of expertise")})
			}
			w.mu.Unlock()
			if slices.Contains(invalid, req.Hints.ModelKey) {
				return &llm.Response{Text: `{"ceo": 12`, Usage: llm.Usage{InputTokens: 100, OutputTokens: 20}}, nil
			}
		}
		return w.provider.answer(req), nil
	}
	return w
}

func (w *waterfallBundle) seen() []waterfallCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

func waterfallSpec(models ...string) *enricher.EnrichSpec {
	s := spec(models...)
	s.Strategy = enricher.StrategyWaterfall
	return s
}

func only(events []event, typ string) []event {
	var out []event
	for _, e := range events {
		if e.typ() == typ {
			out = append(out, e)
		}
	}
	return out
}

// provenance returns the field_provenance of the outcome of a terminal event.
func provenance(t *testing.T, final event) map[string]any {
	t.Helper()
	outcome := final["result"].(map[string]any)
	p, ok := outcome["field_provenance"].(map[string]any)
	require.True(t, ok, "the outcome carries field_provenance: %v", outcome)
	return p
}

func TestWaterfallEscalatesNullFields(t *testing.T) {
	t.Parallel()
	w := setupWaterfall(t, map[string]map[string]any{
		"fake::c": {"founded_year": 2010},                  // ceo null
		"fake::b": {"ceo": "Stephane Bancel"},              // asked only ceo
		"fake::a": {"founded_year": 1999, "ceo": "Nobody"}, // never asked
	})
	id, stream := w.start(waterfallSpec("fake::c", "fake::b", "fake::a"))
	events := w.collect(stream, 0)
	require.Equal(t, []string{"model_started", "model_completed", "waterfall_escalated", "model_started", "model_completed",
		"fusion_started", "conflicts_detected", "fusion_completed", "completed"}, types(events))
	require.Equal(t, []waterfallCall{
		{Model: "fake::c", Asked: []string{"ceo", "founded_year"}, Grouped: true},
		{Model: "fake::b", Asked: []string{"ceo"}, Grouped: true},
	}, w.seen(), "the second model is asked only the open field; the third is not called")

	esc := events[2]
	require.Equal(t, "fake::c", esc["from_model"])
	require.Equal(t, "fake::b", esc["next_model"])
	require.EqualValues(t, 2, esc["step"])
	require.Equal(t, []any{"ceo"}, esc["fields"])
	require.Equal(t, map[string]any{"ceo": "null"}, esc["reasons"])
	require.Nil(t, esc["entity_index"])
	require.Equal(t, "waterfall", events[0]["strategy"])

	conflicts := events[6]
	require.EqualValues(t, 0, conflicts["conflicted_fields"], "a field only one model was asked is no conflict")
	final := events[8]
	require.EqualValues(t, 2, final["total_models"], "the models not needed leave total_models")
	require.EqualValues(t, 2, final["completed_models"])
	outcome := final["result"].(map[string]any)
	require.Equal(t, true, outcome["is_fused"])
	require.Equal(t, map[string]any{"name": "Moderna Inc", "country": "US", "founded_year": 2010.0, "ceo": "Stephane Bancel"}, outcome["result"])
	require.InDelta(t, (100*1+20*1)/1e6+(100*2+20*2)/1e6, outcome["cost_usd"], 1e-12,
		"one call of fake::c (price 1) and one of fake::b (price 2)")
	prov := provenance(t, final)
	ceo := prov["ceo"].(map[string]any)
	require.Equal(t, "waterfall", ceo["method"])
	require.Equal(t, []any{"fake::b"}, ceo["sources"])
	require.EqualValues(t, 0.5, ceo["confidence"])
	founded := prov["founded_year"].(map[string]any)
	require.Equal(t, "waterfall", founded["method"])
	require.Equal(t, []any{"fake::c"}, founded["sources"])

	step, err := w.db.Record("org1", events[4]["record_id"].(string))
	require.NoError(t, err)
	require.Equal(t, "waterfall", *step.Strategy)
	require.Len(t, step.FieldProvenance, 1, "a step's record has the provenance of the fields it was asked")
	require.Equal(t, []string{"fake::b"}, step.FieldProvenance["ceo"].Sources)
	rec, err := w.db.Record("org1", outcome["record_id"].(string))
	require.NoError(t, err)
	require.Equal(t, enricher.RecordFusion, rec.Type)
	require.Equal(t, "waterfall", rec.FieldProvenance["ceo"].Method, "the fusion record keeps the provenance")
	job, err := w.engine.Job("org1", id)
	require.NoError(t, err)
	require.Equal(t, 2, job.TotalModels)
}

func TestWaterfallEscalatesInvalidAnswers(t *testing.T) {
	t.Parallel()
	w := setupWaterfall(t, map[string]map[string]any{"fake::b": {"founded_year": 2010, "ceo": "Stéphane Bancel"}}, "fake::c")
	_, stream := w.start(waterfallSpec("fake::c", "fake::b"))
	events := w.collect(stream, 0)
	require.Equal(t, []string{"model_started", "attempt_failed", "attempt_failed", "model_completed", "waterfall_escalated",
		"model_started", "model_completed", "fusion_started", "conflicts_detected", "fusion_completed", "completed"}, types(events))
	require.Equal(t, false, events[3]["success"])
	require.Equal(t, "validation_failed", events[3]["error_code"])
	esc := events[4]
	require.Equal(t, []any{"founded_year", "ceo"}, esc["fields"], "schema order")
	require.Equal(t, map[string]any{"founded_year": "failed", "ceo": "failed"}, esc["reasons"])
	require.Equal(t, []string{"fake::c", "fake::b"}, []string{w.seen()[0].Model, w.seen()[1].Model})
	require.Equal(t, []string{"ceo", "founded_year"}, w.seen()[1].Asked)

	require.Equal(t, []any{"fake::b"}, events[7]["source_models"], "one successful run is fused too")
	final := events[10]
	require.Equal(t, "completed", final["status"])
	outcome := final["result"].(map[string]any)
	require.Equal(t, true, outcome["is_fused"])
	require.Len(t, outcome["failed_models"], 1)
	require.Equal(t, "Stéphane Bancel", outcome["result"].(map[string]any)["ceo"])
	prov := provenance(t, final)
	require.Equal(t, "waterfall", prov["ceo"].(map[string]any)["method"])
}

func TestWaterfallVerifyFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		models    []string
		arbiter   *string
		values    map[string]map[string]any
		calls     []waterfallCall
		escalated int
		ceo       any
		method    string
		sources   []any
	}{
		{"two agree", []string{"fake::c", "fake::d", "fake::a"}, nil,
			map[string]map[string]any{"fake::c": {"founded_year": 2010, "ceo": "Ann"}, "fake::d": {"ceo": "ANN"}},
			[]waterfallCall{{"fake::c", []string{"ceo", "founded_year"}, true}, {"fake::d", []string{"ceo"}, true}},
			1, "Ann", "unanimous", []any{"fake::c", "fake::d"}},
		{"a third breaks the tie", []string{"fake::c", "fake::d", "fake::a"}, nil,
			map[string]map[string]any{"fake::c": {"founded_year": 2010, "ceo": "Ann"}, "fake::d": {"ceo": "Bob"}, "fake::a": {"ceo": "Bob"}},
			[]waterfallCall{{"fake::c", []string{"ceo", "founded_year"}, true}, {"fake::d", []string{"ceo"}, true}, {"fake::a", []string{"ceo"}, true}},
			2, "Bob", "majority", []any{"fake::a", "fake::d"}},
		{"no agreement, no arbiter: null", []string{"fake::c", "fake::d"}, nil,
			map[string]map[string]any{"fake::c": {"founded_year": 2010, "ceo": "Ann"}, "fake::d": {"ceo": "Bob"}},
			[]waterfallCall{{"fake::c", []string{"ceo", "founded_year"}, true}, {"fake::d", []string{"ceo"}, true}},
			1, nil, "", []any{}},
		{"no agreement: the arbiter decides", []string{"fake::c", "fake::b"}, ptr("fake::a"),
			map[string]map[string]any{"fake::c": {"founded_year": 2010, "ceo": "Ann"}, "fake::b": {"ceo": "Bob"}},
			[]waterfallCall{{"fake::c", []string{"ceo", "founded_year"}, true}, {"fake::b", []string{"ceo"}, true}},
			1, "Bob", "arbitration", []any{"fake::b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := setupWaterfall(t, tt.values)
			s := waterfallSpec(tt.models...)
			s.VerifyFields, s.ArbitrationModel = []string{"ceo"}, tt.arbiter
			_, stream := w.start(s)
			events := w.collect(stream, 0)
			require.Equal(t, tt.calls, w.seen())
			esc := only(events, "waterfall_escalated")
			require.Len(t, esc, tt.escalated)
			for _, e := range esc {
				require.Equal(t, []any{"ceo"}, e["fields"])
				require.Equal(t, map[string]any{"ceo": "unverified"}, e["reasons"])
			}
			final := events[len(events)-1]
			outcome := final["result"].(map[string]any)
			require.Equal(t, tt.ceo, outcome["result"].(map[string]any)["ceo"])
			require.EqualValues(t, 2010, outcome["result"].(map[string]any)["founded_year"])
			ceo := provenance(t, final)["ceo"].(map[string]any)
			require.Equal(t, tt.method, ceo["method"])
			require.Equal(t, tt.sources, ceo["sources"])
			if tt.arbiter != nil {
				require.Len(t, only(events, "arbitration_completed"), 1)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestWaterfallBatch(t *testing.T) {
	t.Parallel()
	w := setupWaterfall(t, nil)
	w.provider.values = map[string]map[string]any{"fake::c": {"founded_year": 2010}, "fake::b": {"ceo": "Ann"}}
	s := batchSpec(3, "fake::c", "fake::b", "fake::a")
	s.Strategy = enricher.StrategyWaterfall
	_, stream := w.start(s)
	events := w.collect(stream, 0)
	esc := only(events, "waterfall_escalated")
	require.Len(t, esc, 3, "each entity runs its own waterfall")
	seen := map[float64]bool{}
	for _, e := range esc {
		seen[e["entity_index"].(float64)] = true
		require.Equal(t, []any{"ceo"}, e["fields"])
	}
	require.Len(t, seen, 3)
	done := only(events, "entity_completed")
	require.Len(t, done, 3)
	for _, e := range done {
		require.Equal(t, true, e["success"])
		require.Equal(t, "Ann", e["final_result"].(map[string]any)["ceo"])
		require.EqualValues(t, 2010, e["final_result"].(map[string]any)["founded_year"])
	}
	calls := w.seen()
	require.Len(t, calls, 6, "two models per entity; the third is never asked")
	for _, c := range calls {
		require.NotEqual(t, "fake::a", c.Model)
	}
}

// TestWaterfallRecovery stops an engine while the second step of a waterfall waits for its
// answer and starts another on the same store: the stored first step is replayed through the
// decision (not called again), the second model is asked the same open field, and the job ends
// fused.
func TestWaterfallRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	values := map[string]map[string]any{"fake::c": {"founded_year": 2010}, "fake::b": {"ceo": "Ann"}}
	b.provider.values = values
	var mu sync.Mutex
	var calls []waterfallCall
	var release atomic.Bool
	complete := func(ctx context.Context, req *llm.Request, _ int) (*llm.Response, error) {
		var schema struct {
			Properties map[string]any `json:"properties"`
		}
		_ = json.Unmarshal(req.Schema, &schema)
		asked := slices.Sorted(maps.Keys(schema.Properties))
		mu.Lock()
		calls = append(calls, waterfallCall{Model: req.Hints.ModelKey, Asked: asked, Grouped: true})
		mu.Unlock()
		if req.Hints.ModelKey == "fake::b" && !release.Load() {
			<-ctx.Done() // held until the engine stops
			return nil, ctx.Err()
		}
		return (&fakeProvider{values: values}).answer(req), nil
	}
	b.provider.CompleteFunc = complete
	id, stream := b.start(waterfallSpec("fake::c", "fake::b", "fake::a"))
	waitStoredCounts(t, b.db, id, "the second step started", func(n map[string]int) bool {
		return n["waterfall_escalated"] == 1 && n["model_started"] == 2
	})
	stream.Close()
	b.engine.Stop()
	before := storedEvents(t, b.db, id)

	release.Store(true)
	b2 := b.restart(&fakeProvider{values: values, CompleteFunc: complete})
	s2, err := b2.engine.Subscribe("org1", id, int64(len(before)))
	require.NoError(t, err)
	defer s2.Close()
	after := b2.collect(s2, int64(len(before)))
	require.Equal(t, []string{"model_started", "model_completed", "fusion_started", "conflicts_detected", "fusion_completed", "completed"},
		types(after), "the run of fake::b starts again; fake::c's is replayed")
	outcome := after[len(after)-1]["result"].(map[string]any)
	require.Equal(t, map[string]any{"name": "Moderna Inc", "country": "US", "founded_year": 2010.0, "ceo": "Ann"}, outcome["result"])
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []waterfallCall{
		{Model: "fake::c", Asked: []string{"ceo", "founded_year"}, Grouped: true},
		{Model: "fake::b", Asked: []string{"ceo"}, Grouped: true},
		{Model: "fake::b", Asked: []string{"ceo"}, Grouped: true},
	}, calls, "fake::c is not called again; fake::b is asked the same open field")
}
