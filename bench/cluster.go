package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/actors"
	"github.com/entity-enricher/enricher/storage/postgres"
	"github.com/entity-enricher/enricher/transport/llm"
	"github.com/entity-enricher/enricher/transport/llm/sim"
)

// runCluster measures what several nodes on one PostgreSQL database do against one
// latency-bound provider account. Each node is an engine of this process with its own
// connection pool on the shared database (a fresh one, dropped at the end), and all call one
// sim behind a counter of the calls in flight on all nodes together: the vendor's view.
// Rows: one node, then three, each capped at -cap calls in flight of its own (latency-bound
// throughput: three should do three times one); then three with a cluster-wide cap
// (cluster_provider_concurrency) of -cluster-cap, whose calls in flight must never pass it
// (the scenario fails if they do).
func runCluster(args []string) error {
	var latency, dur time.Duration
	var capacity, clusterCap int
	var dbURL, out string
	if err := flags("cluster", args, func(fs *flag.FlagSet) {
		fs.DurationVar(&latency, "latency", 200*time.Millisecond, "sim latency per call (no jitter)")
		fs.IntVar(&capacity, "cap", 50, "provider_concurrency of each node")
		fs.IntVar(&clusterCap, "cluster-cap", 50, "cluster_provider_concurrency of the capped run")
		fs.DurationVar(&dur, "duration", 10*time.Second, "intended run time of each row")
		fs.StringVar(&dbURL, "database-url", os.Getenv(pgURLEnv), "PostgreSQL server (default $"+pgURLEnv+")")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	if dbURL == "" {
		return errors.New("cluster needs a PostgreSQL server: -database-url or " + pgURLEnv + " (see .ci/postgres/start.sh)")
	}
	// Entities per node: what one node's cap finishes in -duration (one call per entity).
	perNode := max(1, int(float64(capacity)/latency.Seconds()*dur.Seconds()))
	runs := []struct {
		name       string
		nodes      int
		clusterCap int
	}{
		{"1-node", 1, 0},
		{"3-nodes", 3, 0},
		{"3-capped", 3, clusterCap},
	}
	var rows []Row
	var one float64
	for _, r := range runs {
		rate, most, err := clusterRun(dbURL, r.nodes, capacity, r.clusterCap, perNode, latency)
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		if r.nodes == 1 {
			one = rate
		}
		limit := float64(capacity) / latency.Seconds() * float64(r.nodes)
		if r.clusterCap > 0 {
			limit = min(limit, float64(r.clusterCap)/latency.Seconds())
			if most > r.clusterCap {
				return fmt.Errorf("%s: %d calls in flight at once, past the cluster cap of %d", r.name, most, r.clusterCap)
			}
		}
		rows = append(rows, Row{"run": r.name, "nodes": r.nodes, "cap_per_node": capacity, "cluster_cap": r.clusterCap,
			"calls": perNode * r.nodes, "calls_per_s": rate, "limit_calls_per_s": limit, "x_one_node": rate / one, "max_inflight": most})
	}
	return report("cluster", []string{"run", "nodes", "cap_per_node", "cluster_cap", "calls", "calls_per_s", "limit_calls_per_s",
		"x_one_node", "max_inflight"}, rows, out)
}

// clusterRun starts nodes engines on a fresh database, hands each a batch of perNode entities
// at once and returns the calls per second of all together and the most calls in flight the
// vendor saw.
func clusterRun(base string, nodes, capacity, clusterCap, perNode int, latency time.Duration) (float64, int, error) {
	url, drop, err := benchDatabase(base)
	if err != nil {
		return 0, 0, err
	}
	defer drop()
	cat, err := llm.NewCatalog(llm.CatalogConfig{})
	if err != nil {
		return 0, 0, err
	}
	vendor := &vendorCounter{p: sim.New(sim.Config{Profiles: map[string]sim.Profile{"fast": {BaseLatencyMS: int(latency.Milliseconds())}}})}
	var engines []*actors.Engine
	var closers []func() error
	defer func() {
		for _, e := range engines {
			e.Stop()
		}
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}()
	for range nodes {
		db, err := postgres.Open(postgres.Config{URL: url})
		if err != nil {
			return 0, 0, err
		}
		closers = append(closers, db.Close)
		deps := actors.Deps{Store: db, Catalog: cat, Providers: map[string]actors.Provider{"sim": {Impl: vendor}}}
		if clusterCap > 0 {
			permits, err := db.OpenPermits()
			if err != nil {
				return 0, 0, err
			}
			closers = append(closers, permits.Close)
			deps.Permits = permits
		}
		eng, err := actors.New(actors.Config{BatchConcurrency: 2 * capacity, ProviderConcurrency: capacity, ProviderQueue: 4 * capacity,
			ClusterProviderConcurrency: clusterCap}, deps)
		if err != nil {
			return 0, 0, err
		}
		engines = append(engines, eng)
	}
	specs := make([]*enricher.EnrichSpec, nodes) // built before the clock starts
	for i := range specs {
		specs[i] = batchSpec(perNode, "sim::fast")
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i, eng := range engines {
		wg.Go(func() {
			job, err := eng.Start("bench", enricher.CreatedBy{}, specs[i])
			if err == nil {
				err = waitJob(eng, job.ID)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	return float64(perNode*nodes) / wall.Seconds(), vendor.most(), nil
}

// vendorCounter is the provider account all nodes of a run call: it counts the calls in
// flight on all of them together.
type vendorCounter struct {
	p        llm.Provider
	mu       sync.Mutex
	inflight int
	max      int
}

func (v *vendorCounter) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	v.mu.Lock()
	v.inflight++
	v.max = max(v.max, v.inflight)
	v.mu.Unlock()
	defer func() {
		v.mu.Lock()
		v.inflight--
		v.mu.Unlock()
	}()
	return v.p.Complete(ctx, req)
}

func (v *vendorCounter) most() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.max
}
