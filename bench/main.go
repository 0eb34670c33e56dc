// Command bench is the load harness of Entity Enricher: `go run ./bench <scenario> [flags]`
// runs one scenario, prints a table and writes bench/results/<scenario>.json. Scenarios so
// far: engine (jobs through the engine facade on sim::fast) and auth (authenticated
// GET /api/schema/saved through a real server process). See bench/README.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench <engine|auth|records|batch> [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "engine":
		err = runEngine(os.Args[2:])
	case "auth":
		err = runAuth(os.Args[2:])
	case "records":
		err = runRecords(os.Args[2:])
	case "batch":
		err = runBatch(os.Args[2:])
	default:
		err = fmt.Errorf("unknown scenario %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Row is one line of a scenario's results.
type Row map[string]any

// report prints rows as a table and writes them to bench/results/<name>.json.
func report(name string, cols []string, rows []Row, outDir string) error {
	for _, c := range cols {
		fmt.Printf("%-22s", c)
	}
	fmt.Println()
	for _, r := range rows {
		for _, c := range cols {
			switch v := r[c].(type) {
			case float64:
				fmt.Printf("%-22.2f", v)
			default:
				fmt.Printf("%-22v", v)
			}
		}
		fmt.Println()
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(map[string]any{"scenario": name, "at": time.Now().UTC().Format(time.RFC3339), "rows": rows}, "", "  ")
	return os.WriteFile(filepath.Join(outDir, name+".json"), b, 0o644)
}

// percentile returns the p-th percentile (0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// cpuTime returns the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func flags(name string, args []string, setup func(fs *flag.FlagSet)) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	setup(fs)
	return fs.Parse(args)
}
