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
	webhookFields
}

// startMerge checks a merge request and starts its fusion job, storing bind with it.
func (c *call) startMerge(req *mergeRequest, bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
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
	webhook, err := c.webhookTarget(req.webhookFields, false)
	if err != nil {
		return nil, err
	}
	return c.s.deps.Engine.StartFusion(c.p.org.ID, c.createdBy(), req.ResultIDs, req.ArbitrationModel, webhook, bind)
}

func handleMergeStream(c *call) error {
	if c.replayed() {
		return nil
	}
	var req mergeRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	respond := func(id string) any {
		return startResponse{JobID: id, Message: "fusion started", StreamURL: "/api/llm/stream/" + id}
	}
	job, err := c.startMerge(&req, c.binding(respond))
	if err != nil {
		return err
	}
	return c.ok(respond(job.ID))
}

func handleMerge(c *call) error {
	var req mergeRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	final, err := c.runBlocking(req.TimeoutSeconds, func(bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
		return c.startMerge(&req, bind)
	})
	if err != nil || final == nil {
		return err
	}
	var resp enricher.FusionResponse
	if err := json.Unmarshal(final.Result, &resp); err != nil {
		return fmt.Errorf("job %s result: %w", final.ID, err)
	}
	return c.ok(resp)
}
