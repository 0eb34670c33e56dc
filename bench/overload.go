package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runOverload is the scenario of many batches started at once by one organization: batches
// wait for provider room instead of failing (backpressure), the provider's waiting calls stay
// within provider_queue, starts past that bound get 429 with Retry-After, and /health stays
// fast throughout.
func runOverload(args []string) error {
	var batches, entities, latencyMS, conc, queue, window int
	var out string
	if err := flags("overload", args, func(fs *flag.FlagSet) {
		fs.IntVar(&batches, "batches", 40, "batches started at once")
		fs.IntVar(&entities, "entities", 500, "entities per batch")
		fs.IntVar(&latencyMS, "latency", 20, "sim latency of each call in ms (_sim.latency_ms)")
		fs.IntVar(&conc, "concurrency", 32, "provider_concurrency")
		fs.IntVar(&queue, "queue", 1000, "provider_queue")
		fs.IntVar(&window, "window", 8, "batch_concurrency")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	srv, err := startServer("ENRICHER_BOOTSTRAP_KEY="+benchKey, "ENRICHER_MAX_JOBS=10000", "ENRICHER_MAX_JOBS_PER_ORG=10000",
		"ENRICHER_PROVIDER_CONCURRENCY="+strconv.Itoa(conc), "ENRICHER_PROVIDER_QUEUE="+strconv.Itoa(queue),
		"ENRICHER_BATCH_CONCURRENCY="+strconv.Itoa(window))
	if err != nil {
		return err
	}
	defer srv.stop()
	o := &overload{base: srv.Base, hc: &http.Client{Timeout: 60 * time.Second}}
	var schema struct {
		ID string `json:"id"`
	}
	if _, err := o.post("/api/schema/saved", map[string]any{"name": "Company", "schema_content": json.RawMessage(overloadSchema)}, &schema); err != nil {
		return err
	}
	o.schemaID = schema.ID

	stopHealth := make(chan struct{})
	var healthDone sync.WaitGroup
	var health []time.Duration
	healthDone.Add(1)
	go func() { // GET /health every 50 ms for the whole run
		defer healthDone.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopHealth:
				return
			case <-t.C:
				start := time.Now()
				if res, err := o.hc.Get(o.base + "/health"); err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					health = append(health, time.Since(start))
				}
			}
		}
	}()

	start := time.Now()
	ids := make([]string, batches)
	var refusedFirst, retries atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, batches)
	for i := range batches { // all at once; a 429 is retried after its Retry-After, as a client would
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; ; try++ {
				id, retryAfter, err := o.startBatch(entities, latencyMS)
				if err != nil {
					errs <- err
					return
				}
				if id != "" {
					ids[i] = id
					return
				}
				if try == 0 {
					refusedFirst.Add(1)
				}
				retries.Add(1)
				time.Sleep(retryAfter)
			}
		}()
	}
	// While the batches run, one more start each second: past the bound it gets 429.
	var probes, probe429, probeNoRetryAfter atomic.Int64
	stopProbe := make(chan struct{})
	var probeDone sync.WaitGroup
	probeDone.Add(1)
	go func() {
		defer probeDone.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProbe:
				return
			case <-t.C:
				probes.Add(1)
				id, retryAfter, err := o.startBatch(1, latencyMS)
				switch {
				case err != nil:
				case id == "" && retryAfter > 0:
					probe429.Add(1)
				case id == "":
					probeNoRetryAfter.Add(1)
				}
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		close(stopProbe)
		close(stopHealth)
		return err
	}
	failed, completed := 0, 0
	for _, id := range ids {
		st, err := o.waitJob(id)
		if err != nil {
			close(stopProbe)
			close(stopHealth)
			return err
		}
		if st.Status != "completed" || st.Completed+st.Failed+st.Skipped != st.Total {
			close(stopProbe)
			close(stopHealth)
			return fmt.Errorf("batch %s ended %s with %d+%d+%d of %d entities", id, st.Status, st.Completed, st.Failed, st.Skipped, st.Total)
		}
		failed += st.Failed
		completed += st.Completed
	}
	wall := time.Since(start)
	close(stopProbe)
	probeDone.Wait()
	close(stopHealth)
	healthDone.Wait()
	peak, err := o.metric(`enricher_provider_queued_peak{provider="sim"}`)
	if err != nil {
		return err
	}
	if int(peak) > queue {
		return fmt.Errorf("the sim provider had %d calls waiting, more than provider_queue %d", int(peak), queue)
	}
	if probeNoRetryAfter.Load() > 0 {
		return fmt.Errorf("%d refused starts had no Retry-After", probeNoRetryAfter.Load())
	}
	fmt.Printf("limit: %d ms sim calls, %d in flight per provider: %.0f calls/s at most\n", latencyMS, conc, float64(conc)*1000/float64(max(latencyMS, 1)))
	return report("overload", []string{"batches", "entities", "wall_s", "entities_per_s", "failed_entities", "refused_first_try",
		"start_retries", "probe_429", "probes", "peak_queued", "provider_queue", "health_p50_ms", "health_p99_ms"}, []Row{{
		"batches": batches, "entities": batches * entities, "wall_s": wall.Seconds(), "entities_per_s": float64(completed+failed) / wall.Seconds(),
		"failed_entities": failed, "refused_first_try": int(refusedFirst.Load()), "start_retries": int(retries.Load()),
		"probe_429": int(probe429.Load()), "probes": int(probes.Load()), "peak_queued": int(peak), "provider_queue": queue,
		"health_p50_ms": ms(percentile(health, 50)), "health_p99_ms": ms(percentile(health, 99)),
	}}, out)
}

// overloadSchema has two expertise domains: under multi_expertise each entity makes two calls
// per model.
const overloadSchema = `{"root": {"name": "Company", "description": "A business", "type": "object", "properties": {
	"name": {"type": "string", "is_key": true, "expertise": "profile"},
	"country": {"type": "string", "search_key": true, "expertise": "profile"},
	"founded_year": {"type": "integer", "expertise": "profile"},
	"revenue_usd": {"type": "number", "expertise": "financial"}}},
	"expertise_domains": {"profile": {"name": "Profile", "description": "Identity"}, "financial": {"name": "Finance", "description": "Money"}}}`

// overload is the scenario's HTTP client.
type overload struct {
	base     string
	hc       *http.Client
	schemaID string
}

// post sends body and decodes a 200 into out; it returns the status and, for a non-200, the
// answer as an error unless the status is 429.
func (o *overload) post(path string, body, out any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest("POST", o.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", benchKey)
	res, err := o.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	switch res.StatusCode {
	case http.StatusOK:
		return res, json.Unmarshal(raw, out)
	case http.StatusTooManyRequests:
		return res, nil
	default:
		return res, fmt.Errorf("POST %s: %d %s", path, res.StatusCode, raw)
	}
}

// startBatch starts a batch of n entities on two sim models under multi_expertise: its job id,
// or "" and the Retry-After of a 429.
func (o *overload) startBatch(n, latencyMS int) (string, time.Duration, error) {
	ents := make([]any, n)
	for i := range ents {
		ents[i] = map[string]any{"name": fmt.Sprintf("Company %d", i), "country": "US", "_sim": map[string]any{"latency_ms": latencyMS}}
	}
	var started struct {
		JobID string `json:"job_id"`
	}
	res, err := o.post("/api/enrichment/batch/start", map[string]any{"entities": ents, "schema_id": o.schemaID,
		"models": []string{"sim::fast", "sim::realistic"}, "strategy": "multi_expertise"}, &started)
	if err != nil {
		return "", 0, err
	}
	if res.StatusCode == http.StatusTooManyRequests {
		secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return "", time.Duration(secs) * time.Second, nil
	}
	return started.JobID, 0, nil
}

// jobState is what the scenario reads of a job.
type jobState struct {
	Status    string `json:"status"`
	Total     int    `json:"total_entities"`
	Completed int    `json:"completed_entities"`
	Failed    int    `json:"failed_entities"`
	Skipped   int    `json:"skipped_entities"`
}

// waitJob polls a job until it is terminal.
func (o *overload) waitJob(id string) (jobState, error) {
	for {
		var st jobState
		req, err := http.NewRequest("GET", o.base+"/api/llm/jobs/"+id, nil)
		if err != nil {
			return st, err
		}
		req.Header.Set("X-API-Key", benchKey)
		res, err := o.hc.Do(req)
		if err != nil {
			return st, err
		}
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil {
			return st, err
		}
		switch st.Status {
		case "completed", "failed", "cancelled":
			return st, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// metric reads one sample of /metrics (0 when never set: nothing ever waited).
func (o *overload) metric(name string) (float64, error) { return metricValue(o.hc, o.base, name) }
