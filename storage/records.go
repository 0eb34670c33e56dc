package storage

import (
	"encoding/binary"
	"encoding/hex"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Record indexes (values: the RecordSummary JSON, so list pages never load whole records):
//
//	rx/<org>/c/<created>/<id>            by creation time
//	rx/<org>/$/<cost>/<id>               by cost
//	rx/<org>/p/<processing ms>/<id>      by processing time
//	rx/<org>/<f>/<value>/<created>/<id>  per filter f: t type, m model, j job, e entity, s schema
//	rxc/<org>/n, rxc/<org>/d             record count, soft-deleted count (uint64 BE)
//
// Numbers in keys are 16 hex digits, big-endian, so byte order is numeric order.
func hex16(v uint64) string { return hex.EncodeToString(binary.BigEndian.AppendUint64(nil, v)) }

// costKey orders costs (non-negative floats) by their IEEE bits.
func costKey(c float64) string { return hex16(math.Float64bits(math.Max(c, 0))) }

func recordIndexKeys(r *enricher.Record) [][]byte {
	org, id := r.OrganizationID, r.ID
	created := hex16(uint64(r.CreatedAt.UnixMilli()))
	base := "rx/" + org + "/"
	keys := []string{
		base + "c/" + created + "/" + id,
		base + "$/" + costKey(r.CostUSD) + "/" + id,
		base + "p/" + hex16(uint64(max(r.ProcessingTimeMS, 0))) + "/" + id,
		base + "t/" + string(r.Type) + "/" + created + "/" + id,
		base + "j/" + r.JobID + "/" + created + "/" + id,
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"m", r.Model}, {"e", r.EntityID}, {"s", r.SchemaID}} {
		if f.v != nil && *f.v != "" {
			keys = append(keys, base+f.name+"/"+*f.v+"/"+created+"/"+id)
		}
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

func keyRecordCount(org, which string) []byte { return []byte("rxc/" + org + "/" + which) }

// recordCounterNames are the counters a record belongs to: all records, its type, its model
// and its success. Prefixed "n:" they count records, "d:" soft-deleted ones.
func recordCounterNames(r *enricher.Record) []string {
	return []string{"all", "t:" + string(r.Type), "m:" + modelOf(r), "s:" + boolName(r.Success)}
}

func boolName(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func addCount(txn *badger.Txn, key []byte, delta int64) error {
	v, _, err := getRaw(txn, key)
	if err != nil {
		return err
	}
	var n int64
	if len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	return txn.Set(key, binary.BigEndian.AppendUint64(nil, uint64(max(n+delta, 0))))
}

func readCount(txn *badger.Txn, key []byte) (int, error) {
	v, _, err := getRaw(txn, key)
	if err != nil || len(v) != 8 {
		return 0, err
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

// putRecordTxn stores a record with its indexes; a new record counts once, in t (which the
// caller applies before the transaction commits).
func putRecordTxn(txn *badger.Txn, t *tally, r *enricher.Record) error {
	isNew := true
	if ok, err := exists(txn, keyRecord(r.OrganizationID, r.ID)); err != nil {
		return err
	} else if ok {
		isNew = false
	}
	if err := putRecordRow(txn, r); err != nil {
		return err
	}
	if err := txn.Set(keyRecordOfJob(r.JobID, r.ID), nil); err != nil {
		return err
	}
	if r.EntityIndex != nil {
		if err := txn.Set(keyRecordOfEntity(r.JobID, *r.EntityIndex, r.ID), nil); err != nil {
			return err
		}
	}
	if err := putRecordIndexes(txn, r); err != nil {
		return err
	}
	if isNew {
		t.addStats(r, 1)
		t.addCosts(r, 1)
		t.count(r, "n", 1)
	}
	return nil
}

// Records returns one page of the records of org that match q, and how many match in all.
//
// The walk uses the index that fits best (a job, entity, schema, model or type index when
// that filter is set and the order is by creation time; else the order's own index) and reads
// only index values. total comes from maintained counters when q has no filter, and from a
// key-only count of one index when q has exactly one equality filter; otherwise it is counted
// during the walk, which then runs over the whole matching range.
func (db *DB) Records(org string, q enricher.RecordQuery) ([]enricher.RecordSummary, int, error) {
	var out []enricher.RecordSummary
	var page []pageEntry
	total := 0
	err := db.view(func(txn *badger.Txn) error {
		prefix, timeKeyed := recordIndexPrefix(org, q)
		fastTotal, known, err := recordTotal(txn, org, q)
		if err != nil {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false, Reverse: !q.Asc})
		defer it.Close()
		seek := prefix
		if !q.Asc {
			seek = append(append([]byte{}, prefix...), 0xff)
		}
		if timeKeyed && q.Until > 0 && !q.Asc {
			seek = append(append([]byte{}, prefix...), hex16(uint64(q.Until))...)
		} else if timeKeyed && q.Since > 0 && q.Asc {
			seek = append(append([]byte{}, prefix...), hex16(uint64(q.Since))...)
		}
		allMatch, err := everyEntryMatches(txn, org, q, timeKeyed)
		if err != nil {
			return err
		}
		matched := 0
		for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
			key := it.Item().Key()
			if timeKeyed {
				ms := keyTime(key[len(prefix):])
				if (!q.Asc && q.Since > 0 && ms < q.Since) || (q.Asc && q.Until > 0 && ms >= q.Until) {
					break // past the time range: the rest of this index is outside it too
				}
				if (q.Since > 0 && ms < q.Since) || (q.Until > 0 && ms >= q.Until) {
					continue
				}
			}
			if allMatch && (matched < q.Offset || len(page) >= q.Limit) { // counted by key alone
				matched++
				if known && len(page) >= q.Limit {
					break
				}
				continue
			}
			var e indexEntry
			var old *enricher.RecordSummary
			if err := readValue(it.Item(), func(v []byte) (err error) { e, old, err = decodeIndexEntry(v); return err }); err != nil {
				return err
			}
			if !allMatch && !e.matches(q) {
				continue
			}
			if matched >= q.Offset && len(page) < q.Limit {
				page = append(page, pageEntry{id: idOfIndexKey(key), sum: old})
			}
			matched++
			if known && len(page) >= q.Limit {
				break
			}
		}
		total = matched
		if known {
			total = fastTotal
		}
		out, err = loadSummaries(txn, org, page)
		return err
	})
	if out == nil {
		out = []enricher.RecordSummary{}
	}
	return out, total, err
}

// everyEntryMatches reports whether every entry of the walked index within the time range
// matches q, so that entries can be skipped and counted without reading their values: q has
// at most the one filter the index is keyed by, a time range only on a time-keyed index, and
// no soft-deleted record can be in the way.
func everyEntryMatches(txn *badger.Txn, org string, q enricher.RecordQuery, timeKeyed bool) (bool, error) {
	if q.Success != nil || q.Search != "" || q.MinConfidence != nil || q.BelowConfidence != nil || (!timeKeyed && (q.Since > 0 || q.Until > 0)) {
		return false, nil
	}
	filters := 0
	for _, v := range []string{q.Type, q.Model, q.EntityID, q.JobID, q.SchemaID} {
		if v != "" {
			filters++
		}
	}
	if filters > 1 || (filters == 1 && q.SortBy != "" && q.SortBy != "created_at") {
		return false, nil
	}
	if q.IncludeDeleted {
		return true, nil
	}
	d, err := readCount(txn, keyRecordCount(org, "d:all"))
	return d == 0, err
}

// keyTime reads the creation time (unix ms) at the start of a time-keyed index key suffix.
func keyTime(suffix []byte) int64 {
	if len(suffix) < 16 {
		return 0
	}
	b, err := hex.DecodeString(string(suffix[:16]))
	if err != nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// recordIndexPrefix picks the index to walk; timeKeyed says its keys continue with the
// creation time.
func recordIndexPrefix(org string, q enricher.RecordQuery) ([]byte, bool) {
	base := "rx/" + org + "/"
	switch q.SortBy {
	case "cost_usd":
		return []byte(base + "$/"), false
	case "processing_time_ms":
		return []byte(base + "p/"), false
	}
	for _, f := range []struct{ name, v string }{{"j", q.JobID}, {"e", q.EntityID}, {"s", q.SchemaID}, {"m", q.Model}, {"t", q.Type}} {
		if f.v != "" {
			return []byte(base + f.name + "/" + f.v + "/"), true
		}
	}
	return []byte(base + "c/"), true
}

// recordTotal returns the number of matches from the counters when q filters on at most one
// of type, model or success (and nothing else), or from a key-only count of the job, entity
// or schema index when that is the only filter and deleted records are included.
func recordTotal(txn *badger.Txn, org string, q enricher.RecordQuery) (int, bool, error) {
	if q.Search != "" || q.Since > 0 || q.Until > 0 || q.MinConfidence != nil || q.BelowConfidence != nil {
		return 0, false, nil
	}
	var counted []string
	if q.Type != "" {
		counted = append(counted, "t:"+q.Type)
	}
	if q.Model != "" {
		counted = append(counted, "m:"+q.Model)
	}
	if q.Success != nil {
		counted = append(counted, "s:"+boolName(*q.Success))
	}
	indexed := 0
	for _, v := range []string{q.EntityID, q.JobID, q.SchemaID} {
		if v != "" {
			indexed++
		}
	}
	switch {
	case indexed == 0 && len(counted) <= 1:
		name := "all"
		if len(counted) == 1 {
			name = counted[0]
		}
		n, err := readCount(txn, keyRecordCount(org, "n:"+name))
		if err != nil || q.IncludeDeleted {
			return n, err == nil, err
		}
		d, err := readCount(txn, keyRecordCount(org, "d:"+name))
		return n - d, err == nil, err
	case indexed == 1 && len(counted) == 0 && q.IncludeDeleted:
		prefix, _ := recordIndexPrefix(org, enricher.RecordQuery{EntityID: q.EntityID, JobID: q.JobID, SchemaID: q.SchemaID})
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		n := 0
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			n++
		}
		return n, true, nil
	}
	return 0, false, nil
}

// DeleteRecords soft-deletes (or, with hard, removes) records of org by id, and returns how
// many it deleted and the ids it did not find (unknown or of another organization). Deleting
// a soft-deleted record again counts as deleted.
func (db *DB) DeleteRecords(org string, ids []string, hard bool, now enricher.Time) (int, []string, error) {
	return db.changeRecords(org, ids, func(txn *badger.Txn, t *tally, r *enricher.Record) (bool, error) {
		if hard {
			if err := deleteRecordIndexes(txn, r); err != nil {
				return false, err
			}
			if err := txn.Delete(keyRecordOfJob(r.JobID, r.ID)); err != nil {
				return false, err
			}
			if r.EntityIndex != nil {
				if err := txn.Delete(keyRecordOfEntity(r.JobID, *r.EntityIndex, r.ID)); err != nil {
					return false, err
				}
			}
			if err := txn.Delete(keyRecord(org, r.ID)); err != nil {
				return false, err
			}
			if r.IsDeleted {
				t.count(r, "d", -1)
			} else {
				t.addStats(r, -1)
			}
			t.addCosts(r, -1)
			t.count(r, "n", -1)
			return true, nil
		}
		if r.IsDeleted {
			return true, nil
		}
		r.IsDeleted, r.DeletedAt = true, &now
		t.addStats(r, -1)
		t.count(r, "d", 1)
		return true, nil
	}, !hard)
}

// RestoreRecords brings soft-deleted records back. Hard-deleted and unknown ids are not found.
func (db *DB) RestoreRecords(org string, ids []string) (int, []string, error) {
	return db.changeRecords(org, ids, func(txn *badger.Txn, t *tally, r *enricher.Record) (bool, error) {
		if !r.IsDeleted {
			return true, nil
		}
		r.IsDeleted, r.DeletedAt = false, nil
		t.addStats(r, 1)
		t.count(r, "d", -1)
		return true, nil
	}, true)
}

// changeRecords applies fn to each record of org named in ids, in one transaction; with
// rewrite set it stores the changed record and its index values.
func (db *DB) changeRecords(org string, ids []string, fn func(*badger.Txn, *tally, *enricher.Record) (bool, error), rewrite bool) (int, []string, error) {
	var done int
	var missing []string
	err := db.update(func(txn *badger.Txn) error {
		done, missing = 0, nil
		var t tally
		for _, id := range ids {
			var row recordRow
			err := getJSON(txn, keyRecord(org, id), "record", &row)
			if enricher.IsKind(err, enricher.KindNotFound) {
				missing = append(missing, id)
				continue
			}
			if err != nil {
				return err
			}
			r := row.record()
			r.OrganizationID = org
			ok, err := fn(txn, &t, r)
			if err != nil {
				return err
			}
			if !ok {
				missing = append(missing, id)
				continue
			}
			done++
			if rewrite {
				if err := putRecordRow(txn, r); err != nil {
					return err
				}
				if err := putRecordIndexes(txn, r); err != nil {
					return err
				}
			}
		}
		return t.apply(txn)
	})
	if missing == nil {
		missing = []string{}
	}
	return done, missing, err
}
