package actors

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

func TestArbitration(t *testing.T) {
	t.Parallel()
	arbiter := "fake::c"
	tests := []struct {
		name     string
		garbage  bool
		method   string
		ceo      string
		fallback bool
	}{
		{name: "arbiter decides", method: "llm", ceo: "Stephane Bancel"},
		{name: "garbage falls back to the rules", garbage: true, method: "rule_based", ceo: "Stéphane Bancel", fallback: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{MaxAttempts: 2}, 0)
			if tt.garbage {
				b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
					if req.Hints.CallKind == "arbitration" {
						return &llm.Response{Text: `{"decisions": [{"path": "nope", "value": 1}]}`, Usage: llm.Usage{InputTokens: 5, OutputTokens: 5}}, nil
					}
					return b.provider.answer(req), nil
				}
			}
			s := spec("fake::a", "fake::b")
			s.ArbitrationModel = &arbiter
			_, stream := b.start(s)
			events := b.collect(stream, 0)
			tt2 := types(events)
			require.Equal(t, []string{"fusion_started", "conflicts_detected", "arbitration_started"}, tt2[4:7])
			require.Equal(t, "arbitration_completed", tt2[len(tt2)-3], "%v", tt2)
			require.Equal(t, []string{"fusion_completed", "completed"}, tt2[len(tt2)-2:])
			arb := events[len(events)-3]
			require.Equal(t, !tt.garbage, arb["success"])
			require.Equal(t, tt.fallback, arb["fallback_to_rule_based"])
			require.EqualValues(t, 1, events[6]["conflict_count"])
			fusion := events[len(events)-2]
			require.Equal(t, tt.method, fusion["method"])
			require.Equal(t, tt.ceo, fusion["merged_result"].(map[string]any)["ceo"])
			rec, err := b.db.Record("org1", fusion["record_id"].(string))
			require.NoError(t, err)
			require.Equal(t, enricher.RecordFusion, rec.Type)
			require.Len(t, rec.Prompts, 1, "the arbitration call is the fusion record's prompt")
			require.Equal(t, "arbitration", rec.Prompts[0].CallKind)
			require.Equal(t, arbiter, *rec.Model)
			require.Greater(t, rec.CostUSD, 0.0, "arbitration is billed, failed or not")
			outcome := events[len(events)-1]["result"].(map[string]any)
			require.Equal(t, tt.method, outcome["fusion"].(map[string]any)["method"])
		})
	}
}
