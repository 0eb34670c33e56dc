package client

import (
	"context"
	"fmt"

	"github.com/entity-enricher/enricher"
)

// EnrichAndWait runs the seed's workflow for one entity: it starts a streaming enrichment,
// follows its events (resuming over dropped connections) to the terminal event and returns the
// job's EnrichmentOutcome. A completed or failed job returns its outcome and a nil error
// (Outcome.Success tells); a cancelled job returns the outcome as far as it got (possibly nil)
// and an error naming the reason. onEvent, when not nil, sees every event first.
func (c *Client) EnrichAndWait(ctx context.Context, req EnrichRequest, onEvent func(Event), opts ...StartOption) (*enricher.EnrichmentOutcome, error) {
	started, err := c.EnrichStream(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	for ev, err := range c.Stream(ctx, started.JobID, 0) {
		if err != nil {
			return nil, err
		}
		if onEvent != nil {
			onEvent(ev)
		}
		if !ev.Terminal() {
			continue
		}
		var end struct {
			Result       *enricher.EnrichmentOutcome `json:"result"`
			Reason       string                      `json:"reason"`
			ErrorMessage string                      `json:"error_message"`
		}
		if err := ev.Decode(&end); err != nil {
			return nil, fmt.Errorf("job %s: %s event: %w", started.JobID, ev.Type, err)
		}
		switch ev.Type {
		case enricher.EventCancelled:
			return end.Result, fmt.Errorf("job %s cancelled (%s)", started.JobID, end.Reason)
		case enricher.EventFailed:
			if end.Result == nil {
				end.Result = &enricher.EnrichmentOutcome{JobID: started.JobID, Status: enricher.JobFailed}
			}
		}
		return end.Result, nil
	}
	return nil, fmt.Errorf("job %s: stream ended without a terminal event", started.JobID)
}
