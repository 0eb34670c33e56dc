package gemini

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

// TestBatchRoundTrip submits three inlined requests, the fake fails the second with a 429
// (RESOURCE_EXHAUSTED with RetryInfo); the results decode as Complete's answers, the error is
// rate_limited (an inlined error carries no RetryInfo), and the state counts both (int64
// counts sent as strings).
func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	srv.APIKey = testKey
	srv.SetBatchDelay(5 * time.Millisecond)
	srv.Script(func(n int, _ []byte) llmtest.GeminiReply {
		if n == 2 {
			return llmtest.GeminiReply{Status: 429, Body: llmtest.GeminiErrorBody(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", "7s")}
		}
		return llmtest.GeminiReply{}
	})
	c := newTestClient(t, srv, nil)
	ctx := context.Background()
	id, err := c.SubmitBatch(ctx, llmtest.BatchRequests(3, smallRequest))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "batches/"), id)
	batches, requests := srv.BatchCounts()
	require.Equal(t, 1, batches)
	require.Equal(t, 3, requests)

	st := llmtest.WaitBatchEnded(t, c, id)
	require.Equal(t, llm.BatchState{Status: "BATCH_STATE_SUCCEEDED", Ended: true, Total: 3, Succeeded: 2, Failed: 1}, *st)
	got := map[string]llm.BatchResult{}
	require.NoError(t, c.BatchResults(ctx, id, func(r llm.BatchResult) error { got[r.CustomID] = r; return nil }))
	require.Len(t, got, 3)
	for _, ok := range []string{"r0", "r2"} {
		require.NoError(t, got[ok].Err)
		require.JSONEq(t, `{"name":"x","age":1}`, got[ok].Response.Text)
		require.Positive(t, got[ok].Response.Usage.InputTokens)
	}
	var e *llm.Error
	require.ErrorAs(t, got["r1"].Err, &e)
	require.Equal(t, llm.KindRateLimited, e.Kind)
	require.Equal(t, 429, e.Status)

	// Each line reached generateContent with the body Complete sends, under the batch's key.
	var lines int
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, ":generateContent") {
			lines++
			require.Equal(t, testKey, r.Header.Get("x-goog-api-key"))
			require.Contains(t, string(r.Body), `"responseJsonSchema"`)
		}
	}
	require.Equal(t, 3, lines)
}

// TestBatchCancelAndUnknown cancels a running batch (it ends cancelled, without results),
// maps an unknown id to not_found on every call, and a wrong key to a refusal at submit.
func TestBatchCancelAndUnknown(t *testing.T) {
	t.Parallel()
	srv := llmtest.NewGeminiServer(t)
	srv.APIKey = testKey
	srv.SetBatchDelay(-1)
	c := newTestClient(t, srv, nil)
	ctx := context.Background()
	id, err := c.SubmitBatch(ctx, llmtest.BatchRequests(2, smallRequest))
	require.NoError(t, err)
	st, err := c.Batch(ctx, strings.TrimPrefix(id, "batches/")) // the bare id works too
	require.NoError(t, err)
	require.Equal(t, llm.BatchState{Status: "BATCH_STATE_RUNNING", Total: 2}, *st)
	require.Equal(t, llm.KindBadRequest, llm.KindOf(c.BatchResults(ctx, id, func(llm.BatchResult) error { return nil })))

	require.NoError(t, c.CancelBatch(ctx, id))
	st = llmtest.WaitBatchEnded(t, c, id)
	require.Equal(t, "BATCH_STATE_CANCELLED", st.Status)
	n := 0
	require.NoError(t, c.BatchResults(ctx, id, func(llm.BatchResult) error { n++; return nil }))
	require.Zero(t, n)

	_, err = c.Batch(ctx, "batches/unknown")
	require.Equal(t, llm.KindNotFound, llm.KindOf(err))
	require.Equal(t, llm.KindNotFound, llm.KindOf(c.CancelBatch(ctx, "batches/unknown")))
	require.Equal(t, llm.KindNotFound, llm.KindOf(c.BatchResults(ctx, "unknown", func(llm.BatchResult) error { return nil })))

	wrong := newTestClient(t, srv, func(cfg *Config) { cfg.APIKey = "wrong" })
	_, err = wrong.SubmitBatch(ctx, llmtest.BatchRequests(1, smallRequest))
	require.Equal(t, llm.KindBadRequest, llm.KindOf(err)) // Gemini answers a bad key 400 INVALID_ARGUMENT
	batches, _ := srv.BatchCounts()
	require.Equal(t, 1, batches, "the refused submit made no batch")
}
