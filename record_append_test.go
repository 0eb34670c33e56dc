package enricher

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// appendStored calls the appender of v (a *Job, *Record or *RecordSummary).
func appendStored(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case *Job:
		return AppendJob(dst, x)
	case *Record:
		return AppendRecord(dst, x)
	case *RecordSummary:
		return AppendRecordSummary(dst, x)
	}
	panic("appendStored: unexpected type")
}

// TestAppendJobAndRecordEdges covers nil values, the omitempty fields of a job and the error
// paths: each result equals json.Marshal's (failing when it fails), and a failure leaves dst
// as it was.
func TestAppendJobAndRecordEdges(t *testing.T) {
	for _, v := range []any{(*Job)(nil), (*Record)(nil), (*RecordSummary)(nil)} {
		if got, err := appendStored([]byte("x"), v); err != nil || string(got) != "xnull" {
			t.Fatalf("%T: %q, %v", v, got, err)
		}
	}
	at := NewTime(time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC))
	n, nan := 0, math.NaN()
	tests := []struct {
		name string
		v    any
		fail bool
	}{
		{"job zero", &Job{}, false},
		{"job empty spec, negative zero cost", &Job{Spec: json.RawMessage{}, Result: json.RawMessage("null"), CostUSD: math.Copysign(0, -1)}, false},
		{"job paused", &Job{ID: "j", CreatedAt: at, Pause: &Pause{}, Models: []string{}, TotalEntities: &n}, false},
		{"record zero", &Record{}, false},
		{"record empty slices", &Record{Prompts: []PromptCall{{AttemptLog: []Attempt{}}}, FieldProvenance: map[string]FieldProvenance{}}, false},
		{"summary zero", &RecordSummary{}, false},
		{"job NaN cost", &Job{CostUSD: nan}, true},
		{"job invalid result", &Job{Result: json.RawMessage(`{"a":`)}, true},
		{"job empty result", &Job{Result: json.RawMessage{}}, true},
		{"job pause NaN", &Job{Pause: &Pause{Classification: &Classification{CostUSD: nan}}}, true},
		{"record attempt NaN", &Record{Prompts: []PromptCall{{AttemptLog: []Attempt{{CostUSD: nan}}}}}, true},
		{"record NaN confidence", &Record{RecordSummary: RecordSummary{MinConfidence: &nan}}, true},
		{"record invalid input", &Record{EntityInput: json.RawMessage("[1,]")}, true},
		{"summary infinite cost", &RecordSummary{CostUSD: math.Inf(1)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendStored([]byte("x"), tc.v)
			if (err != nil) != tc.fail {
				t.Fatalf("error %v, want failing=%v", err, tc.fail)
			}
			if err != nil {
				if string(got) != "x" {
					t.Fatalf("dst changed on error: %q", got)
				}
				requireSameAsMarshal(t, tc.v, nil, err)
				return
			}
			requireSameAsMarshal(t, tc.v, got[1:], nil)
		})
	}
}
