package llm

import "context"

// Batcher is a provider's batch API: many calls submitted together, answered within the
// vendor's completion window (hours, not seconds) at a discount (OpenAI Batch, Anthropic
// Message Batches, Gemini batch mode). A provider that has one implements Batcher beside
// Provider. Implementations are safe for concurrent use, honour ctx, and report failures of
// the batch calls themselves as *Error with the kind that fits (a batch id the vendor does
// not know is KindNotFound; a refused submit is KindBadRequest or KindRateLimited).
type Batcher interface {
	// SubmitBatch submits reqs as one vendor batch and returns the vendor's batch id. Every
	// request has the same Model; CustomIDs are unique within reqs.
	SubmitBatch(ctx context.Context, reqs []BatchRequest) (string, error)
	// Batch returns the state of batch id.
	Batch(ctx context.Context, id string) (*BatchState, error)
	// BatchResults calls fn once per request of the ended batch id that has an outcome, in
	// any order; a request without one (the batch failed, expired or was cancelled before
	// it ran) is not reported. fn's error stops the walk and is returned.
	BatchResults(ctx context.Context, id string, fn func(BatchResult) error) error
	// CancelBatch asks the vendor to cancel batch id. Requests already answered keep their
	// results; the batch ends later (Batch reports Ended).
	CancelBatch(ctx context.Context, id string) error
}

// BatchRequest is one call of a batch under the caller's id for it.
type BatchRequest struct {
	// CustomID names the call in the batch's results: 1 to 64 characters of [a-zA-Z0-9_-]
	// (the strictest vendor's rule, Anthropic's).
	CustomID string
	Request  *Request
}

// BatchState is what the vendor reports of a batch.
type BatchState struct {
	// Status is the vendor's own word for the state (OpenAI "in_progress", Anthropic
	// "ended", Gemini "BATCH_STATE_RUNNING"), for events and logs.
	Status string
	// Ended is true once the batch will change no more (completed, failed, expired or
	// cancelled): its results can be read.
	Ended bool
	// Total is the number of requests; Succeeded and Failed those answered so far, and how.
	Total, Succeeded, Failed int
}

// BatchResult is the outcome of one request of a batch: Response, or Err (an *Error) when
// the vendor answered that request with an error.
type BatchResult struct {
	CustomID string
	Response *Response
	Err      error
}
