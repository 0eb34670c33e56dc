package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Finished-job index (written by putJobTxn with a job's terminal snapshot):
//
//	jf/<finished unix ms BE8>/<job>   the job's organization
//
// PurgeJobs walks it from the oldest, so finding the jobs to purge reads only the entries of
// jobs due, never every job. Data directories written before the index existed lack entries
// for the jobs that finished then: the first PurgeJobs of a process writes them once from the
// job snapshots (indexFinishedJobs), then marks the directory done under m/finished_index.
func keyJobFinished(finishedMS int64, id string) []byte {
	k := binary.BigEndian.AppendUint64([]byte("jf/"), uint64(max(finishedMS, 0)))
	return append(append(k, '/'), id...)
}

var prefixJobFinished = []byte("jf/")

// purgeKeys is how many keys one write batch of a purge deletes (badger splits a write batch
// into transactions of its own size, so no delete meets ErrTxnTooBig).
const purgeKeys = 10000

// PurgeJobs deletes up to limit jobs that finished (terminal status, with a finished time)
// before finishedBefore, oldest first, and returns how many it deleted: a caller loops while
// it returns limit. Of each job it deletes the snapshot, spec, list, active and finished
// entries, the events, the stored batch entities, the entity started/ended marks, the
// records-of-entity index entries (only the recovery of a running batch reads them) and its
// webhook deliveries. The job's records stay, with their indices: GET /api/records?job_id=
// still lists them (the rx/ index), and RecordsOfJob and EachRecordOfJob still read them (the
// rj/ entries, an empty value per record, stay as PostgreSQL's records keep their job_id;
// hard-deleting a record removes its entry). A job with a delivery still pending is left for
// a later call (a pending delivery is never deleted). Idempotency keys are not touched: they
// carry badger's TTL and expire on their own.
//
// A job is deleted in several write batches, its snapshot and index entries last, so a purge
// cut short leaves a job that the next call finds and finishes. It writes while storage space
// is low (deleting is how space comes back). Not meant to run concurrently with itself.
func (db *DB) PurgeJobs(finishedBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	if err := db.indexFinishedJobs(); err != nil {
		return 0, err
	}
	end := uint64(max(finishedBefore.UnixMilli(), 0))
	purged := 0
	seek := prefixJobFinished
	for purged < limit {
		var due []finishedJob
		err := db.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixJobFinished})
			defer it.Close()
			for it.Seek(seek); it.ValidForPrefix(prefixJobFinished) && len(due) < limit-purged; it.Next() {
				k := it.Item().Key()
				if len(k) < len(prefixJobFinished)+9 {
					continue
				}
				ms := binary.BigEndian.Uint64(k[len(prefixJobFinished):])
				if ms >= end {
					break
				}
				org, err := copyValue(it.Item())
				if err != nil {
					return err
				}
				due = append(due, finishedJob{key: it.Item().KeyCopy(nil), ms: int64(ms),
					id: string(k[len(prefixJobFinished)+9:]), org: string(org)})
			}
			return nil
		})
		if err != nil {
			return purged, err
		}
		if len(due) == 0 {
			break
		}
		for _, f := range due {
			ok, err := db.purgeJob(f)
			if err != nil {
				return purged, fmt.Errorf("purge job %s: %w", f.id, err)
			}
			if ok {
				purged++
			}
		}
		seek = append(due[len(due)-1].key, 0) // past the last entry read
	}
	return purged, nil
}

// finishedJob is one entry of the finished-job index.
type finishedJob struct {
	key     []byte
	ms      int64
	id, org string
}

// purgeJob deletes job f (PurgeJobs); false when it was not deleted: a delivery of it is still
// pending, or the entry was stale (it is removed then).
func (db *DB) purgeJob(f finishedJob) (bool, error) {
	var j *enricher.Job
	pending := false
	err := db.view(func(txn *badger.Txn) error {
		var snap enricher.Job
		err := getJSON(txn, keyJob(f.org, f.id), "job", &snap)
		if enricher.IsKind(err, enricher.KindNotFound) {
			return nil // only its entry is left
		}
		if err != nil {
			return err
		}
		j = &snap
		pending, err = hasPendingWebhook(txn, prefixWebhooksOfJob(f.org, f.id))
		return err
	})
	switch {
	case err != nil:
		return false, err
	case pending:
		return false, nil
	case j != nil && (!j.Status.Terminal() || j.FinishedAt == nil || j.FinishedAt.UnixMilli() != f.ms):
		return false, db.write(func(txn *badger.Txn) error { return txn.Delete(f.key) })
	}
	for _, prefix := range [][]byte{prefixEvents(f.id), prefixEntities(f.id), []byte("bd/" + f.id + "/"),
		[]byte("bs/" + f.id + "/"), []byte("rb/" + f.id + "/"), prefixWebhooksOfJob(f.org, f.id)} {
		if err := db.deletePrefix(prefix); err != nil {
			return false, err
		}
	}
	err = db.write(func(txn *badger.Txn) error {
		keys := [][]byte{f.key, keyJob(f.org, f.id), keyJobSpec(f.org, f.id), keyJobActive(f.id)}
		if j != nil {
			keys = append(keys, keyJobList(f.org, j.CreatedAt.UnixMilli(), f.id))
		}
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return j != nil && err == nil, err
}

// hasPendingWebhook reports whether a delivery under prefix is still pending.
func hasPendingWebhook(txn *badger.Txn, prefix []byte) (bool, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 32})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		v, err := copyValue(it.Item())
		if err != nil {
			return false, err
		}
		d, err := enricher.UnmarshalStoredWebhook(v)
		if err != nil {
			return false, fmt.Errorf("decode %s: %w", it.Item().Key(), err)
		}
		if d.Status == enricher.WebhookPending {
			return true, nil
		}
	}
	return false, nil
}

// deletePrefix deletes every key under prefix, purgeKeys at a time, so memory does not grow
// with the keys.
func (db *DB) deletePrefix(prefix []byte) error {
	for {
		var keys [][]byte
		err := db.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Seek(prefix); it.ValidForPrefix(prefix) && len(keys) < purgeKeys; it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		wb := db.bdb.NewWriteBatch()
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return translate(err)
			}
		}
		if err := wb.Flush(); err != nil {
			return translate(err)
		}
	}
}

// metaFinishedIndex marks a data directory whose finished-job index covers every job.
const metaFinishedIndex = "finished_index"

// indexFinishedJobs writes the finished-job entries of the jobs that ended before the index
// existed, once per data directory (marked under m/finished_index), reading every job
// snapshot a window at a time. Later snapshots write their own entries.
func (db *DB) indexFinishedJobs() error {
	if db.finishedIndexed.Load() {
		return nil
	}
	var done bool
	if err := db.view(func(txn *badger.Txn) (err error) {
		done, err = exists(txn, keyMeta(metaFinishedIndex))
		return err
	}); err != nil {
		return err
	}
	prefix := prefixAll("j")
	seek := prefix
	for !done {
		type entry struct {
			key []byte
			org string
		}
		var entries []entry
		n := 0
		err := db.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Seek(seek); it.ValidForPrefix(prefix) && n < purgeKeys; it.Next() {
				k := it.Item().Key()
				if bytes.Equal(k, seek) {
					continue
				}
				n++
				seek = it.Item().KeyCopy(nil)
				var j struct {
					ID             string             `json:"job_id"`
					OrganizationID string             `json:"organization_id"`
					Status         enricher.JobStatus `json:"status"`
					FinishedAt     *enricher.Time     `json:"finished_at"`
				}
				if err := readValue(it.Item(), func(b []byte) error { return decodeValue(b, &j) }); err != nil {
					return fmt.Errorf("decode %s: %w", k, err)
				}
				if j.Status.Terminal() && j.FinishedAt != nil {
					entries = append(entries, entry{keyJobFinished(j.FinishedAt.UnixMilli(), j.ID), j.OrganizationID})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		wb := db.bdb.NewWriteBatch()
		for _, e := range entries {
			if err := wb.Set(e.key, []byte(e.org)); err != nil {
				wb.Cancel()
				return translate(err)
			}
		}
		if err := wb.Flush(); err != nil {
			return translate(err)
		}
		if n < purgeKeys {
			if err := db.write(func(txn *badger.Txn) error { return txn.Set(keyMeta(metaFinishedIndex), []byte{1}) }); err != nil {
				return err
			}
			if len(entries) > 0 || n > 0 {
				db.log.Info("indexed the jobs that finished before this version", "jobs", len(entries))
			}
			done = true
		}
	}
	db.finishedIndexed.Store(true)
	return nil
}
