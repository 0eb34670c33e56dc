package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
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
	records, err := b.db.RecordsOfJob("org1", id)
	require.NoError(t, err)
	failed := 0
	for _, r := range records {
		if r.Success {
			require.Nil(t, r.ErrorCode, "a successful record has no error_code")
			continue
		}
		failed++
		require.Equal(t, 11, *r.EntityIndex)
		require.Equal(t, "auth_failed", *r.ErrorCode, "a failed record says why")
		require.Contains(t, *r.ErrorMessage, "no")
	}
	require.Equal(t, 1, failed)
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

// TestBatchThousandEntitiesWithFlaky runs 1,000 entities on three sim models, one of them
// injecting faults, and checks that every entity is accounted for and that the counts match
// the stored records.
func TestBatchThousandEntitiesWithFlaky(t *testing.T) {
	t.Parallel()
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	defer db.Close()
	cat, err := llm.NewCatalog(llm.CatalogConfig{})
	require.NoError(t, err)
	flaky := sim.BuiltinProfiles()["flaky"]
	flaky.BaseLatencyMS, flaky.MSPerOutputToken, flaky.TimeoutMS = 0, 0, 5
	flaky.Faults["rate_limited"] = 0.001 // each 429 pauses the whole sim provider for 1 s
	provider := sim.New(sim.Config{Profiles: map[string]sim.Profile{"fast": {}, "realistic": {}, "flaky": flaky}})
	eng, err := New(Config{BatchConcurrency: 16, ProviderConcurrency: 32, Retry: llm.RetryPolicy{Base: time.Millisecond}},
		Deps{Store: db, Catalog: cat, Providers: map[string]Provider{"sim": {Impl: provider}}})
	require.NoError(t, err)
	defer eng.Stop()

	s := batchSpec(1000, "sim::fast", "sim::realistic", "sim::flaky")
	s.Strategy = enricher.StrategySinglePass
	job, err := eng.Start("org1", enricher.CreatedBy{}, s)
	require.NoError(t, err)
	require.NoError(t, waitDone(eng, job.ID))
	final, err := eng.Job("org1", job.ID)
	require.NoError(t, err)
	require.Equal(t, enricher.JobCompleted, final.Status)
	var sum enricher.BatchSummary
	require.NoError(t, json.Unmarshal(final.Result, &sum))
	require.Equal(t, 1000, sum.TotalEntities)
	require.Equal(t, 1000, sum.CompletedEntities+sum.FailedEntities+sum.SkippedEntities)

	records, err := db.RecordsOfJob("org1", job.ID)
	require.NoError(t, err)
	succeeded := map[int]bool{}
	var cost float64
	for _, r := range records {
		cost += r.CostUSD
		if r.Type == enricher.RecordEnrichment && r.Success {
			succeeded[*r.EntityIndex] = true
		}
	}
	require.Equal(t, sum.CompletedEntities, len(succeeded), "completed entities are those with a successful run")
	require.InDelta(t, sum.CostUSD, cost, 1e-9, "the batch cost is the sum of its records")
}

// waitDone follows a job until it is terminal.
func waitDone(eng *Engine, id string) error {
	for {
		s, err := eng.Subscribe("org1", id, 0)
		if err != nil {
			return err
		}
		for err == nil {
			_, _, err = s.Next(context.Background(), time.Second)
		}
		s.Close()
		j, err := eng.Job("org1", id)
		if err != nil || j.Status.Terminal() {
			return err
		}
	}
}
