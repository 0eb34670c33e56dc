package enricher

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// hotPayloads are the self-encoding types, as pointers to their zero values.
var hotPayloads = []payloadAppender{
	&ModelStartedEvent{}, &ModelCompletedEvent{}, &CompletedEvent{}, &EntityStartedEvent{},
	&EntityCompletedEvent{}, &ExpertiseCompletedEvent{}, &AttemptFailedEvent{}, &EnrichmentOutcome{},
	&EnrichSpec{}, &ConflictReport{}, &FusionStartedEvent{}, &ConflictsDetectedEvent{}, &FusionCompletedEvent{},
	&Job{}, &Record{}, &RecordSummary{},
}

// notEventPayloads are the hotPayloads that are not event payloads.
var notEventPayloads = []reflect.Type{
	reflect.TypeFor[EnrichmentOutcome](), reflect.TypeFor[EnrichSpec](), reflect.TypeFor[ConflictReport](),
	reflect.TypeFor[Job](), reflect.TypeFor[Record](), reflect.TypeFor[RecordSummary](),
}

func TestPayloadAppendersTable(t *testing.T) {
	s, code, idx := "boom <x> & \"y\"", CodeTimeout, 3
	cost := 0.000123
	result := ModelResult{
		Model: "openai/gpt-4o", Success: true, Result: json.RawMessage(`{ "name" : "Acme\u2028" }`), RecordID: &s,
		CostUSD: cost, InputTokens: 10, OutputTokens: 20, ProcessingTimeMS: 5, Attempts: 1,
		ExpertiseBreakdown: []ExpertiseOutcome{{Key: "k", Name: "K", Success: true, CostUSD: 1e-7, ErrorMessage: &s}},
	}
	cases := []struct {
		name string
		v    payloadAppender
	}{
		{"model_started zero", ModelStartedEvent{}},
		{"model_started", ModelStartedEvent{Model: "m", Strategy: StrategyMultiExpertise, ExpertiseKeys: []string{}, EntityIndex: &idx}},
		{"model_completed zero", ModelCompletedEvent{}},
		{"model_completed", ModelCompletedEvent{ModelResult: result, EntityIndex: &idx}},
		{"model_completed truncated", ModelCompletedEvent{ModelResult: result}.Truncated().(payloadAppender)},
		{"completed", CompletedEvent{Result: json.RawMessage(`{"job_id":"j","result":null}`)}},
		{"completed truncated", CompletedEvent{Result: json.RawMessage(`{}`)}.Truncated().(payloadAppender)},
		{"entity_started", EntityStartedEvent{EntityIndex: 2, EntityLabel: "Ünïcode & <b>"}},
		{"entity_completed zero", EntityCompletedEvent{}},
		{"entity_completed", EntityCompletedEvent{EntityIndex: 1, Success: true, Results: []ModelResult{result, {}},
			Fusion: &FusionSummary{Method: "rule", RecordID: &s}, FinalResult: json.RawMessage(`[1,2]`), CostUSD: 2e21}},
		{"entity_completed truncated", EntityCompletedEvent{Results: []ModelResult{result}}.Truncated().(payloadAppender)},
		{"expertise_completed", ExpertiseCompletedEvent{Model: "m", ExpertiseResult: json.RawMessage(`{"a":1}`), CostUSD: -0.5, ErrorMessage: &s}},
		{"expertise_completed truncated", ExpertiseCompletedEvent{ExpertiseResult: json.RawMessage(`{}`)}.Truncated().(payloadAppender)},
		{"attempt_failed zero", AttemptFailedEvent{}},
		{"attempt_failed", AttemptFailedEvent{Model: "m", CallKind: "enrich", ExpertiseKey: &s, Attempt: 2, Errors: []string{"a", "\xff"}, WillRetry: true}},
		{"outcome zero", &EnrichmentOutcome{}},
		{"outcome", &EnrichmentOutcome{
			JobID: "j", Status: JobCompleted, Success: true, IsFused: true, Result: json.RawMessage(`{"x":"<>"}`),
			FieldProvenance: map[string]FieldProvenance{
				"b": {Sources: []string{}, Agreement: 0.6667},
				"a": {Sources: []string{"m"}, Method: ProvenanceSingle, Confidence: 0.5},
				"B": {},
			},
			Model: &s, SourceModels: []string{"m"}, Classification: &Classification{Status: "match", Confidence: 0.9},
			FailedModels: []FailedModel{{Model: "x", ErrorCode: &code}}, PerModelResults: []ModelResult{result}, CostUSD: 1e-6,
		}},
		{"fusion_started", FusionStartedEvent{SourceModels: []string{"a", "b"}, SourceRecordIDs: []string{}, ArbitrationModel: &s}},
		{"conflicts_detected", ConflictsDetectedEvent{TotalFields: 3, ConflictedFields: 1, ConflictPaths: []string{"x.y"}, EntityIndex: &idx}},
		{"fusion_completed", FusionCompletedEvent{Success: true, Method: &s, MergedResult: json.RawMessage(`{"a":1}`),
			ConflictReport: json.RawMessage(`{"conflicts":[]}`), CostUSD: 0.5, ValidationWarnings: []string{}}},
		{"fusion_completed truncated", FusionCompletedEvent{MergedResult: json.RawMessage(`{}`)}.Truncated().(payloadAppender)},
		{"conflict report zero", &ConflictReport{}},
		{"conflict report", &ConflictReport{TotalFields: 2, ConflictedFields: 1, Conflicts: []FieldConflict{{Path: "a", FieldType: FieldTypeScalar,
			NeedsArbitration: true, ValuesByModel: map[string]any{"m2": "<x>", "m1": 1.5, "m3": nil}, ResolvedValue: []any{"a"}, ResolutionMethod: "median"}}}},
		{"spec zero", &EnrichSpec{}},
		{"spec single", &EnrichSpec{
			EntityData: map[string]any{"name": "Acme <b>", "n": 1.0, "tags": []any{"x", nil}}, SchemaID: &s,
			SchemaContent: json.RawMessage("{\n  \"root\": {\"name\": \"Company\"}\n}"), Models: []string{"sim::fast"},
			Languages: []string{"en"}, Strategy: StrategySinglePass, OnMismatch: MismatchContinue, Sync: true,
		}},
		{"spec batch", &EnrichSpec{
			Entities: []map[string]any{{"a": 1.0}, nil, {}}, EntityCount: 3, SelectedIndices: []int{0, 2},
			SchemaContent: json.RawMessage(`{}`), Models: []string{}, VerifyFields: []string{"a"},
			FusionRecordIDs: []string{"r"}, Webhook: &WebhookTarget{URL: "https://x/?a=1&b=2"}, Execution: ExecutionProviderBatch,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.appendJSON([]byte(nil))
			requireSameAsMarshal(t, tc.v, got, err)
		})
	}
}

// TestPayloadAppendersProperty compares every self-encoding payload with json.Marshal on
// random values (including NaN costs and invalid raw JSON, which must fail exactly when
// json.Marshal fails).
func TestPayloadAppendersProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 2))
	for _, zero := range hotPayloads {
		typ := reflect.TypeOf(zero).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			failed := 0
			for i := range 300 {
				p := reflect.New(typ)
				randFill(r, p.Elem(), i%2 == 1, false)
				got, err := p.Interface().(payloadAppender).appendJSON([]byte(nil))
				if err != nil {
					failed++
				}
				requireSameAsMarshal(t, p.Interface(), got, err)
			}
			if hasFloatOrRaw(typ) && failed == 0 {
				t.Fatal("no random value failed: the error path is not exercised")
			}
		})
	}
}

func hasFloatOrRaw(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Float64:
		return true
	case reflect.Pointer, reflect.Map:
		return hasFloatOrRaw(t.Elem())
	case reflect.Slice:
		return t == rawMessageType || hasFloatOrRaw(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasFloatOrRaw(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// TestAppendersCoverEveryField fills every field (nested ones too) with a non-zero value: a
// field added to one of the structs and not written by its appender makes the bytes differ
// from json.Marshal's.
func TestAppendersCoverEveryField(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 3))
	for _, zero := range hotPayloads {
		typ := reflect.TypeOf(zero).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			for range 20 {
				p := reflect.New(typ)
				randFill(r, p.Elem(), false, true)
				got, err := p.Interface().(payloadAppender).appendJSON([]byte(nil))
				requireSameAsMarshal(t, p.Interface(), got, err)
				if strings.Contains(string(got), "null") && typ != reflect.TypeFor[CompletedEvent]() {
					// every pointer, slice and map was set: only a raw value may spell null
					var probe map[string]any
					if json.Unmarshal(got, &probe) == nil {
						for k, v := range probe {
							if v == nil {
								t.Fatalf("field %s is null in a fully set value: %s", k, got)
							}
						}
					}
				}
			}
		})
	}
}

func TestAppendOutcome(t *testing.T) {
	got, err := AppendOutcome([]byte("x"), nil)
	if err != nil || string(got) != "xnull" {
		t.Fatalf("nil outcome: %q, %v", got, err)
	}
	o := &EnrichmentOutcome{JobID: "j", CostUSD: math.NaN()}
	if got, err = AppendOutcome([]byte("x"), o); err == nil || string(got) != "x" {
		t.Fatalf("NaN cost: want an error and dst unchanged, got %q, %v", got, err)
	}
	o = &EnrichmentOutcome{JobID: "j", PerModelResults: []ModelResult{{Result: json.RawMessage(`{"a":`)}}}
	if got, err = AppendOutcome([]byte("x"), o); err == nil || string(got) != "x" {
		t.Fatalf("invalid raw result: want an error and dst unchanged, got %q, %v", got, err)
	}
}

// appendEventByMarshal is AppendEvent through json.Marshal alone: the reference the
// self-encoding path must equal.
func appendEventByMarshal(dst []byte, h *EventHeader, payload any, maxPayload int) ([]byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return dst, err
	}
	if tr, ok := payload.(Truncatable); ok && maxPayload > 0 && len(body) > maxPayload {
		if body, err = json.Marshal(tr.Truncated()); err != nil {
			return dst, err
		}
	}
	return appendEventBody(dst, h, body), nil
}

// TestAppendEventSelfEncodedEqualsMarshal covers the splicing and the truncation of the
// self-encoding path against the json.Marshal path, for random payloads and limits.
func TestAppendEventSelfEncodedEqualsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	cur := "m<1>"
	h := &EventHeader{Type: EventModelCompleted, Seq: 7, JobID: "job", JobType: JobBatchEnrichment, Status: JobRunning,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), RunningModels: []string{"a"}, CurrentModel: &cur,
		Batch: &BatchCounters{TotalEntities: 3}}
	truncated := 0
	for _, zero := range hotPayloads {
		typ := reflect.TypeOf(zero).Elem()
		if slices.Contains(notEventPayloads, typ) {
			continue
		}
		for i := range 150 {
			p := reflect.New(typ)
			randFill(r, p.Elem(), i%5 == 4, false)
			payload := p.Elem().Interface() // events are emitted by value
			max := []int{0, 1, 60, 300, 1 << 20}[r.IntN(5)]
			prefix := []byte("prefix")
			got, err := AppendEvent(prefix, h, payload, max)
			want, wantErr := appendEventByMarshal([]byte("prefix"), h, payload, max)
			if (err != nil) != (wantErr != nil) || string(got) != string(want) {
				t.Fatalf("%s max %d:\n got: %s (%v)\nwant: %s (%v)", typ.Name(), max, got, err, want, wantErr)
			}
			if strings.Contains(string(got), `"truncated":true`) {
				truncated++
			}
		}
	}
	if truncated == 0 {
		t.Fatal("no event was truncated: the truncation path is not exercised")
	}
}
