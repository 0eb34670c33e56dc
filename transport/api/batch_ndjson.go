package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
)

// stageChunkBytes bounds the entity data an NDJSON upload holds before writing it to storage.
const stageChunkBytes = 1 << 20

// handleBatchNDJSON serves the NDJSON form of a batch start (Content-Type
// application/x-ndjson): the first non-empty line is the options object (every batch field
// but entities), every later non-empty line one entity object. Entities are written to
// storage in chunks as they are read, under the id the job will have, so the body is never
// held whole. Any bad line is a 400 naming its line number; then, as on every other failure,
// the staged entities are deleted and no job exists.
func handleBatchNDJSON(c *call) error {
	lines := newLineReader(c.streamBody(c.s.cfg.MaxStreamBodyBytes, c.bodyTee))
	raw, n, err := lines.next(c.s.cfg.MaxBodyBytes)
	if errors.Is(err, io.EOF) {
		return enricher.Errorf(enricher.KindInvalid, "request body is empty: the first line must be the options object")
	}
	if err != nil {
		return c.lineError(n, err)
	}
	if raw[0] != '{' || !json.Valid(raw) {
		return enricher.Errorf(enricher.KindInvalid, "line %d: the options line is not a JSON object", n)
	}
	var req enrichRequest
	if err := decodeJSON(raw, &req, ""); err != nil {
		return enricher.Errorf(enricher.KindInvalid, "line %d: %s", n, enricher.PublicMessage(err))
	}
	spec, err := c.enrichSpec(&req, modeBatch)
	if enricher.IsKind(err, enricher.KindInvalid) {
		return enricher.Errorf(enricher.KindInvalid, "line %d: %s", n, enricher.PublicMessage(err))
	}
	if err != nil {
		return err
	}
	id := uuid.NewString()
	count, err := c.stageEntities(id, lines)
	if err == nil {
		var p problems
		checkSelected(req.SelectedIndices, count, &p)
		spec.SelectedIndices, spec.EntityCount = req.SelectedIndices, count
		err = p.err()
	}
	total := count
	if spec.SelectedIndices != nil {
		total = len(spec.SelectedIndices)
	}
	respond := func(id string) any {
		return batchStartResponse{JobID: id, Message: "batch started", Total: total, StreamURL: "/api/llm/stream/" + id}
	}
	var job *enricher.Job
	if err == nil {
		job, err = c.s.deps.Engine.StartStaged(c.p.org.ID, c.createdBy(), id, spec, c.binding(respond))
	}
	if err != nil {
		if derr := c.s.deps.Entities.DeleteEntities(id); derr != nil {
			c.s.log.Warn("staged entities of a refused NDJSON batch are left in storage", "job_id", id, "err", derr)
		}
		return err
	}
	return c.ok(respond(job.ID))
}

// stageEntities reads every entity line after the options line, checks it and stores it
// under id, a chunk at a time. It returns the number of entities.
func (c *call) stageEntities(id string, lines *lineReader) (int, error) {
	lim := c.s.cfg.Limits
	var chunk [][]byte
	size, count := 0, 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := c.s.deps.Entities.PutEntities(id, count-len(chunk), chunk)
		chunk, size = nil, 0
		return err
	}
	var compact bytes.Buffer
	for {
		raw, n, err := lines.next(c.s.cfg.MaxBodyBytes)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, c.lineError(n, err)
		}
		if count == lim.MaxBatchEntitiesStream {
			return 0, enricher.Errorf(enricher.KindInvalid, "line %d: more than %d entities; the maximum is %d", n, lim.MaxBatchEntitiesStream, lim.MaxBatchEntitiesStream)
		}
		compact.Reset()
		switch {
		case raw[0] != '{':
			if json.Valid(raw) {
				return 0, enricher.Errorf(enricher.KindInvalid, "line %d: not a JSON object", n)
			}
			return 0, enricher.Errorf(enricher.KindInvalid, "line %d: not valid JSON", n)
		case json.Compact(&compact, raw) != nil:
			return 0, enricher.Errorf(enricher.KindInvalid, "line %d: not valid JSON", n)
		case compact.Len() > lim.MaxEntityBytes:
			return 0, enricher.Errorf(enricher.KindInvalid, "line %d: %d bytes, the maximum is %d", n, compact.Len(), lim.MaxEntityBytes)
		case compact.Len() == 2: // {}
			return 0, enricher.Errorf(enricher.KindInvalid, "line %d: at least one field is required", n)
		}
		chunk = append(chunk, bytes.Clone(compact.Bytes()))
		size += compact.Len()
		count++
		if size >= stageChunkBytes || len(chunk) >= 4096 {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if count == 0 {
		return 0, enricher.Errorf(enricher.KindInvalid, "no entities: give one entity object per line after the options line")
	}
	return count, nil
}

// lineError turns a failed line read into its answer: too long is a 400 naming the line;
// size limits and timeouts of the body keep their own answers.
func (c *call) lineError(n int, err error) error {
	if errors.Is(err, errLineTooLong) {
		return enricher.Errorf(enricher.KindInvalid, "line %d: longer than %d bytes", n, c.s.cfg.MaxBodyBytes)
	}
	var de *enricher.Error
	if errors.As(err, &de) || errors.As(err, new(timeoutError)) {
		return err
	}
	return enricher.Wrap(enricher.KindInvalid, err, fmt.Sprintf("line %d: the request body could not be read", n))
}
