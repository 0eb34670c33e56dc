package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Batch entity key family:
//
//	be/<job>/<first index BE4>    a block of consecutive entities of a batch (blockValue)
//
// Every batch keeps its entities here rather than inside its stored spec: an NDJSON upload is
// written here in chunks while it is read (under the id the job will have), and the batch
// actor reads them back in windows. Entities are stored in blocks of up to blockEntities
// consecutive entities (at most blockBytes of entity data, at least one entity), keyed by the
// index of their first entity, so a million-entity upload is a few thousand keys, not a
// million: one key per entity filled badger's memtables (and their flushes) with small keys
// and made the upload's resident memory several times its size. Blocks are written before
// the job exists and are never changed afterwards; DeleteEntities removes a staged upload
// that did not become a job, and DeleteOrphanEntities (at start) any upload a crash left
// without its job.
//
// A value that starts with '{' is one entity alone at its key's index (the layout of
// earlier versions, still read).
func keyEntity(job string, index int) []byte {
	return binary.BigEndian.AppendUint32([]byte("be/"+job+"/"), uint32(index))
}

func prefixEntities(job string) []byte { return []byte("be/" + job + "/") }

// Block bounds: a block is what one window of the batch actor reads (256 entities), and at
// most 64 KiB of entity data unless one entity is larger.
const (
	blockEntities = 256
	blockBytes    = 64 << 10
)

// blockVersion is the first byte of a block value (an entity alone starts with '{').
const blockVersion = 1

// blockValue encodes entities as one block: the version byte, the entity count (BE4), the
// end offset of every entity in the data (BE4 each), then the entities' bytes.
func blockValue(entities [][]byte) []byte {
	size := 0
	for _, e := range entities {
		size += len(e)
	}
	b := make([]byte, 0, 5+4*len(entities)+size)
	b = append(b, blockVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entities)))
	end := 0
	for _, e := range entities {
		end += len(e)
		b = binary.BigEndian.AppendUint32(b, uint32(end))
	}
	for _, e := range entities {
		b = append(b, e...)
	}
	return b
}

// block is a decoded view of a stored block value; its slices alias the value.
type block struct {
	n    int
	ends []byte // n end offsets, BE4 each
	data []byte
	one  []byte // the entity of a single-entity value of the earlier layout
}

// parseBlock decodes v without copying it.
func parseBlock(v []byte) (block, error) {
	if len(v) > 0 && v[0] == '{' {
		return block{n: 1, one: v}, nil
	}
	if len(v) < 5 || v[0] != blockVersion {
		return block{}, errors.New("not an entity block")
	}
	n := int(binary.BigEndian.Uint32(v[1:5]))
	if len(v) < 5+4*n {
		return block{}, errors.New("entity block truncated")
	}
	b := block{n: n, ends: v[5 : 5+4*n], data: v[5+4*n:]}
	if n > 0 && int(binary.BigEndian.Uint32(b.ends[4*(n-1):])) != len(b.data) {
		return block{}, errors.New("entity block truncated")
	}
	return b, nil
}

// entity returns entity k (0 ≤ k < n) of the block, aliasing the value.
func (b block) entity(k int) []byte {
	if b.one != nil {
		return b.one
	}
	start := 0
	if k > 0 {
		start = int(binary.BigEndian.Uint32(b.ends[4*(k-1):]))
	}
	return b.data[start:binary.BigEndian.Uint32(b.ends[4*k:])]
}

// PutEntities stores entities as indices from, from+1, ... of batch job, in blocks. Each item
// must be the compact JSON of one entity object; the caller checked it. The blocks of one call
// go through one badger write batch (several transactions when large); it returns once all
// are committed. Callers give each index once, in calls that do not overlap. Safe for
// concurrent use on different jobs.
func (db *DB) PutEntities(job string, from int, entities [][]byte) error {
	wb := db.bdb.NewWriteBatch()
	defer wb.Cancel()
	for len(entities) > 0 {
		n, size := 0, 0
		for n < len(entities) && n < blockEntities && (n == 0 || size+len(entities[n]) <= blockBytes) {
			size += len(entities[n])
			n++
		}
		if err := wb.SetEntry(valueEntry(keyEntity(job, from), blockValue(entities[:n]))); err != nil {
			return translate(err)
		}
		from, entities = from+n, entities[n:]
	}
	return translate(wb.Flush())
}

// EntitiesAt returns copies of the stored entities of batch job at the given indices, in that
// order (ascending indices read each block once). A missing entity is an error
// (KindInternal): the batch's entity list is incomplete.
func (db *DB) EntitiesAt(job string, indices []int) ([][]byte, error) {
	out := make([][]byte, 0, len(indices))
	err := db.view(func(txn *badger.Txn) error {
		prefix := prefixEntities(job)
		// Reverse: Seek lands on the block with the greatest first index ≤ the one asked.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
		defer it.Close()
		for p := 0; p < len(indices); {
			it.Seek(keyEntity(job, indices[p]))
			if !it.ValidForPrefix(prefix) {
				return enricher.Errorf(enricher.KindInternal, "entity %d of batch %s is not stored", indices[p], job)
			}
			item := it.Item()
			first := int(binary.BigEndian.Uint32(item.Key()[len(prefix):]))
			took := p
			// The block is only valid inside the callback: the entities asked of it are copied.
			err := readValue(item, func(v []byte) error {
				b, err := parseBlock(v)
				if err != nil {
					return fmt.Errorf("entities of batch %s from %d: %w", job, first, err)
				}
				for ; p < len(indices) && indices[p] >= first && indices[p] < first+b.n; p++ {
					out = append(out, bytes.Clone(b.entity(indices[p]-first)))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if p == took {
				return enricher.Errorf(enricher.KindInternal, "entity %d of batch %s is not stored", indices[p], job)
			}
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
			err := readValue(it.Item(), func(v []byte) error {
				b, err := parseBlock(v)
				n += b.n
				return err
			})
			if err != nil {
				return fmt.Errorf("count entities at %q: %w", it.Item().Key(), err)
			}
		}
		return nil
	})
	return n, err
}

// DeleteEntities removes every stored entity of job (an upload that did not become a job). It
// works through the keys a slice at a time, so memory does not grow with the batch.
func (db *DB) DeleteEntities(job string) error {
	if err := db.deletePrefix(prefixEntities(job)); err != nil {
		return fmt.Errorf("delete staged entities of %s: %w", job, err)
	}
	return nil
}

// DeleteOrphanEntities deletes the stored entities of every batch id that has no job: uploads
// a crash (or a failed clean-up) left behind, since a batch's entities are stored before its
// job. It returns the ids it cleaned. Call it at start, before any upload can begin: an upload
// in progress is, by design, entities without a job. It reads keys only: one seek and two
// lookups per batch, then every job key once if some batch is neither running nor has events.
func (db *DB) DeleteOrphanEntities() ([]string, error) {
	staged := map[string]bool{}
	err := db.view(func(txn *badger.Txn) error {
		prefix := prefixAll("be")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); {
			k := it.Item().Key()
			if len(k) < len(prefix)+5 {
				it.Next()
				continue
			}
			job := string(k[len(prefix) : len(k)-5])
			staged[job] = true
			it.Seek([]byte("be/" + job + "0")) // '0' follows '/': past this batch's keys
		}
		// Most batch ids are jobs that are running (ja/) or have events: those are settled by
		// a lookup each. The job keys are read only when some id is left in doubt.
		for job := range staged {
			active, err := exists(txn, keyJobActive(job))
			if err != nil {
				return err
			}
			if active || hasKey(txn, prefixEvents(job)) {
				delete(staged, job)
			}
		}
		if len(staged) == 0 {
			return nil
		}
		jobs := prefixAll("j") // j/<org>/<job>
		jt := txn.NewIterator(badger.IteratorOptions{Prefix: jobs})
		defer jt.Close()
		for jt.Seek(jobs); jt.ValidForPrefix(jobs); jt.Next() {
			k := jt.Item().Key()
			delete(staged, string(k[bytes.LastIndexByte(k, '/')+1:]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var cleaned []string
	for job := range staged {
		if err := db.DeleteEntities(job); err != nil {
			return cleaned, err
		}
		cleaned = append(cleaned, job)
	}
	slices.Sort(cleaned)
	return cleaned, nil
}

// hasKey reports whether any key starts with prefix.
func hasKey(txn *badger.Txn, prefix []byte) bool {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	it.Seek(prefix)
	return it.ValidForPrefix(prefix)
}
