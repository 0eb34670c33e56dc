package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenariosSmoke runs every scenario at a tiny size so the harness cannot rot. It checks
// only that figures are produced and sane (finite, and positive where a rate is expected),
// never speed.
func TestScenariosSmoke(t *testing.T) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	// Scenarios build ./cmd/enricher from the module root.
	if err := os.Chdir(filepath.Dir(strings.TrimSpace(string(gomod)))); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// signed figures are differences of two measurements, which noise may make negative
	// (pg-follow's added latency: another server's delivery minus the job's own node's).
	signed := map[string]bool{"added_p50_ms": true, "added_p99_ms": true}
	tests := []struct {
		name     string
		run      func([]string) error
		args     []string
		positive []string
	}{
		{"engine", runEngine, []string{"-jobs", "10", "-concurrency", "4"}, []string{"jobs_per_s", "calls_per_s", "events_per_job", "log_bytes_per_job",
			"disk_bytes_per_enrichment_pre_gc", "disk_bytes_per_enrichment", "disk_live_bytes_per_enrichment", "disk_vlog_bytes"}},
		{"http", runHTTP, []string{"-clients", "2", "-duration", "300ms"}, []string{"enrichments_per_s", "p50_ms", "server_cpu_us_per_enrichment"}},
		{"latency-bound", runLatencyBound, []string{"-latency", "20ms", "-cap", "4", "-duration", "300ms"}, []string{"calls_per_s", "efficiency_pct"}},
		{"overhead", runOverhead, []string{"-calls", "6", "-round", "3"}, []string{"direct_p50_ms", "server_p50_ms"}},
		{"http-sync", runHTTPSync, []string{"-clients", "1,2", "-duration", "300ms"}, []string{"requests_per_s", "p50_ms", "server_cpu_us_per_req"}},
		{"sse-fanout", runFanout, []string{"-subs", "4", "-per-job", "2", "-entities", "2", "-latency", "20ms", "-stuck-jobs", "2"}, []string{"events_per_s", "p99_delay_ms", "job_ms_free", "job_ms_stuck"}},
		{"slow-reader", runSlowReader, []string{"-entities", "200", "-delay", "5ms"}, []string{"events", "last_seq", "job_s", "terminal_s", "peak_rss_mb"}},
		{"batch-100k", runBatch, []string{"-entities", "20"}, []string{"entities_per_s", "peak_rss_mb"}},
		{"batch-1m-ndjson", runBatchNDJSON, []string{"-entities", "50"}, []string{"accept_s", "entities_per_s", "peak_rss_accept_mb", "peak_rss_mb"}},
		{"records", runRecords, []string{"-n", "3000", "-reps", "1"}, []string{"total"}},
		{"durability", runDurability, []string{"-jobs", "4", "-concurrency", "2"}, []string{"jobs_per_s", "records_per_s", "start_p50_ms"}},
		{"auth", runAuth, []string{"-clients", "2", "-duration", "300ms"}, []string{"requests_per_s"}},
		{"big-bodies", runBigBodies, []string{"-clients", "2", "-rounds", "1", "-mb", "1", "-settle", "100ms"}, []string{"rss_idle_mb", "rss_peak_mb"}},
		{"overload", runOverload, []string{"-batches", "4", "-entities", "6", "-queue", "8", "-window", "2", "-latency", "5", "-concurrency", "2"}, []string{"entities_per_s", "health_p99_ms"}},
		{"rate-limited", runRateLimited, []string{"-rpm", "10", "-tpm", "100000", "-minute", "200ms", "-entities", "14", "-concurrency", "4"}, []string{"admitted", "efficiency", "rpm_achieved", "tokens_per_call"}},
		{"waterfall", runWaterfall, []string{"-entities", "12"}, []string{"cost_usd", "coverage", "calls"}},
		{"pg-follow", runPGFollow, []string{"-entities", "16", "-subs", "1", "-latency", "20ms", "-concurrency", "2"}, []string{"events", "live_pairs", "remote_p99_ms"}},
		{"cluster", runCluster, []string{"-latency", "20ms", "-cap", "4", "-cluster-cap", "3", "-duration", "200ms"}, []string{"calls_per_s", "x_one_node", "max_inflight"}},
	}
	if len(tests) != len(scenarios) {
		t.Errorf("%d scenarios smoke-tested, %d registered", len(tests), len(scenarios))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.name == "pg-follow" || tt.name == "cluster") && os.Getenv(pgURLEnv) == "" {
				t.Skip(pgURLEnv + " is not set: " + tt.name + " needs PostgreSQL (see .ci/postgres/start.sh)")
			}
			if err := tt.run(append(tt.args, "-out", out)); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(out, tt.name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Rows []map[string]any `json:"rows"`
			}
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) == 0 {
				t.Fatal("no rows")
			}
			for _, row := range res.Rows {
				for k, v := range row {
					f, ok := v.(float64)
					if ok && (math.IsNaN(f) || math.IsInf(f, 0) || f < 0 && !signed[k]) {
						t.Errorf("%s: %s = %v", tt.name, k, f)
					}
				}
			}
			for _, k := range tt.positive { // the first row is the plainest case of each scenario
				if f, _ := res.Rows[0][k].(float64); f <= 0 {
					t.Errorf("%s: %s = %v, want > 0", tt.name, k, res.Rows[0][k])
				}
			}
		})
	}
}

func TestMergeRuns(t *testing.T) {
	runs := [][]Row{
		{{"name": "a", "v": 3.0}},
		{{"name": "a", "v": 1.0}},
		{{"name": "a", "v": 2.0}},
	}
	got := mergeRuns(runs)[0]
	want := Row{"name": "a", "v": 2.0, "v_min": 1.0, "v_max": 3.0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
