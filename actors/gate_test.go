package actors

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

func TestGates(t *testing.T) {
	t.Parallel()
	gs := newGates([]string{"a", "b"}, 10)
	need := callNeed{"a": 4, "b": 1}
	require.True(t, gs.tryTake(need))
	require.True(t, gs.tryTake(need))
	require.False(t, gs.tryTake(need), "a would hold 12 > 10")
	require.EqualValues(t, 2, gs["b"].used.Load(), "a refused take leaves nothing taken at b")
	require.NoError(t, gs.admit(callNeed{"a": 2}), "2 more calls fit")
	require.Error(t, gs.admit(callNeed{"a": 3}))

	room := entityRoom{gates: gs, need: need}
	require.False(t, room.take())
	err := gs.admit(callNeed{"a": 1})
	require.True(t, enricher.IsKind(err, enricher.KindTooMany), "a batch waits for room at a: new jobs are refused")
	require.Contains(t, err.Error(), "provider a is at capacity")
	require.NoError(t, gs.admit(callNeed{"c": 1}), "other providers still admit")
	gs.give(need)
	require.True(t, room.take(), "room again")
	require.NoError(t, gs.admit(callNeed{"a": 1}), "nobody waits any more")
	room.close()
	gs.give(need)
	require.Zero(t, gs["a"].used.Load())

	alone := newGates([]string{"a"}, 2)
	require.True(t, alone.tryTake(callNeed{"a": 5}), "work bigger than the limit runs alone")
	require.False(t, alone.tryTake(callNeed{"a": 1}))
	require.EqualValues(t, 5, alone["a"].maxUsed.Load())
}

func TestJobNeed(t *testing.T) {
	t.Parallel()
	s, err := enricher.ParseSchema([]byte(testSchema))
	require.NoError(t, err)
	a, b := enricher.ModelInfo{Key: "x::a", Provider: "x"}, enricher.ModelInfo{Key: "y::b", Provider: "y"}
	tests := []struct {
		name     string
		strategy enricher.Strategy
		arbiter  *enricher.ModelInfo
		fusion   bool
		want     callNeed
	}{
		{"single pass", enricher.StrategySinglePass, nil, false, callNeed{"x": 1, "y": 1}},
		{"one call per domain", enricher.StrategyMultiExpertise, nil, false, callNeed{"x": 2, "y": 2}},
		{"arbiter", enricher.StrategySinglePass, &b, false, callNeed{"x": 1, "y": 2}},
		{"fusion job: the arbitration only", enricher.StrategySinglePass, &a, true, callNeed{"x": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, jobNeed([]enricher.ModelInfo{a, b}, nil, tt.arbiter, s, tt.strategy, tt.fusion))
		})
	}
}

// TestOverloadBackpressure starts batches until admission refuses one: the accepted batches
// wait for provider room instead of failing, every one completes without a failed entity,
// the calls held never pass provider_queue, and once they are done the provider admits again.
func TestOverloadBackpressure(t *testing.T) {
	t.Parallel()
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	defer db.Close()
	cat, err := llm.NewCatalog(llm.CatalogConfig{})
	require.NoError(t, err)
	provider := sim.New(sim.Config{Profiles: map[string]sim.Profile{"fast": {BaseLatencyMS: 1}, "realistic": {BaseLatencyMS: 2}}})
	const limit = 40
	eng, err := New(Config{BatchConcurrency: 4, ProviderConcurrency: 4, ProviderQueue: limit, MaxJobs: 100, MaxJobsPerOrg: 100},
		Deps{Store: db, Catalog: cat, Providers: map[string]Provider{"sim": {Impl: provider}}})
	require.NoError(t, err)
	defer eng.Stop()

	newBatch := func() *enricher.EnrichSpec {
		s := batchSpec(12, "sim::fast", "sim::realistic")
		s.Strategy = enricher.StrategyMultiExpertise // two domains: 4 calls per entity
		return s
	}
	var ids []string
	var refused error
	for len(ids) < 20 {
		job, err := eng.Start("org1", enricher.CreatedBy{}, newBatch())
		if err != nil {
			refused = err
			break
		}
		ids = append(ids, job.ID)
		time.Sleep(5 * time.Millisecond) // let the batch take its room
	}
	require.True(t, enricher.IsKind(refused, enricher.KindTooMany), "a start past provider_queue is refused with 429: %v", refused)
	require.GreaterOrEqual(t, len(ids), 2, "batches within the bound are accepted")

	for _, id := range ids {
		require.NoError(t, waitDone(eng, id))
		j, err := eng.Job("org1", id)
		require.NoError(t, err)
		require.Equal(t, enricher.JobCompleted, j.Status)
		var sum enricher.BatchSummary
		require.NoError(t, json.Unmarshal(j.Result, &sum))
		require.Equal(t, 12, sum.CompletedEntities, "no entity fails for the server's own queue")
		require.Zero(t, sum.FailedEntities)
	}
	load := eng.ProviderLoad("sim")
	require.LessOrEqual(t, load.MaxHeld, limit, "calls held never pass provider_queue")
	require.LessOrEqual(t, load.MaxQueued, limit, "calls waiting never pass provider_queue")
	require.Greater(t, load.MaxQueued, 0, "the provider was saturated")
	require.Eventually(t, func() bool { return eng.ProviderLoad("sim").Held == 0 }, 5*time.Second, 10*time.Millisecond,
		"finished work gives its room back")
	job, err := eng.Start("org1", enricher.CreatedBy{}, newBatch())
	require.NoError(t, err, "room again: admitted")
	require.NoError(t, waitDone(eng, job.ID))
}
