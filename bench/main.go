// Command bench is the load harness of Entity Enricher: `go run ./bench <scenario> [flags]`
// runs one scenario, prints a table and writes bench/results/<scenario>.json;
// `go run ./bench -all` runs the standard set (see bench/README.md for each scenario, what it
// measures and the limit it is compared with).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"
)

// scenario is one named measurement; run parses its own flags.
type scenario struct {
	name string
	run  func(args []string) error
}

var scenarios = []scenario{
	{"engine", runEngine},
	{"http", runHTTP},
	{"latency-bound", runLatencyBound},
	{"overhead", runOverhead},
	{"http-sync", runHTTPSync},
	{"sse-fanout", runFanout},
	{"slow-reader", runSlowReader},
	{"batch-100k", runBatch},
	{"batch-1m-ndjson", runBatchNDJSON},
	{"records", runRecords},
	{"durability", runDurability},
	{"auth", runAuth},
	{"big-bodies", runBigBodies},
	{"overload", runOverload},
	{"rate-limited", runRateLimited},
	{"waterfall", runWaterfall},
	{"pg-follow", runPGFollow},
	{"cluster", runCluster},
}

func main() {
	defer removeBinary()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench <scenario> [flags] | -all [-runs 3] [-out dir]\nscenarios:", scenarioNames())
		os.Exit(2)
	}
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" { // the harness process: in-process scenarios
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if path := os.Getenv("BENCH_MEMPROFILE"); path != "" { // allocations of the harness process
		defer func() {
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	var err error
	if os.Args[1] == "-all" || os.Args[1] == "--all" {
		err = runAll(os.Args[2:])
	} else if sc, ok := findScenario(os.Args[1]); ok {
		err = sc.run(os.Args[2:])
	} else {
		err = fmt.Errorf("unknown scenario %q (have %s)", os.Args[1], scenarioNames())
	}
	if err != nil {
		pprof.StopCPUProfile()
		removeBinary()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func findScenario(name string) (scenario, bool) {
	if name == "batch" { // the first name of batch-100k
		name = "batch-100k"
	}
	for _, sc := range scenarios {
		if sc.name == name {
			return sc, true
		}
	}
	return scenario{}, false
}

func scenarioNames() string {
	var names []string
	for _, sc := range scenarios {
		names = append(names, sc.name)
	}
	return strings.Join(names, ", ")
}

// standardRun is one scenario of -all: its arguments and whether it is repeated (the cheap
// ones are, and report the median with min and max; the long ones run once).
type standardRun struct {
	name   string
	args   []string
	repeat bool
}

var standardSet = []standardRun{
	{"engine", []string{"-jobs", "400"}, true},
	{"http", []string{"-duration", "5s"}, true},
	{"overhead", []string{"-calls", "400"}, true},
	{"http-sync", []string{"-duration", "4s"}, true},
	{"durability", []string{"-jobs", "300"}, true},
	{"auth", []string{"-duration", "3s"}, true},
	{"latency-bound", []string{"-duration", "20s"}, false},
	{"sse-fanout", []string{"-subs", "1000,10000"}, false},
	{"batch-100k", []string{"-entities", "100000"}, false},
	{"records", []string{"-n", "1000000", "-reps", "3"}, false},
}

// runAll runs the standard set, each repeated scenario -runs times, and writes every
// scenario's JSON (repeated figures: median, with _min and _max beside them).
func runAll(args []string) error {
	var runs int
	var out string
	if err := flags("all", args, func(fs *flag.FlagSet) {
		fs.IntVar(&runs, "runs", 3, "repetitions of the cheap scenarios")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	start := time.Now()
	for _, st := range standardSet {
		sc, _ := findScenario(st.name)
		n := 1
		if st.repeat {
			n = runs
		}
		fmt.Printf("\n=== %s %s (%d run(s))\n", st.name, strings.Join(st.args, " "), n)
		var results [][]Row
		for i := range n {
			dir := out
			if n > 1 {
				dir = filepath.Join(out, fmt.Sprintf(".run%d", i))
			}
			if err := sc.run(append(append([]string{}, st.args...), "-out", dir)); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
			rows, err := readRows(filepath.Join(dir, st.name+".json"))
			if err != nil {
				return err
			}
			results = append(results, rows)
		}
		if n > 1 {
			_ = os.RemoveAll(filepath.Join(out, ".run0"))
			for i := 1; i < n; i++ {
				_ = os.RemoveAll(filepath.Join(out, fmt.Sprintf(".run%d", i)))
			}
			if err := writeRows(st.name, mergeRuns(results), out); err != nil {
				return err
			}
			fmt.Printf("(%s: medians of %d runs written with _min/_max)\n", st.name, n)
		}
	}
	fmt.Printf("\n-all finished in %s\n", time.Since(start).Round(time.Second))
	return nil
}

func readRows(path string) ([]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res struct {
		Rows []Row `json:"rows"`
	}
	return res.Rows, json.Unmarshal(b, &res)
}

// mergeRuns folds repeated runs of one scenario row by row: every numeric figure becomes the
// median of the runs, with its minimum and maximum under <name>_min and <name>_max; other
// values are kept from the first run.
func mergeRuns(runs [][]Row) []Row {
	out := make([]Row, len(runs[0]))
	for i, first := range runs[0] {
		row := Row{}
		for k, v := range first {
			f, ok := v.(float64)
			if !ok {
				row[k] = v
				continue
			}
			vals := []float64{f}
			for _, r := range runs[1:] {
				if i < len(r) {
					if g, ok := r[i][k].(float64); ok {
						vals = append(vals, g)
					}
				}
			}
			sort.Float64s(vals)
			row[k], row[k+"_min"], row[k+"_max"] = vals[len(vals)/2], vals[0], vals[len(vals)-1]
		}
		out[i] = row
	}
	return out
}

// Row is one line of a scenario's results.
type Row map[string]any

// report prints rows as a table and writes them to bench/results/<name>.json.
func report(name string, cols []string, rows []Row, outDir string) error {
	for _, c := range cols {
		fmt.Printf("%-*s", max(len(c)+2, 12), c)
	}
	fmt.Println()
	for _, r := range rows {
		for _, c := range cols {
			w := max(len(c)+2, 12)
			switch v := r[c].(type) {
			case float64:
				fmt.Printf("%-*.2f", w, v)
			default:
				fmt.Printf("%-*v", w, v)
			}
		}
		fmt.Println()
	}
	return writeRows(name, rows, outDir)
}

// writeRows writes rows to <outDir>/<name>.json.
func writeRows(name string, rows []Row, outDir string) error {
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

// ms is d in milliseconds with microsecond precision.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
