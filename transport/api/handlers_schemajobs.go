package api

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

type generateRequest struct {
	EntityData json.RawMessage `json:"entity_data"`
	Model      string          `json:"model"`
	Name       *string         `json:"name"`
	webhookFields
}

// startSchemaJob answers a schema job start (or its idempotent replay).
func (c *call) startSchemaJob(spec *enricher.SchemaJobSpec) error {
	message := strings.ReplaceAll(spec.Kind, "_", " ") + " started"
	respond := func(id string) any {
		return startResponse{JobID: id, Message: message, StreamURL: "/api/llm/stream/" + id}
	}
	job, err := c.s.deps.Engine.StartSchemaJob(c.p.org.ID, c.createdBy(), spec, c.binding(respond))
	if err != nil {
		return err
	}
	return c.ok(respond(job.ID))
}

func (c *call) replayed() bool {
	if c.replay == nil {
		return false
	}
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetContentType("application/json")
	c.ctx.SetBody(c.replay.Response)
	return true
}

func handleGenerateSchema(c *call) error {
	if c.replayed() {
		return nil
	}
	var req generateRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	sample, err := parseEntity("entity_data", req.EntityData, c.s.cfg.Limits.MaxEntityBytes)
	if err != nil {
		return err
	}
	spec := &enricher.SchemaJobSpec{Kind: enricher.SchemaJobGeneration, Model: req.Model, Sample: sample}
	if req.Model == "" {
		return enricher.Errorf(enricher.KindInvalid, "model: required")
	}
	if req.Name != nil {
		name := strings.TrimSpace(*req.Name)
		if n := utf8.RuneCountInString(name); n < 1 || n > enricher.MaxSchemaNameLen {
			return enricher.Errorf(enricher.KindInvalid, "name: must be 1 to %d characters", enricher.MaxSchemaNameLen)
		}
		spec.Name = &name
	}
	if _, err := c.s.deps.Models.Lookup(req.Model); err != nil {
		return err
	}
	if spec.Webhook, err = c.webhookTarget(req.webhookFields, false); err != nil {
		return err
	}
	return c.startSchemaJob(spec)
}

type editRequest struct {
	Model  string `json:"model"`
	Prompt string `json:"prompt"`
	webhookFields
}

func handleEditSchema(c *call) error {
	cur, err := c.schemaInPath()
	if err != nil {
		return err
	}
	if c.replayed() {
		return nil
	}
	var req editRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	if req.Model == "" {
		return enricher.Errorf(enricher.KindInvalid, "model: required")
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(req.Prompt)); n < 1 || n > 4000 {
		return enricher.Errorf(enricher.KindInvalid, "prompt: must be 1 to 4000 characters")
	}
	if _, err := c.s.deps.Models.Lookup(req.Model); err != nil {
		return err
	}
	webhook, err := c.webhookTarget(req.webhookFields, false)
	if err != nil {
		return err
	}
	if cur.IsDeleted {
		return enricher.Errorf(enricher.KindConflict, "schema is deleted: restore it first")
	}
	return c.startSchemaJob(&enricher.SchemaJobSpec{Kind: enricher.SchemaJobEdit, Model: req.Model, SchemaID: cur.ID, Prompt: req.Prompt, Webhook: webhook})
}
