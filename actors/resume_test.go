package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
	"github.com/entity-enricher/enricher/transport/llm"
)

// storedEvents reads a job's whole event log.
func storedEvents(t *testing.T, db *storage.DB, jobID string) []event {
	t.Helper()
	var out []event
	require.NoError(t, db.Events(jobID, 0, 0, func(_ int64, data []byte) error {
		var e event
		if err := json.Unmarshal(data, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	}))
	return out
}

// waitStoredCounts polls the stored events of jobID until reached holds for their counts by
// type; it fails the test after 10 s, saying what it waited for.
func waitStoredCounts(t *testing.T, db *storage.DB, jobID, what string, reached func(n map[string]int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := map[string]int{}
		for _, e := range storedEvents(t, db, jobID) {
			n[e.typ()]++
		}
		if reached(n) {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s; got %v", what, n)
		time.Sleep(10 * time.Millisecond)
	}
}

// restart starts another engine on b's store with provider p and returns its bundle.
func (b *bundle) restart(p *fakeProvider) *bundle {
	b.t.Helper()
	again, err := New(Config{BatchConcurrency: 3}, Deps{Store: b.db, Catalog: fakeCatalog{}, Providers: map[string]Provider{"fake": {Impl: p}}})
	require.NoError(b.t, err)
	b.t.Cleanup(again.Stop)
	return &bundle{t: b.t, db: b.db, engine: again, provider: p}
}

// TestRecoveryResumesBatchEntities stops an engine while three batch entities are in flight,
// two with model a's run stored and model b's call pending, one with both calls pending, and
// starts another on the same store: the entities resume with their stored runs, so every
// (entity, model) has exactly one record and one model_completed, every entity one
// entity_started, and model a is not called again for the two.
func TestRecoveryResumesBatchEntities(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{BatchConcurrency: 3}, 0)
	var mu sync.Mutex
	calls := map[string]int{} // "<entity name>|<model>" -> calls
	var release atomic.Bool
	complete := func(ctx context.Context, req *llm.Request, _ int) (*llm.Response, error) {
		mu.Lock()
		calls[fmt.Sprint(req.Hints.Entity["name"], "|", req.Hints.ModelKey)]++
		mu.Unlock()
		if (req.Hints.ModelKey == "fake::b" || req.Hints.Entity["name"] == "Company 2") && !release.Load() {
			<-ctx.Done() // held until the engine stops
			return nil, ctx.Err()
		}
		return b.provider.answer(req), nil
	}
	b.provider.CompleteFunc = complete
	id, stream := b.start(batchSpec(6, "fake::a", "fake::b"))
	waitStoredCounts(t, b.db, id, "three entities in flight, two with model a done", func(n map[string]int) bool {
		return n["model_completed"] == 2 && n["entity_started"] == 3 && n["model_started"] == 6
	})
	stream.Close()
	b.engine.Stop()
	before := storedEvents(t, b.db, id)

	release.Store(true)
	b2 := b.restart(&fakeProvider{values: defaultValues, CompleteFunc: complete})
	s2, err := b2.engine.Subscribe("org1", id, int64(len(before)))
	require.NoError(t, err)
	defer s2.Close()
	b2.collect(s2, int64(len(before)))
	all := storedEvents(t, b.db, id)
	require.Equal(t, "completed", all[len(all)-1].typ())

	modelCompleted, started := map[string]int{}, map[int]int{}
	for _, e := range all {
		switch e.typ() {
		case "model_completed":
			modelCompleted[fmt.Sprint(e["entity_index"], "|", e["model"])]++
		case "entity_started":
			started[int(e["entity_index"].(float64))]++
		}
	}
	records, err := b.db.RecordsOfJob("org1", id)
	require.NoError(t, err)
	perRun, fusions := map[string]int{}, map[int]int{}
	for _, r := range records {
		require.NotNil(t, r.EntityIndex)
		if r.Type == enricher.RecordFusion {
			fusions[*r.EntityIndex]++
			continue
		}
		perRun[fmt.Sprint(*r.EntityIndex, "|", *r.Model)]++
	}
	for i := range 6 {
		require.Equal(t, 1, started[i], "entity %d started once", i)
		require.Equal(t, 1, fusions[i], "entity %d fused once", i)
		for _, m := range []string{"fake::a", "fake::b"} {
			k := fmt.Sprint(i, "|", m)
			require.Equal(t, 1, modelCompleted[k], "one model_completed for entity %d, %s", i, m)
			require.Equal(t, 1, perRun[k], "one record for entity %d, %s", i, m)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range 2 {
		require.Equal(t, 1, calls[fmt.Sprintf("Company %d|fake::a", i)], "the stored run of entity %d is not called again", i)
	}
	sum := all[len(all)-1]["result"].(map[string]any)
	require.EqualValues(t, 6, sum["completed_entities"])
	job, err := b2.engine.Job("org1", id)
	require.NoError(t, err)
	require.Equal(t, 12, job.CompletedModels, "completed_models counts each run once")
	require.Equal(t, 18, job.RecordCount)
}

// copyUpTo builds a fresh store holding job id of src as it stood once event upTo was stored:
// its spec, a batch's stored entities, the events up to upTo, the records they name (a record
// is stored with the event that names it) and its snapshot (the terminal state reset by reset). It stands for a server
// killed right after that event.
func copyUpTo(t *testing.T, src *storage.DB, id string, upTo int64, reset func(*enricher.Job)) *storage.DB {
	t.Helper()
	db, err := storage.Open(storage.Config{InMemory: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	job, err := src.JobWithSpec("org1", id)
	require.NoError(t, err)
	job.Status, job.FinishedAt, job.Result, job.LastSeq = enricher.JobRunning, nil, nil, upTo
	reset(job)
	require.NoError(t, db.CreateJob(job, nil))
	n, err := src.CountEntities(id) // a batch's entities are stored before it starts
	require.NoError(t, err)
	if n > 0 {
		indices := make([]int, n)
		for i := range indices {
			indices[i] = i
		}
		entities, err := src.EntitiesAt(id, indices)
		require.NoError(t, err)
		require.NoError(t, db.PutEntities(id, 0, entities))
	}
	var events []storage.EventEntry
	named := map[string]bool{}
	require.NoError(t, src.Events(id, 0, upTo, func(seq int64, data []byte) error {
		events = append(events, storage.EventEntry{JobID: id, Seq: seq, Data: append([]byte(nil), data...)})
		var e event
		if err := json.Unmarshal(data, &e); err != nil {
			return err
		}
		if rid, ok := e["record_id"].(string); ok {
			named[rid] = true
		}
		return nil
	}))
	all, err := src.RecordsOfJob("org1", id)
	require.NoError(t, err)
	var records []*enricher.Record
	for _, r := range all {
		if named[r.ID] {
			records = append(records, r)
		}
	}
	require.NoError(t, db.Commit(&storage.Batch{Records: records, Events: events, Jobs: []*enricher.Job{job}}))
	return db
}

// TestRecoveryReusesStoredFusion restarts a job (and a batch entity) whose fusion record and
// fusion_completed are stored but whose end is not: the fusion is not run again, the outcome
// names the stored fusion record, and no second fusion record is written.
func TestRecoveryReusesStoredFusion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spec  *enricher.EnrichSpec
		reset func(*enricher.Job)
		rest  []string
		final func(events []event) any // the fused record id the end names
	}{
		{"single", spec("fake::a", "fake::b"), func(*enricher.Job) {}, []string{"completed"},
			func(ev []event) any { return ev[len(ev)-1]["result"].(map[string]any)["record_id"] }},
		{"batch entity", batchSpec(1, "fake::a", "fake::b"), func(j *enricher.Job) {
			j.TotalEntities, j.CompletedEntities, j.CostUSD, j.InputTokens, j.OutputTokens = nil, nil, 0, 0, 0
		}, []string{"entity_completed", "batch_completed", "completed"},
			func(ev []event) any { return ev[0]["final_record_id"] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{}, 0)
			id, stream := b.start(tc.spec)
			events := b.collect(stream, 0)
			upTo := int64(0)
			for _, e := range events {
				if e.typ() == "fusion_completed" {
					upTo = int64(e["seq"].(float64))
				}
			}
			require.NotZero(t, upTo)
			db := copyUpTo(t, b.db, id, upTo, tc.reset)
			calls := b.provider.calls

			again := (&bundle{t: t, db: db}).restart(b.provider)
			s2, err := again.engine.Subscribe("org1", id, upTo)
			require.NoError(t, err)
			defer s2.Close()
			rest := again.collect(s2, upTo)
			require.Equal(t, tc.rest, types(rest), "the job ends without fusing again")
			require.Equal(t, calls, b.provider.calls, "no model is called again")
			records, err := db.RecordsOfJob("org1", id)
			require.NoError(t, err)
			var fusion []string
			for _, r := range records {
				if r.Type == enricher.RecordFusion {
					fusion = append(fusion, r.ID)
				}
			}
			require.Len(t, fusion, 1, "one fusion record")
			require.Equal(t, fusion[0], tc.final(rest), "the outcome names the stored fusion record")
		})
	}
}
