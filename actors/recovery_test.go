package actors

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// TestRecoveryKeepsPausedJobsPaused stops an engine while a job is paused on a classification
// mismatch, starts another on the same store, and continues the job there.
func TestRecoveryKeepsPausedJobsPaused(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	mismatchProvider(b)
	classifier := "fake::c"
	s := spec("fake::a", "fake::b")
	s.ClassificationModel = &classifier
	id, stream := b.start(s)
	before := waitFor(t, b, stream, "classification_mismatch_pause")
	stream.Close()
	b.engine.Stop()

	again, err := New(Config{}, Deps{Store: b.db, Catalog: fakeCatalog{}, Providers: map[string]Provider{"fake": {Impl: b.provider}}})
	require.NoError(t, err)
	defer again.Stop()
	job, err := again.Job("org1", id)
	require.NoError(t, err)
	require.Equal(t, enricher.JobPaused, job.Status)
	require.NoError(t, again.Continue("org1", id), "the recovered job is paused and takes continue")
	s2, err := again.Subscribe("org1", id, int64(len(before)))
	require.NoError(t, err)
	defer s2.Close()
	b2 := &bundle{t: t, db: b.db, engine: again, provider: b.provider}
	rest := b2.collect(s2, int64(len(before)))
	require.Equal(t, "job_resumed", rest[0].typ(), "the sequence continues after the pause")
	require.Equal(t, "completed", rest[len(rest)-1].typ())
}

// TestRecoveryFinishesJobsWhoseRunsAreStored restarts a job whose model records all exist: it
// fuses and completes without calling the models again.
func TestRecoveryFinishesJobsWhoseRunsAreStored(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}, 0)
	id, stream := b.start(spec("fake::a", "fake::b"))
	events := b.collect(stream, 0)
	require.Equal(t, "completed", events[len(events)-1].typ())
	// The server died right after the two model runs: the store holds the events up to the
	// second model_completed and the records they name.
	db := copyUpTo(t, b.db, id, 4, func(j *enricher.Job) { j.RecordIDs, j.RecordCount = j.RecordIDs[:2], 2 })
	calls := b.provider.calls

	again, err := New(Config{}, Deps{Store: db, Catalog: fakeCatalog{}, Providers: map[string]Provider{"fake": {Impl: b.provider}}})
	require.NoError(t, err)
	defer again.Stop()
	s2, err := again.Subscribe("org1", id, 4)
	require.NoError(t, err)
	defer s2.Close()
	b2 := &bundle{t: t, db: db, engine: again, provider: b.provider}
	rest := b2.collect(s2, 4)
	require.Equal(t, []string{"fusion_started", "conflicts_detected", "fusion_completed", "completed"}, types(rest))
	require.Equal(t, calls, b.provider.calls, "finished runs are not called again")
}
