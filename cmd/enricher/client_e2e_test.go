package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	restclient "github.com/entity-enricher/enricher/transport/client"
)

// TestGoClientAgainstServer walks the Go client through the seed's workflow and the main
// endpoints of a real in-process server.
func TestGoClientAgainstServer(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	ts.register("owner@example.com", "Acme")
	ctx := context.Background()

	anon := restclient.New(ts.base)
	h, err := anon.Health(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", h.Status)
	_, err = anon.Login(ctx, "owner@example.com", "wrong password")
	require.Equal(t, 401, restclient.StatusOf(err))
	login, err := anon.Login(ctx, "owner@example.com", "correct horse battery")
	require.NoError(t, err)
	require.Equal(t, enricher.RoleAdmin, login.User.Role, "the first user of an instance is admin")

	bearer := restclient.New(ts.base, restclient.WithBearer(login.AccessToken))
	key, err := bearer.CreateAPIKey(ctx, restclient.CreateAPIKeyRequest{Name: "ci"})
	require.NoError(t, err)
	require.Equal(t, enricher.KeyUser, key.Type)
	c := restclient.New(ts.base, restclient.WithAPIKey(key.Key))

	opts, err := c.Options(ctx)
	require.NoError(t, err)
	require.Contains(t, opts.AvailableModels, "sim::fast")
	require.Equal(t, 10000, opts.Limits.MaxBatchEntities)

	content, err := json.Marshal(companySchema)
	require.NoError(t, err)
	saved, err := c.SaveSchema(ctx, restclient.SaveSchemaRequest{Name: "Company", SchemaContent: content})
	require.NoError(t, err)
	list, err := c.ListSchemas(ctx)
	require.NoError(t, err)
	require.Equal(t, saved.ID, list.Schemas[0].ID)
	got, err := c.GetSchema(ctx, saved.ID)
	require.NoError(t, err)
	require.Equal(t, saved.ContentHash, got.ContentHash)

	// The seed's workflow: start, stream to the end, read the record.
	req := restclient.EnrichRequest{EntityData: map[string]any{"name": "Moderna Inc", "country": "US"},
		SchemaID: saved.ID, Models: []string{"sim::fast"}, Strategy: "multi_expertise"}
	var seen []string
	outcome, err := c.EnrichAndWait(ctx, req, func(ev restclient.Event) { seen = append(seen, ev.Type) })
	require.NoError(t, err)
	require.True(t, outcome.Success)
	require.Equal(t, "completed", seen[len(seen)-1])
	require.NotNil(t, outcome.RecordID)
	rec, err := c.GetRecord(ctx, *outcome.RecordID)
	require.NoError(t, err)
	require.Equal(t, enricher.RecordEnrichment, rec.Type)
	var result map[string]any
	require.NoError(t, json.Unmarshal(rec.StructuredOutput, &result))
	require.Equal(t, "Moderna Inc", result["name"])

	// Resuming a finished job's stream: after seq 2 it starts at 3; at the last seq it is empty.
	job, err := c.Job(ctx, outcome.JobID)
	require.NoError(t, err)
	require.Equal(t, enricher.JobCompleted, job.Status)
	var ids []int64
	for ev, err := range c.Stream(ctx, job.JobID, 2) {
		require.NoError(t, err)
		ids = append(ids, ev.ID)
	}
	require.EqualValues(t, 3, ids[0])
	require.EqualValues(t, job.LastSeq, ids[len(ids)-1])
	for _, err := range c.Stream(ctx, job.JobID, job.LastSeq) {
		require.Fail(t, "no event after the last seq", "%v", err)
	}
	_, err = c.Cancel(ctx, job.JobID)
	require.Equal(t, 409, restclient.StatusOf(err), "a finished job cannot be cancelled")

	// Idempotent starts give one job.
	first, err := c.EnrichStream(ctx, req, restclient.IdempotencyKey("k-1"))
	require.NoError(t, err)
	again, err := c.EnrichStream(ctx, req, restclient.IdempotencyKey("k-1"))
	require.NoError(t, err)
	require.Equal(t, first.JobID, again.JobID)

	// Two models, then an on-demand fusion of their records.
	sync, err := c.EnrichSync(ctx, restclient.SyncRequest{IncludePerModelResults: true, EnrichRequest: restclient.EnrichRequest{
		EntityData: map[string]any{"name": "Roche", "country": "CH", "_sim": map[string]any{"latency_ms": 0}},
		SchemaID:   saved.ID, Models: []string{"sim::fast", "sim::realistic"}}})
	require.NoError(t, err)
	require.Len(t, sync.PerModelResults, 2)
	fused, err := c.FusionMerge(ctx, restclient.FusionRequest{ResultIDs: []string{
		*sync.PerModelResults[0].RecordID, *sync.PerModelResults[1].RecordID}})
	require.NoError(t, err)
	require.True(t, fused.Success)

	jobs, err := c.ListJobs(ctx, restclient.JobQuery{JobType: enricher.JobSingleEnrichment})
	require.NoError(t, err)
	require.Equal(t, 3, jobs.Total)
	page, err := c.ListRecords(ctx, restclient.RecordQuery{JobID: outcome.JobID})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total)
	zero := 0.0
	all, err := c.ListRecords(ctx, restclient.RecordQuery{JobID: sync.JobID})
	require.NoError(t, err)
	require.Equal(t, 3, all.Total, "two model records and the fusion record")
	page, err = c.ListRecords(ctx, restclient.RecordQuery{JobID: sync.JobID, MinConfidence: &zero})
	require.NoError(t, err)
	require.Equal(t, all.Total, page.Total, "every record of the job carries a confidence, at least 0")
	page, err = c.ListRecords(ctx, restclient.RecordQuery{JobID: sync.JobID, BelowConfidence: &zero})
	require.NoError(t, err)
	require.Zero(t, page.Total, "no confidence is below 0")
	report, err := c.Report(ctx, sync.JobID)
	require.NoError(t, err)
	require.Equal(t, sync.JobID, report.JobID)
	require.Len(t, report.Models, 2, "one entry per model of the job")
	costs, err := c.Costs(ctx, ts.clock.Now().AddDate(0, 0, -1), ts.clock.Now().AddDate(0, 0, 1))
	require.NoError(t, err)
	require.Positive(t, costs.TotalRequests)

	del, err := c.DeleteRecords(ctx, []string{*outcome.RecordID, "00000000-0000-4000-8000-000000000000"}, false)
	require.NoError(t, err)
	require.Equal(t, 1, del.Deleted)
	require.Len(t, del.NotFound, 1)
	_, err = c.GetRecord(ctx, "00000000-0000-4000-8000-000000000000")
	var apiErr *restclient.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 404, apiErr.Status)
	require.NotEmpty(t, apiErr.Detail)

	_, err = c.StartBatch(ctx, restclient.BatchRequest{Entities: []map[string]any{{"name": "x"}}, SchemaID: saved.ID, Models: []string{"nope::model"}})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 400, apiErr.Status)
	require.True(t, slices.ContainsFunc(append(apiErr.Errors, apiErr.Detail), func(s string) bool { return s != "" }))
}
