package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

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

// TestCancelIsNotHeldByALargeFusion fuses 5 models × 500 fields in the job's fusion actor and
// holds that merge until the job's cancel is answered: the job handles the cancel in its next
// mailbox turn instead of waiting for the fusion, and ends cancelled without a fusion record.
func TestCancelIsNotHeldByALargeFusion(t *testing.T) {
	t.Parallel()
	const fields = 499 // and the key: 500 properties, the most a schema may have
	models := []string{"fake::a", "fake::b", "fake::c", "fake::d", "fake::e"}
	entered, release := make(chan int, 1), make(chan struct{})
	fused := make(chan int, 1)
	cfg := Config{fuse: func(s *enricher.Schema, in []enricher.FusionInput, langs []string) (map[string]any, enricher.ConflictReport) {
		entered <- len(in)
		<-release
		merged, report := enricher.Fuse(s, in, langs)
		fused <- report.TotalFields
		return merged, report
	}}
	b := setup(t, cfg, 0)
	props := map[string]any{"name": map[string]any{"type": "string", "is_key": true}}
	values := map[string]map[string]any{}
	for i := range fields {
		props[fmt.Sprintf("f%03d", i)] = map[string]any{"type": "string"}
	}
	for m, key := range models {
		values[key] = map[string]any{}
		for i := range fields {
			values[key][fmt.Sprintf("f%03d", i)] = fmt.Sprintf("value %d", (m+i)%3) // conflicts on every field
		}
	}
	b.provider.values = values
	schema, err := json.Marshal(map[string]any{"root": map[string]any{"name": "Thing", "type": "object", "properties": props}})
	require.NoError(t, err)
	s := spec(models...)
	s.SchemaContent, s.EntityData = schema, map[string]any{"name": "Widget"}

	id, stream := b.start(s)
	select {
	case n := <-entered:
		require.Equal(t, len(models), n, "every model's run is fused")
	case <-time.After(10 * time.Second):
		t.Fatal("the fusion never started")
	}
	cancelled := make(chan error, 1)
	go func() { cancelled <- b.engine.Cancel("org1", id) }()
	select {
	case err := <-cancelled:
		require.NoError(t, err, "the cancel is answered while the fusion still runs")
	case <-time.After(8 * time.Second):
		close(release)
		t.Fatal("the cancel waited for the fusion")
	}
	close(release)
	events := b.collect(stream, 0)
	got := types(events)
	require.Equal(t, "cancelled", got[len(got)-1])
	require.Contains(t, got, "fusion_started")
	require.NotContains(t, got, "fusion_completed", "a cancelled fusion writes no fusion record")
	require.NotContains(t, got, "conflicts_detected")
	select { // the held merge still ran to its end in the stopped fusion actor: it was the large one
	case total := <-fused:
		require.Equal(t, fields+1, total)
	case <-time.After(10 * time.Second):
		t.Fatal("the held fusion never finished")
	}
	job, err := b.engine.Job("org1", id)
	require.NoError(t, err)
	require.Equal(t, enricher.JobCancelled, job.Status)
}
