package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Batch entity key family:
//
//	be/<job>/<index BE4>    one entity of a batch, its compact JSON
//
// Every batch keeps its entities here, one key per entity, rather than inside its stored spec:
// an NDJSON upload is written here in chunks while it is read (under the id the job will
// have), and the batch actor reads them back in windows. The keys are written before the job
// exists and are never changed afterwards; DeleteEntities removes a staged upload that did not
// become a job.
func keyEntity(job string, index int) []byte {
	return binary.BigEndian.AppendUint32([]byte("be/"+job+"/"), uint32(index))
}

func prefixEntities(job string) []byte { return []byte("be/" + job + "/") }

// PutEntities stores entities as indices from, from+1, ... of batch job. Each item must be
// the compact JSON of one entity object; the caller checked it. Large chunks are split over
// several transactions. Safe for concurrent use on different jobs.
func (db *DB) PutEntities(job string, from int, entities [][]byte) error {
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	for i, e := range entities {
		if err := wb.Set(keyEntity(job, from+i), e); err != nil {
			return translate(err)
		}
	}
	return translate(wb.Flush())
}

// EntitiesAt returns the stored entities of batch job at the given indices, in that order.
// A missing entity is an error (KindInternal): the batch's entity list is incomplete.
func (db *DB) EntitiesAt(job string, indices []int) ([][]byte, error) {
	out := make([][]byte, 0, len(indices))
	err := db.view(func(txn *badger.Txn) error {
		for _, i := range indices {
			item, err := txn.Get(keyEntity(job, i))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return enricher.Errorf(enricher.KindInternal, "entity %d of batch %s is not stored", i, job)
			}
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountEntities returns the number of entities stored for job, or for every batch and upload
// when job is empty (tests, diagnostics).
func (db *DB) CountEntities(job string) (int, error) {
	n := 0
	err := db.view(func(txn *badger.Txn) error {
		prefix := prefixEntities(job)
		if job == "" {
			prefix = prefixAll("be")
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// DeleteEntities removes every stored entity of job (an upload that did not become a job). It
// works through the keys a slice at a time, so memory does not grow with the batch.
func (db *DB) DeleteEntities(job string) error {
	prefix := prefixEntities(job)
	for {
		var keys [][]byte
		err := db.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Seek(prefix); it.ValidForPrefix(prefix) && len(keys) < 10000; it.Next() {
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
				return fmt.Errorf("delete staged entities of %s: %w", job, translate(err))
			}
		}
		if err := wb.Flush(); err != nil {
			return translate(err)
		}
	}
}
