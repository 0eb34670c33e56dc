package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
)

// TestBatchLifecycle: a batch runs for the model's batch_delay_ms, then its results are the
// answers Complete gives (same text and usage) without any sleep, and a directed transport
// fault is that request's error result.
func TestBatchLifecycle(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	profiles := BuiltinProfiles()
	profiles["fast"] = Profile{BaseLatencyMS: 500, BatchDelayMS: 1000}
	p, rec := newTest(Config{Profiles: profiles, Now: clock.now})
	ctx := context.Background()
	failing := company(2)
	failing["_sim"] = map[string]any{"fail": "server_error", "fail_attempts": 5.0}
	reqs := []llm.BatchRequest{
		{CustomID: "a", Request: enrichReq("fast", company(0), 1, 1)},
		{CustomID: "b", Request: enrichReq("fast", company(1), 1, 1)},
		{CustomID: "c", Request: enrichReq("fast", failing, 1, 1)},
	}
	id, err := p.SubmitBatch(ctx, reqs)
	require.NoError(t, err)

	st, err := p.Batch(ctx, id)
	require.NoError(t, err)
	require.Equal(t, llm.BatchState{Status: "in_progress", Total: 3}, *st)
	require.Equal(t, llm.KindBadRequest, llm.KindOf(p.BatchResults(ctx, id, func(llm.BatchResult) error { return nil })))

	clock.advance(time.Second)
	st, err = p.Batch(ctx, id)
	require.NoError(t, err)
	require.Equal(t, llm.BatchState{Status: "completed", Ended: true, Total: 3, Succeeded: 2, Failed: 1}, *st)

	got := map[string]llm.BatchResult{}
	require.NoError(t, p.BatchResults(ctx, id, func(r llm.BatchResult) error { got[r.CustomID] = r; return nil }))
	require.Len(t, got, 3)
	require.Empty(t, rec.total(), "batch results do not sleep")
	for _, cid := range []string{"a", "b"} {
		want, err := p.Complete(ctx, reqs[map[string]int{"a": 0, "b": 1}[cid]].Request)
		require.NoError(t, err)
		require.NoError(t, got[cid].Err)
		require.Equal(t, want.Text, got[cid].Response.Text)
		require.Equal(t, want.Usage, got[cid].Response.Usage)
	}
	require.Equal(t, llm.KindServerError, llm.KindOf(got["c"].Err))
}

// TestBatchCancelUnknownAndDefaults: cancel ends a running batch without results; an id of
// another process (or never issued) is not_found; a model without batch_delay_ms waits
// DefaultBatchDelay; an unknown model is refused at submit.
func TestBatchCancelUnknownAndDefaults(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p, _ := newTest(Config{Now: clock.now})
	ctx := context.Background()
	id, err := p.SubmitBatch(ctx, []llm.BatchRequest{{CustomID: "a", Request: enrichReq("fast", company(0), 1, 1)}})
	require.NoError(t, err)
	clock.advance(DefaultBatchDelay - time.Millisecond)
	st, err := p.Batch(ctx, id)
	require.NoError(t, err)
	require.False(t, st.Ended)

	require.NoError(t, p.CancelBatch(ctx, id))
	st, err = p.Batch(ctx, id)
	require.NoError(t, err)
	require.Equal(t, llm.BatchState{Status: "cancelled", Ended: true, Total: 1}, *st)
	n := 0
	require.NoError(t, p.BatchResults(ctx, id, func(llm.BatchResult) error { n++; return nil }))
	require.Zero(t, n)

	restarted, _ := newTest(Config{Now: clock.now})
	_, err = restarted.Batch(ctx, id)
	require.Equal(t, llm.KindNotFound, llm.KindOf(err))
	require.Equal(t, llm.KindNotFound, llm.KindOf(restarted.CancelBatch(ctx, id)))
	require.Equal(t, llm.KindNotFound, llm.KindOf(restarted.BatchResults(ctx, id, func(llm.BatchResult) error { return nil })))

	_, err = p.SubmitBatch(ctx, []llm.BatchRequest{{CustomID: "a", Request: enrichReq("nope", company(0), 1, 1)}})
	require.Equal(t, llm.KindBadRequest, llm.KindOf(err))
}

// TestBatchBound: past MaxBatches running batches a submit is refused; once one has ended
// the oldest ended batch is forgotten to make room.
func TestBatchBound(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	p, _ := newTest(Config{Now: clock.now})
	ctx := context.Background()
	reqs := []llm.BatchRequest{{CustomID: "a", Request: enrichReq("fast", company(0), 1, 1)}}
	first, err := p.SubmitBatch(ctx, reqs)
	require.NoError(t, err)
	for range MaxBatches - 1 {
		_, err := p.SubmitBatch(ctx, reqs)
		require.NoError(t, err)
	}
	_, err = p.SubmitBatch(ctx, reqs)
	require.Equal(t, llm.KindRateLimited, llm.KindOf(err))
	require.NoError(t, p.CancelBatch(ctx, first))
	_, err = p.SubmitBatch(ctx, reqs)
	require.NoError(t, err)
	_, err = p.Batch(ctx, first)
	require.Equal(t, llm.KindNotFound, llm.KindOf(err))
}
