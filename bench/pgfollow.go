package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher/transport/client"
)

// pgURLEnv names the PostgreSQL server of the pg-follow scenario (as for the tests;
// .ci/postgres/start.sh starts a throwaway one and prints its URL).
const pgURLEnv = "ENRICHER_TEST_DATABASE_URL"

// runPGFollow measures what following a job from another server costs: two server processes
// on one PostgreSQL database (a fresh one, dropped at the end), a batch started on server A,
// subs subscribers on A (the job's own node: its journal's live lane) and subs on B (which
// does not run it: the stored log, woken by LISTEN/NOTIFY). For every event both sides
// received live, the added delivery latency is B's arrival minus A's (subscriber i of B paired
// with subscriber i of A). Every B stream must carry exactly A's events, in order, to the
// terminal event.
func runPGFollow(args []string) error {
	var entities, subs, concurrency int
	var latency time.Duration
	var dbURL, out string
	if err := flags("pg-follow", args, func(fs *flag.FlagSet) {
		fs.IntVar(&entities, "entities", 300, "entities of the batch")
		fs.IntVar(&subs, "subs", 4, "subscribers on each server")
		fs.IntVar(&concurrency, "concurrency", 8, "batch_concurrency")
		fs.DurationVar(&latency, "latency", 20*time.Millisecond, "sim latency per call")
		fs.StringVar(&dbURL, "database-url", os.Getenv(pgURLEnv), "PostgreSQL server (default $"+pgURLEnv+")")
		fs.StringVar(&out, "out", "bench/results", "results directory")
	}); err != nil {
		return err
	}
	if dbURL == "" {
		return errors.New("pg-follow needs a PostgreSQL server: -database-url or " + pgURLEnv + " (see .ci/postgres/start.sh)")
	}
	db, dropDB, err := benchDatabase(dbURL)
	if err != nil {
		return err
	}
	defer dropDB()
	dir, err := tempDir()
	if err != nil {
		return err
	}
	defer removeAll(dir)
	models := filepath.Join(dir, "models.json")
	if err := os.WriteFile(models, fmt.Appendf(nil, `{"models": [{"key": "sim::steady", "sim": {"base_latency_ms": %d}}]}`, latency.Milliseconds()), 0o600); err != nil {
		return err
	}
	env := []string{"ENRICHER_BOOTSTRAP_KEY=" + benchKey, "ENRICHER_MODELS_FILE=" + models, "ENRICHER_DATABASE_URL=" + db,
		"ENRICHER_PROVIDER_CONCURRENCY=10000", fmt.Sprintf("ENRICHER_BATCH_CONCURRENCY=%d", concurrency)}
	// Both servers start before the batch: B's start-up recovery does not take A's job.
	a, err := startServer(env...)
	if err != nil {
		return err
	}
	defer a.stop()
	b, err := startServer(env...)
	if err != nil {
		return err
	}
	defer b.stop()

	ents := make([]map[string]any, entities)
	for i := range ents {
		ents[i] = map[string]any{"name": fmt.Sprintf("Company %d", i)}
	}
	started, err := benchClient(a.Base, 4).StartBatch(context.Background(), client.BatchRequest{Entities: ents,
		TargetSchema: json.RawMessage(overheadSchema), Models: []string{"sim::steady"}})
	if err != nil {
		return err
	}
	streams := make([][]sseEvent, 2*subs) // A's subscribers, then B's
	errs := make([]error, 2*subs)
	connectedAt := make([]time.Time, 2*subs)
	var wg sync.WaitGroup
	for i := range streams {
		srv := a
		if i >= subs {
			srv = b
		}
		wg.Go(func() {
			c, err := subscribe(srv.Base, started.JobID, 0)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			connectedAt[i] = time.Now()
			errs[i] = readSSE(c, func(ev sseEvent) { streams[i] = append(streams[i], ev) })
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	since := slices.MaxFunc(connectedAt, func(x, y time.Time) int { return x.Compare(y) })
	var local, remote, added []time.Duration
	for i := range subs {
		as, bs := streams[i], streams[subs+i]
		if err := sameEvents(as, bs); err != nil {
			return fmt.Errorf("B's subscriber %d: %w", i, err)
		}
		for k := range as {
			ts, ok := liveSince(as[k], since)
			if !ok {
				continue
			}
			local = append(local, as[k].At.Sub(ts))
			remote = append(remote, bs[k].At.Sub(ts))
			added = append(added, bs[k].At.Sub(as[k].At))
		}
	}
	if len(added) == 0 {
		return errors.New("no event was received live on both servers")
	}
	fmt.Printf("target: added delivery latency p99 ≤ 50 ms over loopback; every stream on B equals A's\n")
	row := Row{"entities": entities, "events": len(streams[0]), "live_pairs": len(added),
		"local_p50_ms": ms(percentile(local, 50)), "local_p99_ms": ms(percentile(local, 99)),
		"remote_p50_ms": ms(percentile(remote, 50)), "remote_p99_ms": ms(percentile(remote, 99)),
		"added_p50_ms": ms(percentile(added, 50)), "added_p99_ms": ms(percentile(added, 99))}
	return report("pg-follow", []string{"entities", "events", "live_pairs", "local_p50_ms", "local_p99_ms",
		"remote_p50_ms", "remote_p99_ms", "added_p50_ms", "added_p99_ms"}, []Row{row}, out)
}

// sameEvents checks that b carries exactly a's events: ids gap-free from 1, same data, and
// a terminal event last.
func sameEvents(a, b []sseEvent) error {
	if len(a) == 0 || len(a) != len(b) {
		return fmt.Errorf("%d events, the job's own node sent %d", len(b), len(a))
	}
	for k := range a {
		if a[k].ID != int64(k+1) || b[k].ID != a[k].ID || string(b[k].Data) != string(a[k].Data) {
			return fmt.Errorf("event %d differs (ids %d and %d)", k+1, a[k].ID, b[k].ID)
		}
	}
	switch b[len(b)-1].Type {
	case "completed", "failed", "cancelled":
		return nil
	}
	return fmt.Errorf("the stream ends with %q, not the terminal event", b[len(b)-1].Type)
}

// liveSince returns ev's timestamp when it is after since (sent live to every subscriber,
// not replayed from the log).
func liveSince(ev sseEvent, since time.Time) (time.Time, bool) {
	var head struct {
		Timestamp time.Time `json:"timestamp"`
	}
	if json.Unmarshal(ev.Data, &head) != nil || !head.Timestamp.After(since) {
		return time.Time{}, false
	}
	return head.Timestamp, true
}

// benchDatabase creates a fresh database on the server at base and returns its URL and a
// function that drops it.
func benchDatabase(base string) (string, func(), error) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "enricher_bench_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		_ = admin.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		_, _ = admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		_ = admin.Close(ctx)
	}, nil
}
