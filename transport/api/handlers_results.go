package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// ResultStore reads what a job's entities ended with. Implemented by storage.DB through an
// adapter in cmd. Errors follow the enricher vocabulary.
type ResultStore interface {
	// JobSpec returns the spec job id of org was started with (KindNotFound).
	JobSpec(org, id string) (json.RawMessage, error)
	// EntityEnds calls fn with each ended entity of batch job in index order, holding at
	// most a small window of them; fn's error stops it and is returned.
	EntityEnds(job string, fn func(EntityEnd) error) error
}

// EntityEnd is one ended entity of a batch: the stored JSON of its entity_completed event,
// nil when it ended without one (cancelled with its batch while it ran).
type EntityEnd struct {
	Index int
	Seq   int64
	Event []byte
}

// Result statuses of an export item.
const (
	resultCompleted = "completed"
	resultFailed    = "failed"
	resultSkipped   = "skipped"
)

// resultItem is one entity of a results export. EntityIndex is null for a single enrichment.
type resultItem struct {
	EntityIndex  *int            `json:"entity_index"`
	EntityLabel  *string         `json:"entity_label"`
	Status       string          `json:"status"`
	Result       json.RawMessage `json:"result"`
	RecordID     *string         `json:"record_id"`
	ErrorMessage *string         `json:"error_message"`
	CostUSD      float64         `json:"cost_usd"`
	// MinConfidence and FieldProvenance come from the item's record (null without one, or for
	// a record written before provenance existed).
	MinConfidence   *float64                            `json:"min_confidence"`
	FieldProvenance map[string]enricher.FieldProvenance `json:"field_provenance"`
}

// fromRecord fills the item's provenance from rec, and its result when the item has none.
func (it *resultItem) fromRecord(rec *enricher.Record) {
	it.MinConfidence, it.FieldProvenance = rec.MinConfidence, rec.FieldProvenance
	if isNull(it.Result) {
		it.Result = rec.StructuredOutput
	}
}

// entityCompleted holds the fields of an entity_completed event the export needs.
type entityCompleted struct {
	EntityIndex   int             `json:"entity_index"`
	EntityLabel   string          `json:"entity_label"`
	Success       bool            `json:"success"`
	Skipped       bool            `json:"skipped"`
	ErrorMessage  *string         `json:"error_message"`
	FinalResult   json.RawMessage `json:"final_result"`
	FinalRecordID *string         `json:"final_record_id"`
	CostUSD       float64         `json:"cost_usd"`
}

var cancelledWithBatch = "cancelled with the batch"

// handleResults serves GET /api/llm/jobs/{job_id}/results?format=ndjson|csv|json: one item per
// finished entity of an enrichment job, in entity order. The body is streamed (items are read
// from storage in small windows while it is written) and gzip-compressed when the client
// accepts it. X-Job-Status carries the job's status when the export started: on a running job
// the export holds what had finished by then. A storage error after the head was sent ends
// the body early (it is logged); clients see a truncated document.
func handleResults(c *call) error {
	id, err := pathID(c.ctx, "job_id", "job")
	if err != nil {
		return err
	}
	format := string(c.ctx.QueryArgs().Peek("format"))
	if format == "" {
		format = "ndjson"
	}
	if format != "ndjson" && format != "csv" && format != "json" {
		return enricher.Errorf(enricher.KindInvalid, "format must be ndjson, csv or json")
	}
	job, err := c.s.jobInRetention(c.p.org.ID, id)
	if err != nil {
		return err
	}
	if job.Type != enricher.JobSingleEnrichment && job.Type != enricher.JobBatchEnrichment {
		return enricher.Errorf(enricher.KindInvalid, "results are exported for enrichment jobs only (this is a %s job)", job.Type)
	}
	var columns []csvColumn
	if format == "csv" {
		spec, err := c.s.deps.Results.JobSpec(c.p.org.ID, id)
		if err != nil {
			return err
		}
		if columns, err = schemaColumns(spec); err != nil {
			return err
		}
	}
	items := c.s.resultItems(c.p.org.ID, job)

	h := &c.ctx.Response.Header
	h.Set("X-Job-Status", string(job.Status))
	h.Set("Cache-Control", "no-store")
	switch format {
	case "ndjson":
		h.SetContentType("application/x-ndjson")
	case "csv":
		h.SetContentType("text/csv; charset=utf-8")
	default:
		h.SetContentType("application/json")
	}
	zip := c.ctx.Request.Header.HasAcceptEncoding("gzip")
	if zip {
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Vary", "Accept-Encoding")
	log, rid := c.s.log, requestID(c.ctx)
	c.ctx.SetStatusCode(fasthttp.StatusOK)
	c.ctx.SetBodyStreamWriter(func(bw *bufio.Writer) {
		var w io.Writer = bw
		var gz *gzip.Writer
		if zip {
			gz = gzip.NewWriter(bw)
			w = gz
		}
		err := writeResults(w, format, job, columns, items)
		if gz != nil {
			err = firstErr(err, gz.Close())
		}
		if err != nil {
			log.Warn("results export ended early", "job_id", job.ID, "request_id", rid, "err", err)
		}
	})
	return nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// resultItems returns an iterator over job's export items, in entity order.
func (s *Server) resultItems(org string, job *enricher.Job) func(fn func(*resultItem) error) error {
	if job.Type == enricher.JobSingleEnrichment {
		return func(fn func(*resultItem) error) error {
			item, err := s.singleItem(org, job)
			if err != nil || item == nil {
				return err
			}
			return fn(item)
		}
	}
	return func(fn func(*resultItem) error) error {
		return s.deps.Results.EntityEnds(job.ID, func(e EntityEnd) error {
			item, err := s.batchItem(org, e)
			if err != nil {
				return err
			}
			return fn(item)
		})
	}
}

// batchItem turns one ended batch entity into an export item. An entity whose event had its
// result dropped for size gets it from its record.
func (s *Server) batchItem(org string, e EntityEnd) (*resultItem, error) {
	idx := e.Index
	item := &resultItem{EntityIndex: &idx}
	if e.Event == nil {
		item.Status, item.ErrorMessage = resultSkipped, &cancelledWithBatch
		return item, nil
	}
	var ev entityCompleted
	if err := json.Unmarshal(e.Event, &ev); err != nil {
		return nil, enricher.Errorf(enricher.KindInternal, "entity %d: stored event unreadable: %v", e.Index, err)
	}
	item.EntityLabel, item.RecordID, item.ErrorMessage, item.CostUSD = &ev.EntityLabel, ev.FinalRecordID, ev.ErrorMessage, ev.CostUSD
	switch {
	case ev.Success:
		item.Status = resultCompleted
	case ev.Skipped:
		item.Status = resultSkipped
	default:
		item.Status = resultFailed
	}
	item.Result = ev.FinalResult
	if _, err := s.addRecord(org, item); err != nil {
		return nil, err
	}
	return item, nil
}

// singleItem is the one item of a single enrichment: nil while it runs.
func (s *Server) singleItem(org string, job *enricher.Job) (*resultItem, error) {
	if !job.Status.Terminal() {
		return nil, nil
	}
	item := &resultItem{Status: resultFailed, ErrorMessage: job.ErrorMessage}
	if job.Status == enricher.JobCancelled {
		item.Status = resultSkipped
	}
	var o enricher.EnrichmentOutcome
	if !isNull(job.Result) {
		if err := json.Unmarshal(job.Result, &o); err != nil {
			return nil, enricher.Errorf(enricher.KindInternal, "job result unreadable: %v", err)
		}
		item.CostUSD, item.RecordID = o.CostUSD, o.RecordID
		if o.Success {
			item.Status, item.Result = resultCompleted, o.Result
		} else if item.ErrorMessage == nil && len(o.FailedModels) > 0 {
			item.ErrorMessage = o.FailedModels[0].ErrorMessage
		}
	}
	rec, err := s.addRecord(org, item)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		item.EntityLabel = rec.EntityName
	}
	return item, nil
}

// addRecord reads the item's record, when it names one that still exists, and fills the
// item's provenance (and its result when the item has none) from it.
func (s *Server) addRecord(org string, item *resultItem) (*enricher.Record, error) {
	if item.RecordID == nil {
		return nil, nil
	}
	rec, err := s.deps.Records.Record(org, *item.RecordID)
	if enricher.IsKind(err, enricher.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	item.fromRecord(rec)
	return rec, nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// writeResults writes the export of job in format to w, item by item.
func writeResults(w io.Writer, format string, job *enricher.Job, columns []csvColumn, items func(func(*resultItem) error) error) error {
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader(columns)); err != nil {
			return err
		}
		err := items(func(it *resultItem) error {
			row, err := csvRow(it, columns)
			if err != nil {
				return err
			}
			if err := cw.Write(row); err != nil {
				return err
			}
			cw.Flush() // hands the row to the (buffered) body writer
			return cw.Error()
		})
		cw.Flush()
		return firstErr(err, cw.Error())
	case "json":
		head, err := json.Marshal(struct {
			JobID  string             `json:"job_id"`
			Status enricher.JobStatus `json:"status"`
		}{job.ID, job.Status})
		if err != nil {
			return err
		}
		if _, err := w.Write(append(head[:len(head)-1], `,"items":[`...)); err != nil {
			return err
		}
		first := true
		err = items(func(it *resultItem) error {
			b, err := json.Marshal(it)
			if err != nil {
				return err
			}
			if !first {
				b = append([]byte{','}, b...)
			}
			first = false
			_, err = w.Write(b)
			return err
		})
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, "]}\n")
		return err
	default:
		return items(func(it *resultItem) error {
			b, err := json.Marshal(it)
			if err != nil {
				return err
			}
			_, err = w.Write(append(b, '\n'))
			return err
		})
	}
}

// csvMeta are the metadata columns every CSV export starts with.
var csvMeta = []string{"entity_index", "entity_label", "status", "record_id", "error_message", "cost_usd", "min_confidence"}

func csvHeader(columns []csvColumn) []string {
	out := append([]string(nil), csvMeta...)
	for _, c := range columns {
		out = append(out, c.name)
	}
	return out
}

func csvRow(it *resultItem, columns []csvColumn) ([]string, error) {
	row := make([]string, 0, len(csvMeta)+len(columns))
	idx := ""
	if it.EntityIndex != nil {
		idx = strconv.Itoa(*it.EntityIndex)
	}
	row = append(row, idx, deref(it.EntityLabel), it.Status, deref(it.RecordID), deref(it.ErrorMessage),
		strconv.FormatFloat(it.CostUSD, 'f', -1, 64), "")
	if it.MinConfidence != nil {
		row[len(row)-1] = strconv.FormatFloat(*it.MinConfidence, 'f', -1, 64)
	}
	var result map[string]any
	if !isNull(it.Result) {
		d := json.NewDecoder(bytes.NewReader(it.Result))
		d.UseNumber()
		_ = d.Decode(&result) // a result that is not an object leaves the property columns empty
	}
	for _, c := range columns {
		cell, err := csvCell(lookup(result, c.path))
		if err != nil {
			return nil, err
		}
		row = append(row, cell)
	}
	return row, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// csvColumn is one schema property column of a CSV export: a dotted name and its path.
type csvColumn struct {
	name string
	path []string
}

// csvMaxDepth bounds how deep nested objects are flattened (recursive $ref types); deeper
// objects are JSON-encoded in one column.
const csvMaxDepth = 6

// schemaColumns returns one column per root property of the job's schema, objects flattened
// into dotted names, in document order.
func schemaColumns(spec json.RawMessage) ([]csvColumn, error) {
	var s struct {
		SchemaContent json.RawMessage `json:"schema_content"`
	}
	if err := json.Unmarshal(spec, &s); err != nil {
		return nil, enricher.Errorf(enricher.KindInternal, "job spec unreadable: %v", err)
	}
	schema, err := enricher.ParseSchema(s.SchemaContent)
	if err != nil {
		return nil, enricher.Errorf(enricher.KindInternal, "job schema unreadable: %v", err)
	}
	var out []csvColumn
	var walk func(props []*enricher.Property, prefix []string)
	walk = func(props []*enricher.Property, prefix []string) {
		for _, p := range props {
			path := append(prefix[:len(prefix):len(prefix)], p.Name)
			if p.Type == enricher.TypeObject && len(p.Properties) > 0 && len(path) < csvMaxDepth {
				walk(p.Properties, path)
				continue
			}
			out = append(out, csvColumn{name: joinPath(path), path: path})
		}
	}
	walk(schema.Root.Properties, nil)
	return out, nil
}

func joinPath(path []string) string {
	var b bytes.Buffer
	for i, p := range path {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// lookup returns the value at path in v, nil when absent.
func lookup(v map[string]any, path []string) any {
	var cur any = v
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// csvCell renders a value: strings as they are, numbers and booleans as JSON, null as empty,
// lists and objects JSON-encoded.
func csvCell(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	default:
		b, err := json.Marshal(x)
		return string(b), err
	}
}
