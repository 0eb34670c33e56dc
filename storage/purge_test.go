package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// storeFinishedJob stores batch job id of org, finished at finished, with events events, one
// entity and one record.
func storeFinishedJob(t *testing.T, db *DB, org, id string, finished time.Time, events int) {
	t.Helper()
	j := &enricher.Job{ID: id, OrganizationID: org, Type: enricher.JobBatchEnrichment, Status: enricher.JobRunning,
		CreatedAt: enricher.NewTime(finished.Add(-time.Minute)), Spec: json.RawMessage(`{}`), RecordIDs: []string{}}
	require.NoError(t, db.CreateJob(j, nil))
	require.NoError(t, db.PutEntities(id, 0, [][]byte{[]byte(`{"name":"A"}`)}))
	idx := 0
	rec := &enricher.Record{OrganizationID: org}
	rec.ID, rec.JobID, rec.Type, rec.EntityIndex, rec.CreatedAt = "rec-of-"+org, id, enricher.RecordEnrichment, &idx, enricher.NewTime(finished)
	b := &Batch{Records: []*enricher.Record{rec}, Finished: []EntityMark{{JobID: id, Index: 0, Seq: 1}}}
	for seq := range events {
		b.Events = append(b.Events, EventEntry{JobID: id, Seq: int64(seq + 1), Data: []byte(`{"type":"progress"}`)})
	}
	done := *j
	done.Status, done.Spec, done.FinishedAt = enricher.JobCompleted, nil, enricher.NewTimePtr(finished)
	b.Jobs = []*enricher.Job{&done}
	require.NoError(t, db.Commit(b))
}

// keysNaming returns every key that contains s.
func keysNaming(t *testing.T, db *DB, s string) []string {
	t.Helper()
	var out []string
	require.NoError(t, db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if bytes.Contains(it.Item().Key(), []byte(s)) {
				out = append(out, string(it.Item().Key()[:strings.IndexByte(string(it.Item().Key()), '/')+1]))
			}
		}
		return nil
	}))
	return out
}

func TestPurgeIndexesJobsFinishedBeforeUpgrade(t *testing.T) {
	db := openTest(t)
	storeFinishedJob(t, db, "o1", "job-old", t0, 3)
	storeFinishedJob(t, db, "o2", "job-new", t0.Add(2*time.Hour), 3)
	// A data directory of an earlier version: no finished-job entries.
	require.NoError(t, db.deletePrefix(prefixJobFinished))
	require.Empty(t, keysNaming(t, db, "jf/"))

	n, err := db.PurgeJobs(t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the job finished before the index existed is found")
	require.ElementsMatch(t, []string{"rj/", "rx/"}, dedupe(keysNaming(t, db, "job-old")),
		"only the record's indices name the purged job")
	_, err = db.Record("o1", "rec-of-o1")
	require.NoError(t, err)
	require.Contains(t, keysNaming(t, db, "job-new"), "jf/", "the newer job got its entry too")
	require.NoError(t, db.view(func(txn *badger.Txn) error {
		ok, err := exists(txn, keyMeta(metaFinishedIndex))
		require.True(t, ok, "indexed once per directory")
		return err
	}))
}

func TestPurgeDeletesLargeJobInChunks(t *testing.T) {
	db := openTest(t)
	storeFinishedJob(t, db, "o1", "job-big", t0, purgeKeys+7)
	n, err := db.PurgeJobs(t0.Add(time.Hour), 1)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.ElementsMatch(t, []string{"rj/", "rx/"}, dedupe(keysNaming(t, db, "job-big")))
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// fakePurger answers PurgeJobs from a script of results and records each call's cutoff.
type fakePurger struct {
	mu      sync.Mutex
	results []fakeResult // then 0, nil forever
	cutoffs []time.Time
	calls   chan struct{}
}

type fakeResult struct {
	n   int
	err error
}

func (f *fakePurger) PurgeJobs(before time.Time, limit int) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutoffs = append(f.cutoffs, before)
	r := fakeResult{}
	if len(f.results) > 0 {
		r, f.results = f.results[0], f.results[1:]
	}
	select {
	case f.calls <- struct{}{}:
	default:
	}
	return min(r.n, limit), r.err
}

func (f *fakePurger) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cutoffs)
}

func TestPurgerRoundsAndStop(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	for _, tt := range []struct {
		name    string
		results []fakeResult
		calls   int    // calls of the first round
		log     string // in the log after the first round
	}{
		{"loops while a batch is full", []fakeResult{{2, nil}, {2, nil}, {1, nil}}, 3, "jobs=5"},
		{"stops at an error and logs it", []fakeResult{{2, nil}, {0, errors.New("disk on fire")}}, 2, "disk on fire"},
		{"nothing to purge logs nothing", nil, 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakePurger{results: tt.results, calls: make(chan struct{}, 100)}
			var mu sync.Mutex
			var logBuf bytes.Buffer
			log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logBuf}, nil))
			p := StartPurger(store, PurgerConfig{Interval: time.Hour, Retention: 24 * time.Hour, Batch: 2,
				Now: func() time.Time { return now }, Logger: log})
			for range tt.calls {
				<-store.calls
			}
			p.Stop()
			p.Stop() // idempotent
			require.Equal(t, tt.calls, store.count(), "the first round runs at start; the next only after an hour")
			for _, c := range store.cutoffs {
				require.Equal(t, t0.Add(24*time.Hour), c, "finished more than the retention ago")
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.log == "" {
				require.Empty(t, logBuf.String())
			} else {
				require.Contains(t, logBuf.String(), tt.log)
			}
		})
	}

	t.Run("ticks until stopped", func(t *testing.T) {
		store := &fakePurger{calls: make(chan struct{}, 100)}
		p := StartPurger(store, PurgerConfig{Interval: time.Millisecond, Batch: 2})
		for range 3 {
			<-store.calls
		}
		p.Stop()
		n := store.count()
		time.Sleep(5 * time.Millisecond)
		require.Equal(t, n, store.count(), "no round after Stop")
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
