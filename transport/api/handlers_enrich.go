package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// enrichRequest is the body of POST /api/single/enrich/stream and /sync (SPEC §5.1–§5.2).
type enrichRequest struct {
	EntityData          json.RawMessage `json:"entity_data"`
	SchemaID            *string         `json:"schema_id"`
	TargetSchema        json.RawMessage `json:"target_schema"`
	Models              []string        `json:"models"`
	Languages           []string        `json:"languages"`
	Strategy            *string         `json:"strategy"`
	ClassificationModel *string         `json:"classification_model"`
	ArbitrationModel    *string         `json:"arbitration_model"`
	OnMismatch          *string         `json:"on_classification_mismatch"`
	// sync only
	TimeoutSeconds         *int  `json:"timeout_seconds"`
	IncludePerModelResults *bool `json:"include_per_model_results"`
}

// enrichSpec validates an enrichment request and resolves its schema into a job spec. The
// checks run in the order of SPEC §0.2: body problems (400) before an unknown schema_id (404).
func (c *call) enrichSpec(req *enrichRequest, sync bool) (*enricher.EnrichSpec, error) {
	lim := c.s.cfg.Limits
	spec := &enricher.EnrichSpec{Strategy: enricher.StrategySinglePass, Languages: []string{"en"}, Sync: sync}
	// entity_data
	if !present(req.EntityData) || !isObject(req.EntityData) {
		return nil, enricher.Errorf(enricher.KindInvalid, "entity_data: required, a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, req.EntityData); err != nil {
		return nil, enricher.Errorf(enricher.KindInvalid, "entity_data: not valid JSON")
	}
	if compact.Len() > lim.MaxEntityBytes {
		return nil, enricher.Errorf(enricher.KindInvalid, "entity_data: %d bytes, the maximum is %d", compact.Len(), lim.MaxEntityBytes)
	}
	if err := json.Unmarshal(compact.Bytes(), &spec.EntityData); err != nil || len(spec.EntityData) == 0 {
		return nil, enricher.Errorf(enricher.KindInvalid, "entity_data: at least one field is required")
	}
	// schema
	hasID, hasInline := req.SchemaID != nil, present(req.TargetSchema)
	if hasID == hasInline {
		return nil, enricher.Errorf(enricher.KindInvalid, "give exactly one of schema_id and target_schema")
	}
	var schema *enricher.Schema
	if hasInline {
		if !isObject(req.TargetSchema) {
			return nil, enricher.Errorf(enricher.KindInvalid, "target_schema: expected object")
		}
		pc, err := parseContent(req.TargetSchema)
		if err != nil {
			return nil, err
		}
		spec.SchemaContent = pc.content
	} else if !enricher.ValidUUID(*req.SchemaID) {
		return nil, enricher.Errorf(enricher.KindInvalid, "schema_id: not a valid id")
	}
	// models and options
	if len(req.Models) == 0 || len(req.Models) > lim.MaxModels {
		return nil, enricher.Errorf(enricher.KindInvalid, "models: give 1 to %d model keys", lim.MaxModels)
	}
	seen := map[string]bool{}
	for _, k := range req.Models {
		if seen[k] {
			return nil, enricher.Errorf(enricher.KindInvalid, "models: %q is listed twice", k)
		}
		seen[k] = true
		if _, err := c.s.deps.Models.Lookup(k); err != nil {
			return nil, err
		}
	}
	spec.Models = req.Models
	if req.Languages != nil {
		langs, err := enricher.NormalizeLanguages(req.Languages, lim.MaxLanguages)
		if err != nil {
			return nil, err
		}
		spec.Languages = langs
	}
	if req.Strategy != nil {
		spec.Strategy = enricher.Strategy(*req.Strategy)
		if !spec.Strategy.Valid() {
			return nil, enricher.Errorf(enricher.KindInvalid, "strategy: unknown strategy %q", *req.Strategy)
		}
	}
	for _, m := range []struct {
		field string
		key   *string
	}{{"classification_model", req.ClassificationModel}, {"arbitration_model", req.ArbitrationModel}} {
		if m.key != nil {
			if _, err := c.s.deps.Models.Lookup(*m.key); err != nil {
				return nil, enricher.Wrap(enricher.KindInvalid, err, m.field+": "+err.Error())
			}
		}
	}
	spec.ClassificationModel, spec.ArbitrationModel = req.ClassificationModel, req.ArbitrationModel
	spec.OnMismatch = enricher.MismatchPause
	allowed := []string{enricher.MismatchPause, enricher.MismatchContinue, enricher.MismatchCancel}
	if sync {
		spec.OnMismatch = enricher.MismatchCancel
		allowed = allowed[1:]
	}
	if req.OnMismatch != nil {
		ok := false
		for _, a := range allowed {
			ok = ok || a == *req.OnMismatch
		}
		if !ok {
			return nil, enricher.Errorf(enricher.KindInvalid, "on_classification_mismatch: %q is not allowed here", *req.OnMismatch)
		}
		spec.OnMismatch = *req.OnMismatch
	}
	if sync && req.TimeoutSeconds != nil {
		max := int(c.s.cfg.SyncMaxTimeout / time.Second)
		if t := *req.TimeoutSeconds; t < 1 || t > max {
			return nil, enricher.Errorf(enricher.KindInvalid, "timeout_seconds: must be from 1 to %d", max)
		}
	}
	// 404 for the schema named in the body comes after every 400.
	if hasID {
		saved, err := c.s.deps.Schemas.Schema(c.p.org.ID, *req.SchemaID)
		if err == nil && saved.IsDeleted {
			err = enricher.Errorf(enricher.KindNotFound, "schema not found")
		}
		if err != nil {
			return nil, err
		}
		spec.SchemaID, spec.SchemaContent = req.SchemaID, saved.Content
	}
	schema, err := enricher.ParseSchema(spec.SchemaContent)
	if err != nil {
		return nil, err
	}
	clean, _ := enricher.StripSimDirective(spec.EntityData)
	if err := enricher.CheckSearchKeys(schema, clean); err != nil {
		return nil, err
	}
	return spec, nil
}

// startResponse answers a streaming start.
type startResponse struct {
	JobID     string `json:"job_id"`
	Message   string `json:"message"`
	StreamURL string `json:"stream_url"`
}

func (c *call) createdBy() enricher.CreatedBy {
	var by enricher.CreatedBy
	by.UserID = c.p.userID()
	if c.p.key != nil {
		id := c.p.key.ID
		by.APIKeyID = &id
		if by.UserID == nil {
			by.UserID = c.p.key.UserID
		}
	}
	return by
}

func handleEnrichStream(c *call) error {
	if c.replayed() {
		return nil
	}
	var req enrichRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	spec, err := c.enrichSpec(&req, false)
	if err != nil {
		return err
	}
	job, err := c.s.deps.Engine.Start(c.p.org.ID, c.createdBy(), spec)
	if err != nil {
		return err
	}
	resp := startResponse{JobID: job.ID, Message: "enrichment started", StreamURL: "/api/llm/stream/" + job.ID}
	c.remember(job.ID, resp)
	return c.ok(resp)
}

func handleEnrichSync(c *call) error {
	var req enrichRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	spec, err := c.enrichSpec(&req, true)
	if err != nil {
		return err
	}
	final, err := c.runBlocking(req.TimeoutSeconds, func() (*enricher.Job, error) {
		return c.s.deps.Engine.Start(c.p.org.ID, c.createdBy(), spec)
	})
	if err != nil || final == nil {
		return err
	}
	var outcome enricher.EnrichmentOutcome
	if err := json.Unmarshal(final.Result, &outcome); err != nil {
		return fmt.Errorf("job %s result: %w", final.ID, err)
	}
	if req.IncludePerModelResults == nil || !*req.IncludePerModelResults {
		outcome.PerModelResults = nil
	}
	return c.ok(outcome)
}

// runBlocking serves a blocking endpoint: it starts the job (or takes the one an idempotent
// replay names), waits up to timeoutSeconds (default 300) for it to end and returns it. When
// the job outlives the wait it answers 504 with the job id itself and returns nil, nil.
func (c *call) runBlocking(timeoutSeconds *int, start func() (*enricher.Job, error)) (*enricher.Job, error) {
	timeout := 300 * time.Second
	if timeoutSeconds != nil {
		timeout = time.Duration(*timeoutSeconds) * time.Second
	}
	jobID := ""
	if c.replay != nil {
		jobID = c.replay.JobID
	} else {
		job, err := start()
		if err != nil {
			return nil, err
		}
		jobID = job.ID
		c.remember(jobID, nil)
	}
	final, err := c.s.waitTerminal(c.p.org.ID, jobID, time.Now().Add(timeout))
	if err != nil || final != nil {
		return final, err
	}
	writeJSON(c.ctx, fasthttp.StatusGatewayTimeout, errorBody{
		Detail: fmt.Sprintf("the job is still running after %s; stream it or read it later", timeout), JobID: jobID})
	return nil, nil
}

// waitTerminal waits until job id is terminal or timeout passes (nil job then), following its
// live stream rather than polling. A client that leaves does not cancel the job.
func (s *Server) waitTerminal(org, id string, until time.Time) (*enricher.Job, error) {
	stream, err := s.deps.Engine.Subscribe(org, id)
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	deadline := time.NewTimer(time.Until(until))
	defer deadline.Stop()
	for live := stream.Live(); live != nil; {
		select {
		case _, ok := <-live:
			if !ok {
				live = nil
			}
		case <-deadline.C:
			return nil, nil
		}
	}
	j, err := s.deps.Engine.Job(org, id)
	if err != nil {
		return nil, err
	}
	if !j.Status.Terminal() { // the stream ended early (slow reader or shutdown)
		if s.stopping.Load() {
			return nil, enricher.Errorf(enricher.KindUnavailable, "server is shutting down")
		}
		return s.waitTerminal(org, id, until)
	}
	return j, nil
}
