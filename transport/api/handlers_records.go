package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// parseTime reads a query timestamp: RFC 3339, or a bare YYYY-MM-DD read as midnight UTC.
func parseTime(args *fasthttp.Args, name string) (int64, error) {
	v := string(args.Peek(name))
	if v == "" {
		return 0, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, enricher.Errorf(enricher.KindInvalid, "%s: expected an RFC 3339 timestamp or YYYY-MM-DD", name)
}

// recordQuery parses the query of GET /api/records.
func recordQuery(ctx *fasthttp.RequestCtx) (enricher.RecordQuery, page, error) {
	args := ctx.QueryArgs()
	p, err := parsePage(ctx)
	if err != nil {
		return enricher.RecordQuery{}, p, err
	}
	q := enricher.RecordQuery{Offset: (p.Page - 1) * p.Size, Limit: p.Size, Search: strings.ToLower(string(args.Peek("search")))}
	q.Type = string(args.Peek("type"))
	switch enricher.RecordType(q.Type) {
	case "", enricher.RecordEnrichment, enricher.RecordFusion, enricher.RecordSchemaGeneration, enricher.RecordSchemaEdit:
	default:
		return q, p, enricher.Errorf(enricher.KindInvalid, "type: unknown value %q", q.Type)
	}
	if v := args.Peek("success"); v != nil {
		b, err := queryBool(ctx, "success", false)
		if err != nil {
			return q, p, err
		}
		q.Success = &b
	}
	q.Model = string(args.Peek("model"))
	if q.Model == "" {
		q.Model = string(args.Peek("provider"))
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"entity_id", &q.EntityID}, {"job_id", &q.JobID}, {"schema_id", &q.SchemaID}} {
		v := string(args.Peek(f.name))
		if v != "" && !enricher.ValidUUID(v) {
			return q, p, enricher.Errorf(enricher.KindInvalid, "%s: not a valid id", f.name)
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{"min_confidence", &q.MinConfidence}, {"below_confidence", &q.BelowConfidence}} {
		v := args.Peek(f.name)
		if v == nil {
			continue
		}
		c, err := strconv.ParseFloat(string(v), 64)
		if err != nil || c < 0 || c > 1 {
			return q, p, enricher.Errorf(enricher.KindInvalid, "%s: expected a number from 0 to 1", f.name)
		}
		*f.dst = &c
	}
	if q.Since, err = parseTime(args, "since"); err != nil {
		return q, p, err
	}
	if q.Until, err = parseTime(args, "until"); err != nil {
		return q, p, err
	}
	q.SortBy = string(args.Peek("sort_by"))
	switch q.SortBy {
	case "":
		q.SortBy = "created_at"
	case "created_at", "cost_usd", "processing_time_ms":
	default:
		return q, p, enricher.Errorf(enricher.KindInvalid, "sort_by: unknown value %q", q.SortBy)
	}
	switch order := string(args.Peek("sort_order")); order {
	case "", "desc":
	case "asc":
		q.Asc = true
	default:
		return q, p, enricher.Errorf(enricher.KindInvalid, "sort_order: unknown value %q", order)
	}
	q.IncludeDeleted, err = queryBool(ctx, "include_deleted", false)
	return q, p, err
}

func handleListRecords(c *call) error {
	q, p, err := recordQuery(c.ctx)
	if err != nil {
		return err
	}
	items, total, err := c.s.deps.Records.ListRecords(c.p.org.ID, q)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"records": items, "total": total, "page": p.Page, "page_size": p.Size,
		"total_pages": (total + p.Size - 1) / p.Size})
}

type recordIDsRequest struct {
	IDs        []string `json:"ids"`
	HardDelete bool     `json:"hard_delete"`
}

// recordIDs checks 1..100 distinct well-formed ids.
func recordIDs(ids []string) error {
	if len(ids) == 0 {
		return enricher.Errorf(enricher.KindInvalid, "ids: at least one id is required")
	}
	if len(ids) > 100 {
		return enricher.Errorf(enricher.KindInvalid, "at most 100 ids per request")
	}
	seen := map[string]bool{}
	for i, id := range ids {
		if !enricher.ValidUUID(id) {
			return enricher.Errorf(enricher.KindInvalid, "ids[%d]: not a valid id", i)
		}
		if seen[id] {
			return enricher.Errorf(enricher.KindInvalid, "ids[%d]: %s is listed twice", i, id)
		}
		seen[id] = true
	}
	return nil
}

func handleDeleteRecords(c *call) error {
	var req recordIDsRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	if err := recordIDs(req.IDs); err != nil {
		return err
	}
	if req.HardDelete && c.p.role != enricher.RoleAdmin {
		return enricher.Errorf(enricher.KindForbidden, "hard_delete needs the admin role")
	}
	n, missing, err := c.s.deps.Records.DeleteRecords(c.p.org.ID, req.IDs, req.HardDelete, enricher.NewTime(c.s.now()))
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"deleted": n, "not_found": missing})
}

func handleRestoreRecords(c *call) error {
	var req recordIDsRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	if err := recordIDs(req.IDs); err != nil {
		return err
	}
	n, missing, err := c.s.deps.Records.RestoreRecords(c.p.org.ID, req.IDs)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"restored": n, "not_found": missing})
}
