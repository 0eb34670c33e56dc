package openai_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/llmtest"
	"github.com/entity-enricher/enricher/transport/llm/openai"
	"github.com/entity-enricher/enricher/transport/llm/vendorhttp"
)

// TestBatchRoundTrip submits a batch whose second and third lines the fake fails (a 429 and
// a context-length 400), polls it to the end and reads every result: the answers decode as
// Complete's do, the failed lines become the *llm.Error Complete would return for them, and
// the state counts both. The uploaded file holds one chat completion body per line.
func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, testKey)
	fake.SetBatchDelay(5 * time.Millisecond)
	fake.Script(func(n int, _ []byte) llmtest.OpenAIReply {
		switch n {
		case 2:
			return llmtest.OpenAIReply{Status: 429, Body: llmtest.OpenAIErrorBody("Rate limit reached", "requests", "rate_limit_exceeded")}
		case 3:
			return llmtest.OpenAIReply{Status: 400, Body: llmtest.OpenAIErrorBody("This model's maximum context length is 128000 tokens.", "invalid_request_error", "context_length_exceeded")}
		}
		return llmtest.OpenAIReply{}
	})
	c := newClient(t, openai.Config{BaseURL: fake.URL, APIKey: testKey})
	ctx := context.Background()

	id, err := c.SubmitBatch(ctx, llmtest.BatchRequests(4, personRequest))
	require.NoError(t, err)
	require.NotEmpty(t, id)
	batches, requests := fake.BatchCounts()
	require.Equal(t, 1, batches)
	require.Equal(t, 4, requests)

	st := llmtest.WaitBatchEnded(t, c, id)
	require.Equal(t, llm.BatchState{Status: "completed", Ended: true, Total: 4, Succeeded: 2, Failed: 2}, *st)

	got := map[string]llm.BatchResult{}
	require.NoError(t, c.BatchResults(ctx, id, func(r llm.BatchResult) error {
		got[r.CustomID] = r
		return nil
	}))
	require.Len(t, got, 4)
	for _, ok := range []string{"r0", "r3"} {
		require.NoError(t, got[ok].Err, ok)
		var answer map[string]any
		require.NoError(t, json.Unmarshal([]byte(got[ok].Response.Text), &answer), ok)
		require.Equal(t, "x", answer["name"], ok)
		require.Positive(t, got[ok].Response.Usage.InputTokens, ok)
		require.Equal(t, "stop", got[ok].Response.StopReason, ok)
	}
	require.Equal(t, llm.KindRateLimited, llm.KindOf(got["r1"].Err))
	require.Equal(t, llm.KindContextLength, llm.KindOf(got["r2"].Err))
	require.Nil(t, got["r1"].Response)

	// The lines reached the realtime endpoint with the body Complete sends.
	var lines []string
	for _, r := range fake.Requests() {
		if strings.HasSuffix(r.Path, "/chat/completions") {
			lines = append(lines, string(r.Body))
		}
	}
	require.Len(t, lines, 4)
	require.Contains(t, lines[0], `"max_completion_tokens":512`)
	require.Contains(t, lines[0], `"strict":true`)
}

// TestBatchResultsStopAndNotEnded proves fn's error stops the walk and is returned, and that
// the results of a batch still running are refused.
func TestBatchResultsStopAndNotEnded(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, testKey)
	fake.SetBatchDelay(-1)
	c := newClient(t, openai.Config{BaseURL: fake.URL, APIKey: testKey})
	ctx := context.Background()
	id, err := c.SubmitBatch(ctx, llmtest.BatchRequests(3, personRequest))
	require.NoError(t, err)

	st, err := c.Batch(ctx, id)
	require.NoError(t, err)
	require.False(t, st.Ended)
	require.Equal(t, "in_progress", st.Status)
	require.Error(t, c.BatchResults(ctx, id, func(llm.BatchResult) error { return nil }))

	require.Equal(t, 1, fake.EndBatches())
	stop := fmt.Errorf("enough")
	calls := 0
	err = c.BatchResults(ctx, id, func(llm.BatchResult) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}

// TestBatchCancel cancels a running batch: it reports cancelling, then cancelled with no
// results.
func TestBatchCancel(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, testKey)
	fake.SetBatchDelay(-1)
	c := newClient(t, openai.Config{BaseURL: fake.URL, APIKey: testKey})
	ctx := context.Background()
	id, err := c.SubmitBatch(ctx, llmtest.BatchRequests(2, personRequest))
	require.NoError(t, err)
	require.NoError(t, c.CancelBatch(ctx, id))
	st := llmtest.WaitBatchEnded(t, c, id)
	require.Equal(t, "cancelled", st.Status)
	n := 0
	require.NoError(t, c.BatchResults(ctx, id, func(llm.BatchResult) error { n++; return nil }))
	require.Zero(t, n)
}

// TestBatchErrors maps the batch calls' failures: an unknown id is not_found on every call, a
// wrong key auth_failed, and a request the adapter cannot encode bad_request before anything
// is sent.
func TestBatchErrors(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, testKey)
	c := newClient(t, openai.Config{BaseURL: fake.URL, APIKey: testKey})
	ctx := context.Background()
	_, err := c.Batch(ctx, "batch_unknown")
	require.Equal(t, llm.KindNotFound, llm.KindOf(err))
	require.Equal(t, llm.KindNotFound, llm.KindOf(c.CancelBatch(ctx, "batch_unknown")))
	require.Equal(t, llm.KindNotFound, llm.KindOf(c.BatchResults(ctx, "batch_unknown", func(llm.BatchResult) error { return nil })))

	wrong := newClient(t, openai.Config{BaseURL: fake.URL, APIKey: "sk-wrong"})
	_, err = wrong.SubmitBatch(ctx, llmtest.BatchRequests(1, personRequest))
	require.Equal(t, llm.KindAuth, llm.KindOf(err))

	bad := llmtest.BatchRequests(1, personRequest)
	bad[0].Request.Messages = nil
	_, err = c.SubmitBatch(ctx, bad)
	require.Equal(t, llm.KindBadRequest, llm.KindOf(err))
	batches, _ := fake.BatchCounts()
	require.Zero(t, batches)
	for _, r := range fake.Requests() {
		require.False(t, strings.HasSuffix(r.Path, "/chat/completions"))
	}
}

// TestBatchResultsBeyondMaxResponseBytes: a batch's results file is larger than one answer
// may be (MaxResponseBytes), and the batch calls read it whole all the same (their own cap,
// vendorhttp.BatchMaxResponseBytes), while Complete keeps the configured cap.
func TestBatchResultsBeyondMaxResponseBytes(t *testing.T) {
	t.Parallel()
	fake := newFake(t, llmtest.OpenAIFlavorOpenAI, testKey)
	fake.SetBatchDelay(time.Millisecond)
	c := newClient(t, openai.Config{BaseURL: fake.URL, APIKey: testKey, Options: vendorhttp.Options{MaxResponseBytes: 600}})
	ctx := context.Background()
	_, err := c.Complete(ctx, personRequest())
	require.Equal(t, llm.KindServerError, llm.KindOf(err), "one answer over 600 bytes is refused: %v", err)

	id, err := c.SubmitBatch(ctx, llmtest.BatchRequests(20, personRequest))
	require.NoError(t, err)
	llmtest.WaitBatchEnded(t, c, id)
	n := 0
	require.NoError(t, c.BatchResults(ctx, id, func(r llm.BatchResult) error {
		require.NoError(t, r.Err)
		n++
		return nil
	}))
	require.Equal(t, 20, n, "a results file of 20 answers is read")
}
