package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/entity-enricher/enricher"
)

// StartOption adjusts one job-starting call.
type StartOption func(map[string]string)

// IdempotencyKey sends `Idempotency-Key: key`: repeating a start with the same key
// and body returns the first start's job instead of starting another.
func IdempotencyKey(key string) StartOption {
	return func(h map[string]string) { h["Idempotency-Key"] = key }
}

func startHeaders(opts []StartOption) map[string]string {
	h := map[string]string{}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Health reads GET /health. A 503 (shutting down, storage unavailable) is an *Error whose
// Detail is the raw body.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	return &out, c.do(ctx, request{method: "GET", path: "/health"}, &out)
}

// Login exchanges an email and password for tokens. Use the access token with WithBearer.
func (c *Client) Login(ctx context.Context, email, password string) (*LoginResponse, error) {
	var out LoginResponse
	body := map[string]string{"email": email, "password": password}
	return &out, c.do(ctx, request{method: "POST", path: "/api/auth/login", body: body}, &out)
}

// CreateAPIKey creates an API key; the answer holds the full key, shown once.
func (c *Client) CreateAPIKey(ctx context.Context, req CreateAPIKeyRequest) (*APIKeyCreated, error) {
	var out APIKeyCreated
	return &out, c.do(ctx, request{method: "POST", path: "/api/auth/api-keys", body: req}, &out)
}

// Options reads the model catalog, languages, strategies and limits.
func (c *Client) Options(ctx context.Context) (*Options, error) {
	var out Options
	return &out, c.do(ctx, request{method: "GET", path: "/api/enrichment/options"}, &out)
}

// SaveSchema stores a new schema (role editor).
func (c *Client) SaveSchema(ctx context.Context, req SaveSchemaRequest) (*enricher.SavedSchema, error) {
	var out enricher.SavedSchema
	return &out, c.do(ctx, request{method: "POST", path: "/api/schema/saved", body: req}, &out)
}

// ListSchemas lists the organization's live saved schemas, pinned first.
func (c *Client) ListSchemas(ctx context.Context) (*SchemaList, error) {
	var out SchemaList
	return &out, c.do(ctx, request{method: "GET", path: "/api/schema/saved"}, &out)
}

// GetSchema reads one saved schema with its content.
func (c *Client) GetSchema(ctx context.Context, id string) (*enricher.SavedSchema, error) {
	var out enricher.SavedSchema
	return &out, c.do(ctx, request{method: "GET", path: "/api/schema/saved/" + url.PathEscape(id)}, &out)
}

// EnrichStream starts a single enrichment and returns its job; follow it with Stream.
func (c *Client) EnrichStream(ctx context.Context, req EnrichRequest, opts ...StartOption) (*Started, error) {
	var out Started
	r := request{method: "POST", path: "/api/single/enrich/stream", body: req, headers: startHeaders(opts)}
	return &out, c.do(ctx, r, &out)
}

// EnrichSync runs a single enrichment and waits for its outcome. A job outliving the timeout
// is an *Error with Status 504 and JobID set; the job keeps running.
func (c *Client) EnrichSync(ctx context.Context, req SyncRequest, opts ...StartOption) (*enricher.EnrichmentOutcome, error) {
	var out enricher.EnrichmentOutcome
	r := request{method: "POST", path: "/api/single/enrich/sync", body: req, headers: startHeaders(opts)}
	return &out, c.do(ctx, r, &out)
}

// StartBatch starts a batch enrichment; Started.Total is the number of entities to enrich.
func (c *Client) StartBatch(ctx context.Context, req BatchRequest, opts ...StartOption) (*Started, error) {
	var out Started
	r := request{method: "POST", path: "/api/enrichment/batch/start", body: req, headers: startHeaders(opts)}
	return &out, c.do(ctx, r, &out)
}

// FetchBatch makes the server read entities from rawURL (auth may be nil).
func (c *Client) FetchBatch(ctx context.Context, rawURL string, auth *enricher.FetchAuth) (*FetchResponse, error) {
	var out FetchResponse
	body := map[string]any{"url": rawURL}
	if auth != nil {
		body["auth"] = auth
	}
	return &out, c.do(ctx, request{method: "POST", path: "/api/enrichment/batch/fetch", body: body}, &out)
}

// Job reads a job's status, with its result once terminal.
func (c *Client) Job(ctx context.Context, id string) (*Job, error) {
	var out Job
	return &out, c.do(ctx, request{method: "GET", path: "/api/llm/jobs/" + url.PathEscape(id)}, &out)
}

// ListJobs lists the organization's jobs within retention, newest first.
func (c *Client) ListJobs(ctx context.Context, q JobQuery) (*JobList, error) {
	v := url.Values{}
	set(v, "status", string(q.Status))
	set(v, "job_type", string(q.JobType))
	setInt(v, "page", q.Page)
	setInt(v, "page_size", q.PageSize)
	var out JobList
	return &out, c.do(ctx, request{method: "GET", path: "/api/llm/jobs", query: v}, &out)
}

// Report reads the model report of an enrichment job: per model calls, success rate, null rate,
// agreement with the fused value and, for entities sent with _expected, accuracy per field.
func (c *Client) Report(ctx context.Context, jobID string) (*enricher.JobReport, error) {
	var out enricher.JobReport
	return &out, c.do(ctx, request{method: "GET", path: "/api/llm/jobs/" + url.PathEscape(jobID) + "/report"}, &out)
}

// Cancel cancels a pending, running or paused job; a terminal job is a 409 *Error.
func (c *Client) Cancel(ctx context.Context, id string) (*JobAction, error) {
	var out JobAction
	return &out, c.do(ctx, request{method: "POST", path: "/api/llm/cancel/" + url.PathEscape(id)}, &out)
}

// Continue resumes a job paused on a classification mismatch; any other state is a 409 *Error.
func (c *Client) Continue(ctx context.Context, id string) (*JobAction, error) {
	var out JobAction
	return &out, c.do(ctx, request{method: "POST", path: "/api/llm/continue/" + url.PathEscape(id)}, &out)
}

// RecordQuery filters GET /api/records; zero fields are left out.
type RecordQuery struct {
	Page, PageSize    int
	Type              enricher.RecordType
	Success           *bool
	Search            string
	Model             string
	EntityID          string
	JobID             string
	SchemaID          string
	Since, Until      time.Time
	SortBy, SortOrder string
	IncludeDeleted    bool
	// MinConfidence keeps records whose every field reaches it, BelowConfidence those with a
	// field below it (both 0..1; nil leaves the filter out).
	MinConfidence, BelowConfidence *float64
}

func (q RecordQuery) values() url.Values {
	v := url.Values{}
	setInt(v, "page", q.Page)
	setInt(v, "page_size", q.PageSize)
	set(v, "type", string(q.Type))
	if q.Success != nil {
		v.Set("success", strconv.FormatBool(*q.Success))
	}
	set(v, "search", q.Search)
	set(v, "model", q.Model)
	set(v, "entity_id", q.EntityID)
	set(v, "job_id", q.JobID)
	set(v, "schema_id", q.SchemaID)
	if !q.Since.IsZero() {
		v.Set("since", enricher.FormatTime(q.Since))
	}
	if !q.Until.IsZero() {
		v.Set("until", enricher.FormatTime(q.Until))
	}
	set(v, "sort_by", q.SortBy)
	set(v, "sort_order", q.SortOrder)
	if q.IncludeDeleted {
		v.Set("include_deleted", "true")
	}
	if q.MinConfidence != nil {
		v.Set("min_confidence", strconv.FormatFloat(*q.MinConfidence, 'f', -1, 64))
	}
	if q.BelowConfidence != nil {
		v.Set("below_confidence", strconv.FormatFloat(*q.BelowConfidence, 'f', -1, 64))
	}
	return v
}

// ListRecords lists record summaries matching q.
func (c *Client) ListRecords(ctx context.Context, q RecordQuery) (*RecordPage, error) {
	var out RecordPage
	return &out, c.do(ctx, request{method: "GET", path: "/api/records", query: q.values()}, &out)
}

// GetRecord reads one record in full (RecordDetail), also when soft-deleted.
func (c *Client) GetRecord(ctx context.Context, id string) (*enricher.Record, error) {
	var out enricher.Record
	return &out, c.do(ctx, request{method: "GET", path: "/api/records/" + url.PathEscape(id)}, &out)
}

// DeleteRecords soft-deletes up to 100 records (hard deletes them when hard is true; admin).
func (c *Client) DeleteRecords(ctx context.Context, ids []string, hard bool) (*DeleteResult, error) {
	var out DeleteResult
	body := map[string]any{"ids": ids, "hard_delete": hard}
	return &out, c.do(ctx, request{method: "POST", path: "/api/records/batch-delete", body: body}, &out)
}

// Costs sums the billed responses between start (inclusive) and end (exclusive); zero times
// take the server's defaults (the last 30 days).
func (c *Client) Costs(ctx context.Context, start, end time.Time) (*CostSummary, error) {
	v := url.Values{}
	if !start.IsZero() {
		v.Set("start_date", enricher.FormatTime(start))
	}
	if !end.IsZero() {
		v.Set("end_date", enricher.FormatTime(end))
	}
	var out CostSummary
	return &out, c.do(ctx, request{method: "GET", path: "/api/costs/summary", query: v}, &out)
}

// FusionMerge merges two or more successful enrichment records and waits for the result; a
// timeout is an *Error with Status 504 and JobID set.
func (c *Client) FusionMerge(ctx context.Context, req FusionRequest, opts ...StartOption) (*enricher.FusionResponse, error) {
	var out enricher.FusionResponse
	r := request{method: "POST", path: "/api/fusion/merge", body: req, headers: startHeaders(opts)}
	return &out, c.do(ctx, r, &out)
}

func set(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func setInt(v url.Values, k string, n int) {
	if n != 0 {
		v.Set(k, strconv.Itoa(n))
	}
}
