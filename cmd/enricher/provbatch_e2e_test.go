package main

import (
	"fmt"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher/transport/llm/llmtest"
)

// TestProviderBatchKillAndResume runs a 500-entity batch on two vendors (the OpenAI and
// Anthropic fakes) with execution provider_batch, kills the server with -9 after both vendor
// batches were submitted and before they end, and starts it again on the same data: the
// restarted server attaches to the same vendor batches (none is submitted again), the batch
// completes, and every record is priced at the vendor's batch price (half the list price).
func TestProviderBatchKillAndResume(t *testing.T) {
	t.Parallel()
	const n = 500
	oa := llmtest.NewOpenAIServer(t, llmtest.OpenAIFlavorOpenAI, "sk-openai-test")
	an := llmtest.NewAnthropicServer(t, "sk-ant-test")
	oa.SetBatchDelay(-1) // batches end when the test says so
	an.SetBatchDelay(-1)
	env := []string{"OPENAI_API_KEY=sk-openai-test", "OPENAI_BASE_URL=" + oa.URL,
		"ANTHROPIC_API_KEY=sk-ant-test", "ANTHROPIC_BASE_URL=" + an.URL,
		"ENRICHER_PROVIDER_BATCH_POLL=50ms", "ENRICHER_PROVIDER_BATCH_LINGER=300ms"}
	dir := t.TempDir()
	cmd, base := startChild(t, dir, env...)
	ts := &testServer{t: t, base: base}
	c := ts.bootstrap()
	schemaID := c.must(200, "POST", "/api/schema/saved", map[string]any{"name": "Company", "schema_content": companySchema}).str("id")
	models := []string{"openai::gpt-4o", "anthropic::claude-sonnet-4-5-20250514"}
	prices := map[string][2]float64{models[0]: {2.5, 10}, models[1]: {3, 15}}
	entities := make([]any, n)
	for i := range entities {
		entities[i] = map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US"}
	}
	jobID := c.must(200, "POST", "/api/batch/start", map[string]any{"entities": entities, "schema_id": schemaID,
		"models": models, "execution": "provider_batch"}).str("job_id")

	// Both vendor batches are submitted and their ids stored (the events say so); then kill -9.
	submitted := map[string]float64{}
	res := c.openStream(jobID)
	readEventsUntil(t, res, func(e sseEvent) bool {
		if e.data["type"] == "provider_batch_submitted" {
			submitted[e.data["model"].(string)] += e.data["requests"].(float64)
		}
		return len(submitted) == 2 && submitted[models[0]] == n && submitted[models[1]] == n
	})
	res.Body.Close()
	require.Equal(t, "running", c.must(200, "GET", "/api/llm/jobs/"+jobID, nil).str("status"))
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	_, ts.base = startChild(t, dir, env...)
	require.Equal(t, 1, oa.EndBatches(), "OpenAI holds one open batch")
	require.Equal(t, 1, an.EndBatches(), "Anthropic holds one open batch")
	deadline := time.Now().Add(2 * time.Minute)
	var job response
	for {
		job = c.must(200, "GET", "/api/llm/jobs/"+jobID, nil)
		if job.str("status") != "running" && job.str("status") != "pending" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, "completed", job.str("status"), string(job.raw))
	require.EqualValues(t, n, job.get("completed_entities"))
	for name, counts := range map[string][2]int{"openai": pair(oa.BatchCounts()), "anthropic": pair(an.BatchCounts())} {
		require.Equal(t, [2]int{1, n}, counts, "%s: one batch of %d requests, none submitted again", name, n)
	}

	perModel := map[string]int{}
	for page := 1; ; page++ {
		q := url.Values{"job_id": {jobID}, "type": {"enrichment"}, "page": {fmt.Sprint(page)}, "page_size": {"100"}}
		recs := c.must(200, "GET", "/api/records?"+q.Encode(), nil).get("records").([]any)
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			id := r.(map[string]any)["id"].(string)
			rec := c.must(200, "GET", "/api/records/"+id, nil)
			model := rec.str("model")
			p, ok := prices[model]
			require.True(t, ok, model)
			in, out := rec.get("input_tokens").(float64), rec.get("output_tokens").(float64)
			require.Positive(t, in, id)
			require.InDelta(t, 0.5*(in*p[0]+out*p[1])/1e6, rec.get("cost_usd").(float64), 1e-12, "%s: the batch price", id)
			perModel[model]++
		}
	}
	require.Equal(t, map[string]int{models[0]: n, models[1]: n}, perModel, "one record per entity and model")
	require.Empty(t, oa.TakeViolations())
	require.Empty(t, an.TakeViolations())
}

func pair(a, b int) [2]int { return [2]int{a, b} }
