package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/transport/llm"
)

// stage stores n entities "Company i" under job, the way an NDJSON upload does.
func stage(t *testing.T, b *bundle, job string, n int) {
	t.Helper()
	var chunk [][]byte
	for i := range n {
		chunk = append(chunk, fmt.Appendf(nil, `{"name":"Company %d","country":"US"}`, i))
	}
	require.NoError(t, b.db.PutEntities(job, 0, chunk))
}

// completedByIndex counts the entity_completed events of each entity index.
func completedByIndex(events []event) map[int]int {
	out := map[int]int{}
	for _, e := range events {
		if e.typ() == "entity_completed" {
			out[int(e["entity_index"].(float64))]++
		}
	}
	return out
}

// TestBatchInlineEntitiesAreStoredPerKey starts a JSON-form batch: its entities go to the
// per-entity keys, the stored spec keeps only their count, and the batch reads them back
// across several windows, honouring selected_indices.
func TestBatchInlineEntitiesAreStoredPerKey(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{BatchConcurrency: 4}, 0)
	const n, picked = 2*entityWindow + 8, entityWindow + 8 // the picked ones span two windows
	s := batchSpec(n, "fake::a")
	for i := range picked {
		s.SelectedIndices = append(s.SelectedIndices, n-1-i) // descending: the order given is kept
	}
	id, stream := b.start(s)
	events := b.collect(stream, 0)
	require.Equal(t, "completed", events[len(events)-1].typ())
	done := completedByIndex(events)
	require.Len(t, done, picked)
	for _, i := range s.SelectedIndices {
		require.Equal(t, 1, done[i], "entity %d completes once", i)
	}
	first := -1
	for _, e := range events {
		if e.typ() == "entity_started" {
			first = int(e["entity_index"].(float64))
			require.Equal(t, "Company "+strconv.Itoa(first), e["entity_label"], "the label comes from the stored entity")
			break
		}
	}
	require.Equal(t, n-1, first, "entities start in the order of selected_indices")
	count, err := b.db.CountEntities(id)
	require.NoError(t, err)
	require.Equal(t, n, count)
	job, err := b.db.JobWithSpec("org1", id)
	require.NoError(t, err)
	require.NotContains(t, string(job.Spec), `"entities"`, "the stored spec does not carry the entity list")
	var stored enricher.EnrichSpec
	require.NoError(t, json.Unmarshal(job.Spec, &stored))
	require.Equal(t, n, stored.EntityCount)
}

// TestStagedBatchRecovers starts a batch whose entities were staged in storage, stops the
// engine half-way and starts another on the same store: the batch resumes, reading its
// entities from storage, and every entity completes exactly once.
func TestStagedBatchRecovers(t *testing.T) {
	t.Parallel()
	const n = 600
	b := setup(t, Config{BatchConcurrency: 4}, 0)
	var gate atomic.Bool
	gate.Store(true)
	b.provider.CompleteFunc = func(ctx context.Context, req *llm.Request, _ int) (*llm.Response, error) {
		name, _ := req.Hints.Entity["name"].(string)
		i, _ := strconv.Atoi(strings.TrimPrefix(name, "Company "))
		if gate.Load() && i >= n/2 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return b.provider.answer(req), nil
	}
	id := "0b9c1c8e-7a57-4f43-9d49-2f1d2c3b4a59"
	stage(t, b, id, n)
	s := batchSpec(0, "fake::a")
	s.Entities, s.EntityCount = nil, n
	job, err := b.engine.StartStaged("org1", enricher.CreatedBy{}, id, s, nil)
	require.NoError(t, err)
	require.Equal(t, id, job.ID)
	stream, err := b.engine.Subscribe("org1", id, 0)
	require.NoError(t, err)
	seen := 0
	for {
		ev, ok, err := stream.Next(context.Background(), 10*time.Second)
		require.NoError(t, err)
		require.True(t, ok, "an event within 10s")
		var e event
		require.NoError(t, json.Unmarshal(ev.Data, &e))
		if e.typ() == "entity_completed" {
			if seen++; seen == n/2 {
				break
			}
		}
	}
	stream.Close()
	b.engine.Stop()
	gate.Store(false)

	again, err := New(Config{BatchConcurrency: 4}, Deps{Store: b.db, Catalog: fakeCatalog{}, Providers: map[string]Provider{"fake": {Impl: b.provider}}})
	require.NoError(t, err)
	defer again.Stop()
	require.NoError(t, waitDone(again, id))
	var events []event
	require.NoError(t, b.db.Events(id, 0, 0, func(_ int64, data []byte) error {
		var e event
		events = append(events, e)
		return json.Unmarshal(data, &events[len(events)-1])
	}))
	require.Equal(t, "completed", events[len(events)-1].typ())
	done := completedByIndex(events)
	require.Len(t, done, n)
	for i := range n {
		require.Equal(t, 1, done[i], "entity %d completes exactly once across the restart", i)
	}
	sum := events[len(events)-1]["result"].(map[string]any)
	require.EqualValues(t, n, sum["completed_entities"])
}

// TestStartStagedNeedsACount refuses a staged start without stored entities.
func TestStartStagedNeedsACount(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	s := batchSpec(0, "fake::a")
	s.Entities = nil
	_, err := b.engine.StartStaged("org1", enricher.CreatedBy{}, "0b9c1c8e-7a57-4f43-9d49-2f1d2c3b4a58", s, nil)
	require.True(t, enricher.IsKind(err, enricher.KindInvalid), "%v", err)
}
