package storage

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
)

// entitiesOf returns n distinct entity JSONs starting at index from; every 100th is large, so
// blocks end on their byte bound as well as on their count.
func entitiesOf(from, n int) [][]byte {
	out := make([][]byte, n)
	for k := range out {
		i := from + k
		pad := ""
		if i%100 == 99 {
			pad = strings.Repeat("x", 40<<10)
		}
		out[k] = fmt.Appendf(nil, `{"name":"Company %d","pad":%q}`, i, pad)
	}
	return out
}

// putAll stores total entities of job in calls of the given sizes (the last repeats).
func putAll(t *testing.T, db *DB, job string, total int, calls ...int) {
	t.Helper()
	for from, c := 0, 0; from < total; c++ {
		n := min(calls[min(c, len(calls)-1)], total-from)
		require.NoError(t, db.PutEntities(job, from, entitiesOf(from, n)))
		from += n
	}
}

// TestEntitiesRoundTrip stores a batch's entities in blocks through calls of several sizes
// and reads back any set of indices: in order, across block bounds, out of order, one alone;
// the count is the number of entities, not of blocks; an index past the end is an error.
func TestEntitiesRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		total int
		calls []int
	}{
		{"one call", 1000, []int{1000}},
		{"calls smaller than a block", 700, []int{7}},
		{"calls of odd sizes", 1300, []int{255, 257, 1, 4096}},
		{"one entity", 1, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t)
			putAll(t, db, "job1", tt.total, tt.calls...)
			require.NoError(t, db.PutEntities("job2", 0, entitiesOf(5000, 3))) // a neighbour

			n, err := db.CountEntities("job1")
			require.NoError(t, err)
			require.Equal(t, tt.total, n)
			all, err := db.CountEntities("")
			require.NoError(t, err)
			require.Equal(t, tt.total+3, all)

			last := tt.total - 1
			for _, indices := range [][]int{
				seq(0, tt.total),
				seq(last/2, min(last/2+blockEntities+3, tt.total)),
				{last, 0, last / 2, last},
				{last},
			} {
				got, err := db.EntitiesAt("job1", indices)
				require.NoError(t, err)
				require.Len(t, got, len(indices))
				for k, i := range indices {
					require.Equal(t, string(entitiesOf(i, 1)[0]), string(got[k]), "entity %d", i)
				}
			}
			_, err = db.EntitiesAt("job1", []int{0, tt.total})
			require.True(t, enricher.IsKind(err, enricher.KindInternal), "past the end: %v", err)
			_, err = db.EntitiesAt("job0", []int{0})
			require.True(t, enricher.IsKind(err, enricher.KindInternal), "no such batch: %v", err)
		})
	}
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestEntitiesEarlierLayout reads entities stored one per key, as earlier versions wrote
// them, beside blocks of the same batch.
func TestEntitiesEarlierLayout(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	require.NoError(t, db.bdb.Update(func(txn *badger.Txn) error {
		for i := range 3 {
			if err := txn.Set(keyEntity("job1", i), entitiesOf(i, 1)[0]); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, db.PutEntities("job1", 3, entitiesOf(3, 300)))
	got, err := db.EntitiesAt("job1", []int{0, 1, 2, 3, 302})
	require.NoError(t, err)
	for k, i := range []int{0, 1, 2, 3, 302} {
		require.Equal(t, string(entitiesOf(i, 1)[0]), string(got[k]))
	}
	n, err := db.CountEntities("job1")
	require.NoError(t, err)
	require.Equal(t, 303, n)
}

// TestEntitiesBlocksBounded checks the point of blocks: a thousand small entities are a few
// keys, and no block holds more than its bounds allow.
func TestEntitiesBlocksBounded(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	putAll(t, db, "job1", 1000, 1000)
	keys, maxEntities := 0, 0
	require.NoError(t, db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixEntities("job1"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys++
			if err := readValue(it.Item(), func(v []byte) error {
				b, err := parseBlock(v)
				maxEntities = max(maxEntities, b.n)
				if b.n > 1 {
					require.LessOrEqual(t, len(b.data), blockBytes, "a block over its byte bound holds one entity")
				}
				return err
			}); err != nil {
				return err
			}
		}
		return nil
	}))
	require.LessOrEqual(t, maxEntities, blockEntities)
	// 10 entities of 40 KiB: each ends a block on the byte bound, the rest fill up to 256.
	require.Less(t, keys, 40, "1,000 entities are a few blocks, not one key each")
}

// TestDeleteOrphanEntities stands for a server that stopped during uploads: the entities of a
// batch whose job was stored stay, those of uploads that never became a job (one large, one
// small) go, and a second sweep finds nothing.
func TestDeleteOrphanEntities(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	putAll(t, db, "kept", 600, 256)
	putAll(t, db, "orphan-big", 2000, 1000)
	putAll(t, db, "orphan-small", 1, 1)
	putAll(t, db, "ended", 10, 10)
	putAll(t, db, "ended-quietly", 10, 10)
	batch := func(id string, status enricher.JobStatus) *enricher.Job {
		return &enricher.Job{ID: id, OrganizationID: "org1", Type: enricher.JobBatchEnrichment,
			Status: status, CreatedAt: enricher.NewTime(t0), Spec: []byte(`{}`)}
	}
	require.NoError(t, db.CreateJob(batch("kept", enricher.JobRunning), nil))
	// Ended jobs are not active: one has events, one (cancelled before it ran) has none and is
	// found among the job keys.
	require.NoError(t, db.CreateJob(batch("ended", enricher.JobCompleted), nil))
	require.NoError(t, db.Commit(&Batch{Events: []EventEntry{{JobID: "ended", Seq: 1, Data: []byte(`{}`)}}}))
	require.NoError(t, db.CreateJob(batch("ended-quietly", enricher.JobCancelled), nil))
	require.NoError(t, db.CreateJob(&enricher.Job{ID: "single", OrganizationID: "org1", Type: enricher.JobSingleEnrichment,
		Status: enricher.JobCompleted, CreatedAt: enricher.NewTime(t0), Spec: []byte(`{}`)}, nil))

	cleaned, err := db.DeleteOrphanEntities()
	require.NoError(t, err)
	require.Equal(t, []string{"orphan-big", "orphan-small"}, cleaned)
	for job, want := range map[string]int{"kept": 600, "ended": 10, "ended-quietly": 10, "orphan-big": 0, "orphan-small": 0, "": 620} {
		n, err := db.CountEntities(job)
		require.NoError(t, err)
		require.Equal(t, want, n, "entities of %q", job)
	}
	got, err := db.EntitiesAt("kept", []int{0, 599})
	require.NoError(t, err)
	require.Equal(t, string(entitiesOf(599, 1)[0]), string(got[1]))

	cleaned, err = db.DeleteOrphanEntities()
	require.NoError(t, err)
	require.Empty(t, cleaned)
}

// TestEntitiesSurviveReopen writes a batch's entities to a store on disk, closes it and
// reads them from the reopened store, as recovery of a running batch does.
func TestEntitiesSurviveReopen(t *testing.T) {
	t.Parallel()
	cfg := Config{Dir: t.TempDir(), GCInterval: -1, TrimInterval: -1}
	db, err := Open(cfg)
	require.NoError(t, err)
	putAll(t, db, "job1", 3000, 1024)
	require.NoError(t, db.Close())

	db, err = Open(cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	got, err := db.EntitiesAt("job1", seq(2990, 3000))
	require.NoError(t, err)
	for k, i := range seq(2990, 3000) {
		require.Equal(t, string(entitiesOf(i, 1)[0]), string(got[k]))
	}
	n, err := db.CountEntities("job1")
	require.NoError(t, err)
	require.Equal(t, 3000, n)
}
