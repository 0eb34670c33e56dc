package main

import (
	"flag"
	"fmt"

	"github.com/entity-enricher/enricher"
)

// runDurability runs the same jobs with fsync per commit off and on: job start latency (the
// start returns once the job's spec is stored) and records written per second.
func runDurability(args []string) error {
	var jobs, conc int
	var out string
	if err := flags("durability", args, func(fs *flag.FlagSet) {
		fs.IntVar(&jobs, "jobs", 1000, "jobs per setting")
		fs.IntVar(&conc, "concurrency", 64, "jobs in flight")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	var rows []Row
	for _, sync := range []bool{false, true} {
		row, err := engineRun(enricher.StrategySinglePass, []string{"sim::fast", "sim::realistic", "sim::flaky"}, jobs, conc, sync, false)
		if err != nil {
			return err
		}
		row["sync_writes"] = sync
		rows = append(rows, row)
	}
	fmt.Println("limit: the disk's fsync rate bounds commits per second with sync_writes on; group commit shares one fsync among many jobs")
	return report("durability", []string{"sync_writes", "jobs_per_s", "records_per_s", "start_p50_ms", "start_p99_ms", "p50_ms", "p99_ms"}, rows, out)
}
