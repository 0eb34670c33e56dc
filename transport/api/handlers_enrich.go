package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// enrichRequest is the body of POST /api/single/enrich/stream and /sync.
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
	VerifyFields        []string        `json:"verify_fields"` // waterfall only
	// sync only
	TimeoutSeconds         *int  `json:"timeout_seconds"`
	IncludePerModelResults *bool `json:"include_per_model_results"`
	// batch only
	Entities        []json.RawMessage `json:"entities"`
	SelectedIndices []int             `json:"selected_indices"`
	Execution       *string           `json:"execution"` // realtime or provider_batch
	webhookFields                     // webhook_url, webhook_events (handlers_webhooks.go)
}

// The three ways an enrichment starts.
const (
	modeStream = iota
	modeSync
	modeBatch
)

// parseEntity checks one entity: a non-empty JSON object of at most max bytes as compact JSON.
func parseEntity(field string, raw json.RawMessage, max int) (map[string]any, error) {
	if !present(raw) || !isObject(raw) {
		return nil, enricher.Errorf(enricher.KindInvalid, "%s is not an object", field)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, enricher.Errorf(enricher.KindInvalid, "%s: not valid JSON", field)
	}
	if compact.Len() > max {
		return nil, enricher.Errorf(enricher.KindInvalid, "%s: %d bytes, the maximum is %d", field, compact.Len(), max)
	}
	var m map[string]any
	if err := json.Unmarshal(compact.Bytes(), &m); err != nil || len(m) == 0 {
		return nil, enricher.Errorf(enricher.KindInvalid, "%s: at least one field is required", field)
	}
	return m, nil
}

// batchEntities checks every entity of a batch before the job exists, listing every bad one.
func (c *call) batchEntities(req *enrichRequest, spec *enricher.EnrichSpec) error {
	lim := c.s.cfg.Limits
	if len(req.Entities) == 0 || len(req.Entities) > lim.MaxBatchEntities {
		return enricher.Errorf(enricher.KindInvalid, "entities: give 1 to %d entities", lim.MaxBatchEntities)
	}
	var p problems
	spec.Entities = make([]map[string]any, len(req.Entities))
	for i, raw := range req.Entities {
		e, err := parseEntity(fmt.Sprintf("entities[%d]", i), raw, lim.MaxEntityBytes)
		if err != nil {
			p.add("%s", enricher.PublicMessage(err))
			continue
		}
		spec.Entities[i] = e
	}
	checkSelected(req.SelectedIndices, len(req.Entities), &p)
	spec.SelectedIndices = req.SelectedIndices
	return p.err()
}

// checkSelected checks selected_indices against a batch of n entities.
func checkSelected(selected []int, n int, p *problems) {
	if selected == nil {
		return
	}
	if len(selected) == 0 {
		p.add("selected_indices: must not be empty")
	}
	seen := map[int]bool{}
	for i, idx := range selected {
		switch {
		case idx < 0 || idx >= n:
			p.add("selected_indices[%d]: %d is out of range", i, idx)
		case seen[idx]:
			p.add("selected_indices[%d]: %d is listed twice", i, idx)
		}
		seen[idx] = true
	}
}

// schemaDoc is a schema document parsed, and normalized as a job spec stores an inline one.
// Both are shared by the requests that send the same document (Server.schemas) and are
// read-only.
type schemaDoc struct {
	schema     *enricher.Schema
	normalized json.RawMessage
}

// parseSchemaDoc parses and normalizes doc; the error of the first that fails.
func parseSchemaDoc(doc []byte) (schemaDoc, error) {
	schema, err := enricher.ParseSchema(doc)
	if err != nil {
		return schemaDoc{}, err
	}
	normalized, err := enricher.NormalizeSchemaJSON(doc)
	if err != nil {
		return schemaDoc{}, err
	}
	return schemaDoc{schema: schema, normalized: normalized}, nil
}

// enrichSpec validates an enrichment request and resolves its schema into a job spec. The
// checks run in the documented order: body problems (400) before an unknown schema_id (404).
func (c *call) enrichSpec(req *enrichRequest, mode int) (*enricher.EnrichSpec, error) {
	lim := c.s.cfg.Limits
	spec := &enricher.EnrichSpec{Strategy: enricher.StrategySinglePass, Languages: []string{"en"}, Sync: mode == modeSync}
	if mode == modeBatch {
		if c.streamed() { // the entities follow the options line: batch_ndjson.go checks them
			if req.Entities != nil {
				return nil, enricher.Errorf(enricher.KindInvalid, "entities: not allowed in the options line; give one entity per line after it")
			}
		} else if err := c.batchEntities(req, spec); err != nil {
			return nil, err
		}
	} else {
		e, err := parseEntity("entity_data", req.EntityData, lim.MaxEntityBytes)
		if err != nil {
			return nil, err
		}
		spec.EntityData = e
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
		in, err := c.s.schemas.Get(req.TargetSchema, parseSchemaDoc)
		if err != nil {
			return nil, err
		}
		schema, spec.SchemaContent = in.schema, in.normalized
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
	if err := enricher.CheckVerifyOptions(spec.Strategy, len(spec.Models), req.VerifyFields); err != nil {
		return nil, err
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
	switch mode {
	case modeSync:
		spec.OnMismatch = enricher.MismatchCancel
		allowed = allowed[1:]
	case modeBatch:
		spec.OnMismatch = enricher.MismatchSkip
		allowed = []string{enricher.MismatchSkip, enricher.MismatchContinue}
	}
	if req.OnMismatch != nil {
		ok := false
		for _, a := range allowed {
			ok = ok || a == *req.OnMismatch
		}
		if !ok {
			where := "here"
			if mode == modeBatch {
				where = "in a batch"
			}
			return nil, enricher.Errorf(enricher.KindInvalid, "on_classification_mismatch: %q is not allowed %s", *req.OnMismatch, where)
		}
		spec.OnMismatch = *req.OnMismatch
	}
	if mode == modeSync && req.TimeoutSeconds != nil {
		max := int(c.s.cfg.SyncMaxTimeout / time.Second)
		if t := *req.TimeoutSeconds; t < 1 || t > max {
			return nil, enricher.Errorf(enricher.KindInvalid, "timeout_seconds: must be from 1 to %d", max)
		}
	}
	if req.Execution != nil {
		switch *req.Execution {
		case enricher.ExecutionRealtime:
		case enricher.ExecutionProviderBatch:
			if mode != modeBatch {
				return nil, enricher.Errorf(enricher.KindInvalid, "execution: provider_batch is for batch jobs only")
			}
			spec.Execution = *req.Execution
		default:
			return nil, enricher.Errorf(enricher.KindInvalid, "execution: unknown execution %q (realtime or provider_batch)", *req.Execution)
		}
	}
	var err error
	if spec.Webhook, err = c.webhookTarget(req.webhookFields, mode == modeBatch); err != nil {
		return nil, err
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
		in, err := c.s.schemas.Get(saved.Content, parseSchemaDoc)
		if err != nil {
			return nil, err
		}
		schema = in.schema
	}
	// verify_fields name leaves of the schema, known only now (a 400 after the schema's 404)
	if err := enricher.CheckVerifyFields(schema, req.VerifyFields); err != nil {
		return nil, err
	}
	spec.VerifyFields = req.VerifyFields
	if mode != modeBatch { // a batch entity without a search key fails alone, at run time
		clean, _ := enricher.StripSimDirective(spec.EntityData)
		if err := enricher.CheckSearchKeys(schema, clean); err != nil {
			return nil, err
		}
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
	spec, err := c.enrichSpec(&req, modeStream)
	if err != nil {
		return err
	}
	respond := func(id string) any {
		return startResponse{JobID: id, Message: "enrichment started", StreamURL: "/api/llm/stream/" + id}
	}
	job, err := c.s.deps.Engine.Start(c.p.org.ID, c.createdBy(), spec, c.binding(respond))
	if err != nil {
		return err
	}
	return c.ok(respond(job.ID))
}

func handleEnrichSync(c *call) error {
	var req enrichRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	spec, err := c.enrichSpec(&req, modeSync)
	if err != nil {
		return err
	}
	final, err := c.runBlocking(req.TimeoutSeconds, func(bind *enricher.IdempotencyBinding) (*enricher.Job, error) {
		return c.s.deps.Engine.Start(c.p.org.ID, c.createdBy(), spec, bind)
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

// runBlocking serves a blocking endpoint: it starts the job with the call's Idempotency-Key
// binding (or takes the job an idempotent replay names), waits up to timeoutSeconds (default
// 300) for it to end and returns it. When the job outlives the wait it answers 504 with the
// job id itself and returns nil, nil; any other error once the job is stored (503 at
// shutdown) carries the job id too.
func (c *call) runBlocking(timeoutSeconds *int, start func(bind *enricher.IdempotencyBinding) (*enricher.Job, error)) (*enricher.Job, error) {
	timeout := 300 * time.Second
	if timeoutSeconds != nil {
		timeout = time.Duration(*timeoutSeconds) * time.Second
	}
	jobID := ""
	if c.replay != nil {
		jobID = c.replay.JobID
	} else {
		job, err := start(c.binding(nil))
		if err != nil {
			return nil, err
		}
		jobID = job.ID
	}
	final, err := c.s.waitTerminal(c.p.org.ID, jobID, time.Now().Add(timeout))
	if err != nil {
		return nil, &jobError{err: err, jobID: jobID}
	}
	if final != nil {
		return final, nil
	}
	writeJSON(c.ctx, fasthttp.StatusGatewayTimeout, errorBody{
		Detail: fmt.Sprintf("the job is still running after %s; stream it or read it later", timeout), JobID: jobID})
	return nil, nil
}

// waitTerminal waits until job id is terminal or timeout passes (nil job then), following its
// stream rather than polling. A client that leaves does not cancel the job.
func (s *Server) waitTerminal(org, id string, until time.Time) (*enricher.Job, error) {
	stream, err := s.deps.Engine.Subscribe(org, id, 0)
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	for {
		wait := time.Until(until)
		if wait <= 0 {
			return nil, nil
		}
		ev, ok, err := stream.Next(s.closing, wait)
		if errors.Is(err, io.EOF) || ok && ev.Terminal {
			break
		}
		if err != nil {
			if s.stopping.Load() {
				return nil, enricher.Errorf(enricher.KindUnavailable, "server is shutting down")
			}
			return nil, err
		}
	}
	j, err := s.deps.Engine.Job(org, id)
	if err != nil || !j.Status.Terminal() { // not running and not finished: say it still runs
		return nil, err
	}
	return j, nil
}

// batchStartResponse answers a batch start.
type batchStartResponse struct {
	JobID     string `json:"job_id"`
	Message   string `json:"message"`
	Total     int    `json:"total"`
	StreamURL string `json:"stream_url"`
}

func handleBatchStart(c *call) error {
	if c.replayed() {
		return nil
	}
	if c.streamed() {
		return handleBatchNDJSON(c)
	}
	var req enrichRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	spec, err := c.enrichSpec(&req, modeBatch)
	if err != nil {
		return err
	}
	total := len(spec.Entities)
	if spec.SelectedIndices != nil {
		total = len(spec.SelectedIndices)
	}
	respond := func(id string) any {
		return batchStartResponse{JobID: id, Message: "batch started", Total: total, StreamURL: "/api/llm/stream/" + id}
	}
	job, err := c.s.deps.Engine.Start(c.p.org.ID, c.createdBy(), spec, c.binding(respond))
	if err != nil {
		return err
	}
	return c.ok(respond(job.ID))
}
