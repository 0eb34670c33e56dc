package api

import (
	"encoding/json"
	"fmt"

	"github.com/entity-enricher/enricher"
)

// mergeRequest is the body of POST /api/fusion/merge and /merge/stream.
type mergeRequest struct {
	ResultIDs        []string `json:"result_ids"`
	ArbitrationModel *string  `json:"arbitration_model"`
	TimeoutSeconds   *int     `json:"timeout_seconds"`
}

// startMerge checks a merge request and starts its fusion job.
func (c *call) startMerge(req *mergeRequest) (*enricher.Job, error) {
	max := c.s.cfg.Limits.MaxModels
	if len(req.ResultIDs) < 2 || len(req.ResultIDs) > max {
		return nil, enricher.Errorf(enricher.KindInvalid, "result_ids: give 2 to %d record ids", max)
	}
	seen := map[string]bool{}
	for i, id := range req.ResultIDs {
		if !enricher.ValidUUID(id) {
			return nil, enricher.Errorf(enricher.KindInvalid, "result_ids[%d]: not a valid id", i)
		}
		if seen[id] {
			return nil, enricher.Errorf(enricher.KindInvalid, "result_ids[%d]: %s is listed twice", i, id)
		}
		seen[id] = true
	}
	if req.TimeoutSeconds != nil && (*req.TimeoutSeconds < 1 || *req.TimeoutSeconds > 600) {
		return nil, enricher.Errorf(enricher.KindInvalid, "timeout_seconds: must be from 1 to 600")
	}
	if req.ArbitrationModel != nil {
		if _, err := c.s.deps.Models.Lookup(*req.ArbitrationModel); err != nil {
			return nil, enricher.Wrap(enricher.KindInvalid, err, "arbitration_model: "+err.Error())
		}
	}
	return c.s.deps.Engine.StartFusion(c.p.org.ID, c.createdBy(), req.ResultIDs, req.ArbitrationModel)
}

func handleMergeStream(c *call) error {
	if c.replayed() {
		return nil
	}
	var req mergeRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	job, err := c.startMerge(&req)
	if err != nil {
		return err
	}
	resp := startResponse{JobID: job.ID, Message: "fusion started", StreamURL: "/api/llm/stream/" + job.ID}
	c.remember(job.ID, resp)
	return c.ok(resp)
}

func handleMerge(c *call) error {
	var req mergeRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	final, err := c.runBlocking(req.TimeoutSeconds, func() (*enricher.Job, error) { return c.startMerge(&req) })
	if err != nil || final == nil {
		return err
	}
	var resp enricher.FusionResponse
	if err := json.Unmarshal(final.Result, &resp); err != nil {
		return fmt.Errorf("job %s result: %w", final.ID, err)
	}
	return c.ok(resp)
}
