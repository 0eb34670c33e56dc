package api

import (
	"io"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// public marks routes that need no credential.
const public enricher.Role = ""

// route is one endpoint: method, path pattern, the lowest role admitted (public for none),
// whether ?token= is accepted, and the handler.
type route struct {
	method     string
	path       string
	minRole    enricher.Role
	queryToken bool
	handle     func(c *call) error
}

// call is one request as seen by a handler: the fasthttp context (valid only during the
// handler), the authenticated principal (nil on public routes) and the server.
type call struct {
	ctx      *fasthttp.RequestCtx
	p        *principal
	s        *Server
	replay   *enricher.IdempotentStart    // set on an idempotent replay
	bind     *enricher.IdempotencyBinding // set when a new start carries an Idempotency-Key
	bindBody func() string                // the fingerprint of a streamed body, once it is read
	bodyTee  io.Writer                    // receives a streamed body's bytes as they are read (idempotency)
}

// ok answers 200 with v as JSON.
func (c *call) ok(v any) error {
	writeJSON(c.ctx, fasthttp.StatusOK, v)
	return nil
}

// routeTable lists every endpoint the server serves.
func (s *Server) routeTable() []route {
	op, ed, own, adm := enricher.RoleOperator, enricher.RoleEditor, enricher.RoleOwner, enricher.RoleAdmin
	return []route{
		{method: "GET", path: "/health", minRole: public, handle: handleHealth},
		{method: "GET", path: "/api/openapi.json", minRole: adm, queryToken: true, handle: handleOpenAPI},
		{method: "GET", path: "/docs", minRole: adm, queryToken: true, handle: handleDocs},
		{method: "GET", path: "/docs/assets/{file}", minRole: public, handle: handleDocsAsset},

		{method: "POST", path: "/api/auth/register", minRole: public, handle: handleRegister},
		{method: "POST", path: "/api/auth/login", minRole: public, handle: handleLogin},
		{method: "POST", path: "/api/auth/refresh", minRole: public, handle: handleRefresh},
		{method: "POST", path: "/api/auth/logout", minRole: public, handle: handleLogout},
		{method: "GET", path: "/api/auth/check-slug", minRole: public, handle: handleCheckSlug},
		{method: "POST", path: "/api/auth/organizations/join", minRole: public, handle: handleJoin},
		{method: "GET", path: "/api/auth/me", minRole: op, handle: handleMe},
		{method: "PATCH", path: "/api/auth/organization", minRole: own, handle: handleRenameOrganization},
		{method: "POST", path: "/api/auth/leave-organization", minRole: op, handle: handleLeave},
		{method: "GET", path: "/api/auth/webhook-secret", minRole: own, handle: handleGetWebhookSecret},
		{method: "POST", path: "/api/auth/webhook-secret", minRole: own, handle: handleRotateWebhookSecret},

		{method: "GET", path: "/api/auth/users", minRole: own, handle: handleListUsers},
		{method: "GET", path: "/api/auth/pending-users", minRole: own, handle: handlePendingUsers},
		{method: "PATCH", path: "/api/auth/users/{user_id}/approval", minRole: own, handle: handleApproval},
		{method: "PATCH", path: "/api/auth/users/{user_id}/role", minRole: own, handle: handleSetRole},
		{method: "DELETE", path: "/api/auth/users/{user_id}", minRole: own, handle: handleDeactivateUser},

		{method: "GET", path: "/api/admin/organizations", minRole: adm, handle: handleAdminOrganizations},
		{method: "GET", path: "/api/admin/users", minRole: adm, handle: handleAdminUsers},
		{method: "PATCH", path: "/api/admin/users/{user_id}/role", minRole: adm, handle: handleAdminSetRole},

		{method: "GET", path: "/api/auth/api-keys", minRole: op, handle: handleListKeys},
		{method: "POST", path: "/api/auth/api-keys", minRole: op, handle: handleCreateKey},
		{method: "PATCH", path: "/api/auth/api-keys/{key_id}", minRole: op, handle: handlePatchKey},
		{method: "DELETE", path: "/api/auth/api-keys/{key_id}", minRole: op, handle: handleRevokeKey},

		{method: "GET", path: "/api/schema/saved", minRole: op, handle: handleListSchemas},
		{method: "POST", path: "/api/schema/saved", minRole: ed, handle: handleCreateSchema},
		{method: "GET", path: "/api/schema/saved/{schema_id}", minRole: op, handle: handleGetSchema},
		{method: "PATCH", path: "/api/schema/saved/{schema_id}", minRole: ed, handle: handlePatchSchema},
		{method: "DELETE", path: "/api/schema/saved/{schema_id}", minRole: ed, handle: handleDeleteSchema},
		{method: "POST", path: "/api/schema/saved/{schema_id}/restore", minRole: ed, handle: handleRestoreSchema},
		{method: "POST", path: "/api/schema/saved/{schema_id}/duplicate", minRole: ed, handle: handleDuplicateSchema},
		{method: "POST", path: "/api/schema/generate/stream", minRole: ed, handle: s.idempotent("/api/schema/generate/stream", handleGenerateSchema)},
		{method: "POST", path: "/api/schema/saved/{schema_id}/prompt/stream", minRole: ed, handle: s.idempotent("/api/schema/saved/{schema_id}/prompt/stream", handleEditSchema)},

		{method: "GET", path: "/api/enrichment/options", minRole: op, handle: handleOptions},

		{method: "POST", path: "/api/single/enrich/stream", minRole: op, handle: s.idempotent("/api/single/enrich/stream", handleEnrichStream)},
		{method: "POST", path: "/api/single/enrich/sync", minRole: op, handle: s.idempotent("/api/single/enrich/sync", handleEnrichSync)},
		{method: "POST", path: "/api/enrichment/batch/start", minRole: op, handle: s.idempotent("/api/enrichment/batch/start", handleBatchStart)},
		{method: "POST", path: "/api/enrichment/batch/fetch", minRole: op, handle: handleBatchFetch},
		{method: "POST", path: "/api/batch/fetch", minRole: op, handle: handleBatchFetch},
		{method: "POST", path: "/api/batch/start", minRole: op, handle: s.idempotent("/api/enrichment/batch/start", handleBatchStart)},
		{method: "GET", path: "/api/llm/stream/{job_id}", minRole: op, queryToken: true, handle: handleStream},
		{method: "POST", path: "/api/llm/cancel/{job_id}", minRole: op, handle: handleCancel},
		{method: "POST", path: "/api/llm/continue/{job_id}", minRole: op, handle: handleContinue},
		{method: "GET", path: "/api/llm/jobs", minRole: op, handle: handleListJobs},
		{method: "GET", path: "/api/llm/jobs/{job_id}", minRole: op, handle: handleJobStatus},
		{method: "GET", path: "/api/llm/jobs/{job_id}/results", minRole: op, queryToken: true, handle: handleResults},
		{method: "GET", path: "/api/llm/jobs/{job_id}/report", minRole: op, handle: handleReport},
		{method: "GET", path: "/api/llm/jobs/{job_id}/webhooks", minRole: op, handle: handleJobWebhooks},
		{method: "GET", path: "/api/records", minRole: op, handle: handleListRecords},
		{method: "GET", path: "/api/records/stats", minRole: op, handle: handleRecordStats},
		{method: "GET", path: "/api/costs/summary", minRole: op, handle: handleCostSummary},
		{method: "GET", path: "/api/costs/by-model", minRole: op, handle: handleCostsByModel},
		{method: "GET", path: "/api/records/{record_id}", minRole: op, handle: handleGetRecord},
		{method: "POST", path: "/api/records/batch-delete", minRole: op, handle: handleDeleteRecords},
		{method: "POST", path: "/api/records/batch-restore", minRole: adm, handle: handleRestoreRecords},

		{method: "POST", path: "/api/fusion/merge", minRole: op, handle: s.idempotent("/api/fusion/merge", handleMerge)},
		{method: "POST", path: "/api/fusion/merge/stream", minRole: op, handle: s.idempotent("/api/fusion/merge/stream", handleMergeStream)},
	}
}

// handler wraps a route with shutdown refusal, authentication, scope and role checks, rate
// limiting and error answering.
func (s *Server) handler(r route) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		c := &call{ctx: ctx, s: s}
		if err := s.admit(c, r); err != nil {
			writeError(ctx, s.log, err)
		} else if err := r.handle(c); err != nil {
			s.bodyError(ctx, err)
		}
		s.deps.Metrics.Request(r.method, r.path, ctx.Response.StatusCode(), time.Since(start))
	}
}

// admit authenticates and authorizes a call for route r (401, then 403),
// then refuses writes while disk space is low (507).
func (s *Server) admit(c *call, r route) error {
	if err := s.authorize(c, r); err != nil {
		return err
	}
	return s.refuseWriteOnLowSpace(r)
}

// refuseWriteOnLowSpace answers 507 to every request but GET and HEAD while the data
// directory is low on space: each of them may write (logins and refreshes store tokens, job
// starts store jobs, even a cancel stores its event), and refusing them up front never leaves
// one half done.
func (s *Server) refuseWriteOnLowSpace(r route) error {
	if r.method == "GET" || r.method == "HEAD" || !s.deps.Health.LowSpace() {
		return nil
	}
	return enricher.Errorf(enricher.KindInsufficientStorage,
		"the server is low on disk space: writes are refused until space is freed on its data volume; reads go on")
}

// authorize authenticates and authorizes a call for route r.
func (s *Server) authorize(c *call, r route) error {
	if r.minRole == public {
		return nil
	}
	p, err := s.authenticate(c.ctx, r.queryToken)
	if err != nil {
		return err
	}
	c.p = p
	if !s.limiter.allow(p.credentialID, s.now()) {
		return tooMany{error: enricher.Errorf(enricher.KindTooMany, "rate limit exceeded"), seconds: 1}
	}
	need := enricher.ScopeWrite
	if m := string(c.ctx.Method()); m == "GET" || m == "HEAD" {
		need = enricher.ScopeRead
	}
	if !p.hasScope(need) {
		return enricher.Errorf(enricher.KindForbidden, "this API key lacks the %q scope", need)
	}
	if !p.role.AtLeast(r.minRole) {
		return enricher.Errorf(enricher.KindForbidden, "this endpoint needs role %s or higher", r.minRole)
	}
	return nil
}

// tooMany is a 429 with its Retry-After value.
type tooMany struct {
	error
	seconds int
}

func (t tooMany) RetryAfterSeconds() int { return t.seconds }
func (t tooMany) Unwrap() error          { return t.error }
