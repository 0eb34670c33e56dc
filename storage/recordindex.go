package storage

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// A record index value is an indexEntry: the fields GET /api/records filters on, in a compact
// binary form, so a walk decides matches without loading anything else. The RecordSummary a
// page returns is stored once per record under keyRecordSummary. (Values written before this
// format held the whole summary as JSON; they start with '{' and are still read.)
//
// Layout: version byte (1), flags byte (1 deleted, 2 success, 4 min confidence known), uvarint
// creation time (unix ms), then type, model, entity id, job id, schema id and the lower-cased
// entity name, each a uvarint length and its bytes, then, with flag 4, the record's min
// confidence in ten-thousandths as a big-endian uint16. Entries written before min confidence
// existed lack flag 4: their confidence is unknown.
const indexEntryVersion = 1

func keyRecordSummary(org, id string) []byte { return []byte("rs/" + org + "/" + id) }

// indexEntry is the decoded form of a record index value.
type indexEntry struct {
	deleted, success                                 bool
	createdMS                                        int64
	hasConfidence                                    bool
	minConfidence                                    uint16 // ten-thousandths, with hasConfidence
	typ, model, entityID, jobID, schemaID, nameLower string
}

func newIndexEntry(s *enricher.RecordSummary) indexEntry {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return indexEntry{deleted: s.IsDeleted, success: s.Success, createdMS: s.CreatedAt.UnixMilli(), typ: string(s.Type),
		model: deref(s.Model), entityID: deref(s.EntityID), jobID: s.JobID, schemaID: deref(s.SchemaID),
		nameLower: strings.ToLower(deref(s.EntityName)), hasConfidence: s.MinConfidence != nil,
		minConfidence: confidenceUnits(s.MinConfidence)}
}

// confidenceUnits returns a confidence in ten-thousandths (0 for nil), clamped to 0..10000.
func confidenceUnits(c *float64) uint16 {
	if c == nil {
		return 0
	}
	return uint16(math.Round(math.Max(0, math.Min(1, *c)) * 10000))
}

func (e *indexEntry) encode() []byte {
	var flags byte
	if e.deleted {
		flags |= 1
	}
	if e.success {
		flags |= 2
	}
	if e.hasConfidence {
		flags |= 4
	}
	b := make([]byte, 0, 26+len(e.typ)+len(e.model)+len(e.entityID)+len(e.jobID)+len(e.schemaID)+len(e.nameLower))
	b = append(b, indexEntryVersion, flags)
	b = binary.AppendUvarint(b, uint64(max(e.createdMS, 0)))
	for _, s := range []string{e.typ, e.model, e.entityID, e.jobID, e.schemaID, e.nameLower} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if e.hasConfidence {
		b = binary.BigEndian.AppendUint16(b, e.minConfidence)
	}
	return b
}

var errBadIndexEntry = errors.New("storage: malformed record index value")

// decodeIndexEntry reads an index value. For a value of the former format (the summary's
// JSON) it also returns that summary.
func decodeIndexEntry(v []byte) (indexEntry, *enricher.RecordSummary, error) {
	if len(v) > 0 && v[0] == '{' {
		var s enricher.RecordSummary
		if err := decodeValue(v, &s); err != nil {
			return indexEntry{}, nil, err
		}
		return newIndexEntry(&s), &s, nil
	}
	if len(v) < 3 || v[0] != indexEntryVersion {
		return indexEntry{}, nil, errBadIndexEntry
	}
	e := indexEntry{deleted: v[1]&1 != 0, success: v[1]&2 != 0, hasConfidence: v[1]&4 != 0}
	created, n := binary.Uvarint(v[2:])
	if n <= 0 {
		return indexEntry{}, nil, errBadIndexEntry
	}
	e.createdMS, v = int64(created), v[2+n:]
	for _, dst := range []*string{&e.typ, &e.model, &e.entityID, &e.jobID, &e.schemaID, &e.nameLower} {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return indexEntry{}, nil, errBadIndexEntry
		}
		*dst, v = string(v[n:n+int(l)]), v[n+int(l):]
	}
	if e.hasConfidence {
		if len(v) < 2 {
			return indexEntry{}, nil, errBadIndexEntry
		}
		e.minConfidence = binary.BigEndian.Uint16(v)
	}
	return e, nil, nil
}

// matches reports whether the record the entry describes passes every filter of q.
func (e *indexEntry) matches(q enricher.RecordQuery) bool {
	switch {
	case e.deleted && !q.IncludeDeleted,
		q.Type != "" && e.typ != q.Type,
		q.Success != nil && e.success != *q.Success,
		q.Model != "" && e.model != q.Model,
		q.EntityID != "" && e.entityID != q.EntityID,
		q.JobID != "" && e.jobID != q.JobID,
		q.SchemaID != "" && e.schemaID != q.SchemaID,
		q.Since > 0 && e.createdMS < q.Since,
		q.Until > 0 && e.createdMS >= q.Until,
		q.Search != "" && !strings.Contains(e.nameLower, q.Search),
		q.MinConfidence != nil && (!e.hasConfidence || e.minConfidence < confidenceUnits(q.MinConfidence)),
		q.BelowConfidence != nil && (!e.hasConfidence || e.minConfidence >= confidenceUnits(q.BelowConfidence)):
		return false
	}
	return true
}

// putRecordIndexes writes r's summary and its index entries.
func putRecordIndexes(txn *badger.Txn, r *enricher.Record) error {
	sum := r.Summary()
	if err := putEncoded(txn, keyRecordSummary(r.OrganizationID, r.ID), func(dst []byte) ([]byte, error) {
		return enricher.AppendRecordSummary(dst, &sum)
	}); err != nil {
		return err
	}
	entry := newIndexEntry(&sum)
	v := entry.encode()
	for _, k := range recordIndexKeys(r) {
		if err := txn.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// deleteRecordIndexes removes r's summary and index entries.
func deleteRecordIndexes(txn *badger.Txn, r *enricher.Record) error {
	for _, k := range append(recordIndexKeys(r), keyRecordSummary(r.OrganizationID, r.ID)) {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// pageEntry is one record of a result page: its id, and its summary when the index value
// already held it (former format).
type pageEntry struct {
	id  string
	sum *enricher.RecordSummary
}

// loadSummaries returns the summaries of a page, in order.
func loadSummaries(txn *badger.Txn, org string, page []pageEntry) ([]enricher.RecordSummary, error) {
	out := make([]enricher.RecordSummary, len(page))
	for i, p := range page {
		if p.sum != nil {
			out[i] = *p.sum
			continue
		}
		if err := getJSON(txn, keyRecordSummary(org, p.id), "record", &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// idOfIndexKey returns the record id that ends an index key.
func idOfIndexKey(key []byte) string {
	return string(key[strings.LastIndexByte(string(key), '/')+1:])
}
