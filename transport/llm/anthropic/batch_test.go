package anthropic

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

// TestBatchRoundTrip submits four requests (one with an array schema, which is wrapped), the
// fake fails the second with overloaded and the third with rate_limit errors; the results
// decode as Complete's answers do (the wrapped one unwrapped), the errored ones become the
// kinds Complete would report, and the state counts both.
func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.fake.SetBatchDelay(5 * time.Millisecond)
	b.fake.Script(func(n int, _ []byte) llmtest.AnthropicReply {
		switch n {
		case 2:
			return llmtest.AnthropicReply{Status: 529, Body: llmtest.AnthropicErrorBody("overloaded_error", "Overloaded")}
		case 3:
			return llmtest.AnthropicReply{Status: 429, Body: llmtest.AnthropicErrorBody("rate_limit_error", "Number of requests has exceeded your rate limit")}
		}
		return llmtest.AnthropicReply{}
	})
	ctx := context.Background()
	reqs := llmtest.BatchRequests(4, personRequest)
	reqs[3].Request.Schema = json.RawMessage(`{"type":"array","items":{"type":"string"}}`)
	id, err := b.client.SubmitBatch(ctx, reqs)
	require.NoError(t, err)
	batches, requests := b.fake.BatchCounts()
	require.Equal(t, 1, batches)
	require.Equal(t, 4, requests)

	st := llmtest.WaitBatchEnded(t, b.client, id)
	require.Equal(t, llm.BatchState{Status: "ended", Ended: true, Total: 4, Succeeded: 2, Failed: 2}, *st)

	got := map[string]llm.BatchResult{}
	require.NoError(t, b.client.BatchResults(ctx, id, func(r llm.BatchResult) error {
		got[r.CustomID] = r
		return nil
	}))
	require.Len(t, got, 4)
	require.NoError(t, got["r0"].Err)
	require.JSONEq(t, `{"name":"x","age":1}`, got["r0"].Response.Text)
	require.Positive(t, got["r0"].Response.Usage.InputTokens)
	require.NoError(t, got["r3"].Err)
	require.JSONEq(t, `["x"]`, got["r3"].Response.Text)
	requireKind(t, got["r1"].Err, llm.KindOverloaded)
	requireKind(t, got["r2"].Err, llm.KindRateLimited)
}

// TestBatchCancelAndUnknown cancels a running batch (canceling, then ended with no
// outcomes), and maps an unknown id to not_found on every call.
func TestBatchCancelAndUnknown(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.fake.SetBatchDelay(-1)
	ctx := context.Background()
	id, err := b.client.SubmitBatch(ctx, llmtest.BatchRequests(2, personRequest))
	require.NoError(t, err)
	st, err := b.client.Batch(ctx, id)
	require.NoError(t, err)
	require.Equal(t, llm.BatchState{Status: "in_progress", Total: 2}, *st)
	requireKind(t, b.client.BatchResults(ctx, id, func(llm.BatchResult) error { return nil }), llm.KindBadRequest)

	require.NoError(t, b.client.CancelBatch(ctx, id))
	st = llmtest.WaitBatchEnded(t, b.client, id)
	require.Equal(t, 2, st.Failed)
	n := 0
	require.NoError(t, b.client.BatchResults(ctx, id, func(llm.BatchResult) error { n++; return nil }))
	require.Zero(t, n, "canceled requests have no outcome")

	_, err = b.client.Batch(ctx, "msgbatch_unknown")
	requireKind(t, err, llm.KindNotFound)
	requireKind(t, b.client.CancelBatch(ctx, "msgbatch_unknown"), llm.KindNotFound)
	requireKind(t, b.client.BatchResults(ctx, "msgbatch_unknown", func(llm.BatchResult) error { return nil }), llm.KindNotFound)
}

// TestBatchEndedOnDemand ends a batch with no delay by the fake's EndBatches, and a wrong
// key is auth_failed at submit.
func TestBatchEndedOnDemand(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.fake.SetBatchDelay(-1)
	ctx := context.Background()
	id, err := b.client.SubmitBatch(ctx, llmtest.BatchRequests(1, personRequest))
	require.NoError(t, err)
	require.Equal(t, 1, b.fake.EndBatches())
	st, err := b.client.Batch(ctx, id)
	require.NoError(t, err)
	require.Equal(t, llm.BatchState{Status: "ended", Ended: true, Total: 1, Succeeded: 1}, *st)

	wrong := setup(t, func(c *Config) { c.APIKey = "sk-ant-wrong" })
	_, err = wrong.client.SubmitBatch(ctx, llmtest.BatchRequests(1, personRequest))
	requireKind(t, err, llm.KindAuth)
}
