package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
)

// runBatch runs one batch of n entities on three zero-latency sim models with fusion through
// the engine on an on-disk store: wall time, entities/s, records/s, event-log bytes per entity
// and the process's peak RSS (VmHWM).
func runBatch(args []string) error {
	var n, window, memLimitMB int
	var out, memprofile string
	if err := flags("batch-100k", args, func(fs *flag.FlagSet) {
		fs.IntVar(&n, "entities", 100_000, "entities in the batch")
		fs.IntVar(&window, "window", 8, "batch_concurrency")
		fs.StringVar(&out, "out", "bench/results", "results directory")
		fs.StringVar(&memprofile, "memprofile", "", "write a heap profile at the end")
		fs.IntVar(&memLimitMB, "memory-limit-mb", 700, "soft Go heap limit, as the server's memory_limit_mb (0: none)")
	}); err != nil {
		return err
	}
	if memLimitMB > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(memLimitMB) << 20))
	}
	if memprofile != "" {
		defer func() {
			if f, err := os.Create(memprofile); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}()
	}
	eng, db, stop, err := simEngine(actors.Config{BatchConcurrency: window, ProviderConcurrency: 64}, zeroLatency(), false)
	if err != nil {
		return err
	}
	defer stop()
	spec := batchSpec(n, "sim::fast", "sim::realistic", "sim::flaky")
	start := time.Now()
	job, err := eng.Start("bench", enricher.CreatedBy{}, spec)
	if err != nil {
		return err
	}
	if err := waitJob(eng, job.ID); err != nil {
		return err
	}
	wall := time.Since(start)
	j, err := db.Job("bench", job.ID)
	if err != nil {
		return err
	}
	fmt.Println("limit: zero-latency sim models; the figures are the engine's and badger's own cost (2 cores)")
	return report("batch-100k", []string{"entities", "memory_limit_mb", "wall_s", "entities_per_s", "records_per_s", "log_bytes_per_entity", "peak_rss_mb", "anon_rss_mb", "file_rss_mb"}, []Row{{
		"entities": n, "memory_limit_mb": memLimitMB, "wall_s": wall.Seconds(), "entities_per_s": float64(n) / wall.Seconds(),
		"records_per_s": float64(j.RecordCount) / wall.Seconds(), "log_bytes_per_entity": float64(j.EventBytes) / float64(n),
		"peak_rss_mb": procStatusMB("VmHWM:"), "anon_rss_mb": procStatusMB("RssAnon:"), "file_rss_mb": procStatusMB("RssFile:"),
	}}, out)
}

// procStatusMB reads a kB field of this process's /proc status (VmHWM: peak resident set;
// RssAnon and RssFile: the resident set now, anonymous memory and mapped files) in MB.
func procStatusMB(field string) float64 { return procMB(os.Getpid(), field) }
