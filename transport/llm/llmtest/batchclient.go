package llmtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/entity-enricher/enricher/transport/llm"
)

// BatchRequests returns n batch requests named r0..r(n-1), each a fresh request from req.
func BatchRequests(n int, req func() *llm.Request) []llm.BatchRequest {
	reqs := make([]llm.BatchRequest, n)
	for i := range reqs {
		reqs[i] = llm.BatchRequest{CustomID: fmt.Sprintf("r%d", i), Request: req()}
	}
	return reqs
}

// WaitBatchEnded polls batch id of b until it has ended (at most about a second, the fakes'
// batches end after DefaultBatchDelay) and returns its last state; the test fails otherwise.
func WaitBatchEnded(t testing.TB, b llm.Batcher, id string) *llm.BatchState {
	t.Helper()
	for range 500 {
		st, err := b.Batch(context.Background(), id)
		if err != nil {
			t.Fatalf("batch %s: %v", id, err)
		}
		if st.Ended {
			return st
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("batch %s did not end", id)
	return nil
}
