package actors

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

func batchSpec(n int, models ...string) *enricher.EnrichSpec {
	s := spec(models...)
	s.EntityData, s.OnMismatch = nil, enricher.MismatchSkip
	for i := range n {
		s.Entities = append(s.Entities, map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"})
	}
	return s
}

func TestBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{BatchConcurrency: 3}, 0)
	s := batchSpec(20, "fake::a", "fake::b")
	s.Entities[7] = map[string]any{"ticker": "NOPE"} // no search key: this entity fails, the batch goes on
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		if req.Hints.Entity["name"] == "Company 11" && req.Hints.ModelKey == "fake::b" {
			return nil, &llm.Error{Kind: llm.KindAuth, Message: "no"}
		}
		return b.provider.answer(req), nil
	}
	id, stream := b.start(s)
	events := b.collect(stream, 0)
	require.Equal(t, "batch_started", events[0].typ())
	require.Equal(t, []string{"batch_completed", "completed"}, types(events)[len(events)-2:])

	started := map[int]bool{}
	completed := map[int]event{}
	for _, e := range events {
		idx, hasIdx := e["entity_index"].(float64)
		switch e.typ() {
		case "entity_started":
			started[int(idx)] = true
		case "entity_completed":
			completed[int(idx)] = e
		default:
			if hasIdx {
				require.True(t, started[int(idx)], "entity_started(%d) precedes its events", int(idx))
				_, done := completed[int(idx)]
				require.False(t, done, "entity_completed(%d) follows its events", int(idx))
			}
		}
		require.EqualValues(t, 20, e["total_entities"], "batch events carry the counters")
	}
	require.Len(t, completed, 20)
	require.Equal(t, false, completed[7]["success"])
	require.Contains(t, completed[7]["error_message"], "none of the search keys")
	require.Equal(t, true, completed[11]["success"], "one model failing leaves the entity a success")
	sum := events[len(events)-1]["result"].(map[string]any)
	require.EqualValues(t, 19, sum["completed_entities"])
	require.EqualValues(t, 1, sum["failed_entities"])
	require.EqualValues(t, 0, sum["skipped_entities"])
	job, err := b.engine.Job("org1", id)
	require.NoError(t, err)
	require.Equal(t, enricher.JobBatchEnrichment, job.Type)
	require.Equal(t, 40, job.TotalModels)
	require.Equal(t, 18*3+2, job.RecordCount, "two model records and a fusion record per entity; entity 11 has its two runs and no fusion")
}

func TestBatchCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{BatchConcurrency: 2}, 0)
	entered := make(chan struct{}, 100)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, n int) (*llm.Response, error) {
		if req.Hints.Entity["name"] == "Company 0" {
			return b.provider.answer(req), nil
		}
		entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	id, stream := b.start(batchSpec(10, "fake::a"))
	<-entered
	<-entered
	require.NoError(t, b.engine.Cancel("org1", id))
	events := b.collect(stream, 0)
	last := events[len(events)-1]
	require.Equal(t, "cancelled", last.typ())
	sum := last["result"].(map[string]any)
	require.EqualValues(t, 1, sum["completed_entities"])
	require.EqualValues(t, 9, sum["skipped_entities"])
	for _, e := range events {
		require.NotEqual(t, "batch_completed", e.typ())
	}
}
