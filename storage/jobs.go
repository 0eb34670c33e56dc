package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Job, event and record key families:
//
//	j/<org>/<job>                   Job snapshot
//	jl/<org>/<inv created ms BE8>/<job>   list index, newest first (empty value)
//	ja/<job>                        org of every non-terminal job (recovery)
//	jf/<finished ms BE8>/<job>      org of every finished job, oldest first (purge.go)
//	e/<job>/<seq BE8>               one event, the JSON sent on the wire
//	r/<org>/<record>                Record
//	rj/<job>/<record>               records of a job (empty value)
//	rb/<job>/<entity BE4>/<record>  records of a batch entity (empty value; recovery)
//	bd/<job>/<entity BE4>           batch entity ended (empty value; recovery)
//	bs/<job>/<entity BE4>           batch entity started and not ended (empty value; recovery)
func keyJob(org, id string) []byte  { return []byte("j/" + org + "/" + id) }
func keyJobActive(id string) []byte { return []byte("ja/" + id) }
func keyJobList(org string, createdMS int64, id string) []byte {
	k := []byte("jl/" + org + "/")
	k = binary.BigEndian.AppendUint64(k, math.MaxUint64-uint64(createdMS))
	return append(append(k, '/'), id...)
}
func prefixJobList(org string) []byte { return []byte("jl/" + org + "/") }
func keyEvent(job string, seq int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("e/"+job+"/"), uint64(seq))
}
func prefixEvents(job string) []byte       { return []byte("e/" + job + "/") }
func keyRecord(org, id string) []byte      { return []byte("r/" + org + "/" + id) }
func keyRecordOfJob(job, id string) []byte { return []byte("rj/" + job + "/" + id) }
func prefixRecordsOfJob(job string) []byte { return []byte("rj/" + job + "/") }
func keyRecordOfEntity(job string, index int, id string) []byte {
	k := binary.BigEndian.AppendUint32([]byte("rb/"+job+"/"), uint32(index))
	return append(append(k, '/'), id...)
}

// EventEntry is one encoded event of a job.
type EventEntry struct {
	JobID string
	Seq   int64
	Data  []byte
}

// Batch is a group of writes committed together: job snapshots, their events and the records
// those events name. Records are written before (in the same transaction as) the events that
// mention them, which is how a record id never appears in an event before the record exists.
type Batch struct {
	Jobs     []*enricher.Job
	Events   []EventEntry
	Records  []*enricher.Record
	Finished []EntityMark // batch entities that ended
	Started  []EntityMark // batch entities that started (their entity_started is in Events)
	// Webhooks are deliveries of the events in this batch (webhooks.go): stored with their
	// event, so a job that ended always has its callbacks pending.
	Webhooks []*enricher.WebhookDelivery
}

// EntityMark records that entity Index of batch JobID ended (recovery skips it). Seq is the
// seq of its entity_completed event, 0 when it ended without one (cancelled with its batch);
// the results export reads the entity's outcome through it (results.go).
type EntityMark struct {
	JobID string
	Index int
	Seq   int64
}

func keyEntityDone(job string, index int) []byte {
	return binary.BigEndian.AppendUint32([]byte("bd/"+job+"/"), uint32(index))
}

func keyEntityStarted(job string, index int) []byte {
	return binary.BigEndian.AppendUint32([]byte("bs/"+job+"/"), uint32(index))
}

// putEntityMarksTxn writes the started and ended marks of b; an ended entity's started mark
// goes, so started marks name only the entities in flight.
func putEntityMarksTxn(txn *badger.Txn, b *Batch) error {
	for _, m := range b.Started {
		if err := txn.Set(keyEntityStarted(m.JobID, m.Index), nil); err != nil {
			return err
		}
	}
	for _, m := range b.Finished {
		if err := txn.Set(keyEntityDone(m.JobID, m.Index), markValue(m)); err != nil {
			return err
		}
		if err := txn.Delete(keyEntityStarted(m.JobID, m.Index)); err != nil {
			return err
		}
	}
	return nil
}

// StartedEntities returns the indices of the entities of batch job that started and did not
// end (recovery: they do not announce their start again).
func (db *DB) StartedEntities(job string) ([]int, error) {
	var out []int
	err := db.view(func(txn *badger.Txn) error {
		prefix := []byte("bs/" + job + "/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			out = append(out, int(binary.BigEndian.Uint32(it.Item().Key()[len(prefix):])))
		}
		return nil
	})
	return out, err
}

// FinishedEntities returns the indices of the entities of batch job that ended.
func (db *DB) FinishedEntities(job string) ([]int, error) {
	var out []int
	err := db.view(func(txn *badger.Txn) error {
		prefix := []byte("bd/" + job + "/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			out = append(out, int(binary.BigEndian.Uint32(it.Item().Key()[len(prefix):])))
		}
		return nil
	})
	return out, err
}

// Empty reports whether b holds nothing.
func (b *Batch) Empty() bool {
	return len(b.Jobs) == 0 && len(b.Events) == 0 && len(b.Records) == 0 && len(b.Finished) == 0 && len(b.Started) == 0 &&
		len(b.Webhooks) == 0
}

// Commit writes b atomically. A batch too large for one badger transaction is written in
// several, records first, then events, then job snapshots, so readers never see an event
// before its records nor a snapshot ahead of its events. While space is low it writes nothing
// and fails with KindInsufficientStorage (checked once: a split batch is written whole).
func (db *DB) Commit(b *Batch) error {
	if db.LowSpace() {
		return errLowSpace()
	}
	err := db.write(func(txn *badger.Txn) error { return writeBatch(txn, b) })
	if !errors.Is(err, badger.ErrTxnTooBig) && !errorsIsTooBig(err) {
		return err
	}
	for _, r := range b.Records {
		if err := db.write(func(txn *badger.Txn) error {
			var t tally
			if err := putRecordTxn(txn, &t, r); err != nil {
				return err
			}
			return t.apply(txn)
		}); err != nil {
			return err
		}
	}
	for _, e := range b.Events {
		if err := db.write(func(txn *badger.Txn) error { return setValue(txn, keyEvent(e.JobID, e.Seq), e.Data) }); err != nil {
			return err
		}
	}
	if err := db.write(func(txn *badger.Txn) error { return putEntityMarksTxn(txn, b) }); err != nil {
		return err
	}
	for _, d := range b.Webhooks {
		if err := db.update(func(txn *badger.Txn) error { return putWebhookTxn(txn, d, nil) }); err != nil {
			return err
		}
	}
	for _, j := range b.Jobs {
		if err := db.write(func(txn *badger.Txn) error { return putJobTxn(txn, j) }); err != nil {
			return err
		}
	}
	return nil
}

func errorsIsTooBig(err error) bool {
	var de *enricher.Error
	return errors.As(err, &de) && errors.Is(de.Err, badger.ErrTxnTooBig)
}

func writeBatch(txn *badger.Txn, b *Batch) error {
	var t tally
	for _, r := range b.Records {
		if err := putRecordTxn(txn, &t, r); err != nil {
			return err
		}
	}
	if err := t.apply(txn); err != nil {
		return err
	}
	for _, e := range b.Events {
		if err := setValue(txn, keyEvent(e.JobID, e.Seq), e.Data); err != nil {
			return err
		}
	}
	if err := putEntityMarksTxn(txn, b); err != nil {
		return err
	}
	for _, d := range b.Webhooks {
		if err := putWebhookTxn(txn, d, nil); err != nil {
			return err
		}
	}
	for _, j := range b.Jobs {
		if err := putJobTxn(txn, j); err != nil {
			return err
		}
	}
	return nil
}

func keyJobSpec(org, id string) []byte { return []byte("js/" + org + "/" + id) }

// putJobTxn writes a job snapshot; the spec is stored once, by CreateJob, under its own key,
// so the snapshots written with every event stay small. The job's list and active entries
// are CreateJob's (they do not change while the job runs); the snapshot of a job's end
// deletes its active entry (an ended job never runs again) and writes its finished entry
// (PurgeJobs finds old jobs through it).
//
// The snapshot is encoded by enricher.AppendJob: the bytes encoding/json (and go-json, the
// reader) write for it, without reflection.
func putJobTxn(txn *badger.Txn, j *enricher.Job) error {
	snap := *j
	snap.Spec = nil
	if err := putEncoded(txn, keyJob(j.OrganizationID, j.ID), func(dst []byte) ([]byte, error) {
		return enricher.AppendJob(dst, &snap)
	}); err != nil {
		return err
	}
	if j.Status.Terminal() {
		if j.FinishedAt != nil {
			if err := txn.Set(keyJobFinished(j.FinishedAt.UnixMilli(), j.ID), []byte(j.OrganizationID)); err != nil {
				return err
			}
		}
		return txn.Delete(keyJobActive(j.ID))
	}
	return nil
}

// createJobTxn writes a new job: its spec, its snapshot, and its list and active entries.
func createJobTxn(txn *badger.Txn, j *enricher.Job) error {
	if err := setValue(txn, keyJobSpec(j.OrganizationID, j.ID), j.Spec); err != nil {
		return err
	}
	if err := putJobTxn(txn, j); err != nil {
		return err
	}
	if err := txn.Set(keyJobList(j.OrganizationID, j.CreatedAt.UnixMilli(), j.ID), nil); err != nil {
		return err
	}
	if j.Status.Terminal() {
		return nil
	}
	return txn.Set(keyJobActive(j.ID), []byte(j.OrganizationID))
}

// recordRow is the stored form of a record: the record's JSON, its organization, and its
// entity's _expected object (kept for the model report, never part of the record's JSON).
type recordRow struct {
	enricher.Record
	Org      string          `json:"org"`
	Expected json.RawMessage `json:"expected,omitempty"`
}

func newRecordRow(r *enricher.Record) *recordRow {
	return &recordRow{Record: *r, Org: r.OrganizationID, Expected: r.Expected}
}

// putRecordRow stores r's recordRow under its key. The row is encoded without reflection: the
// record's JSON (enricher.AppendRecord) with the row's own fields after the record's, where
// encoding/json and go-json put the fields of the outer struct: the very bytes
// gojson.Marshal(newRecordRow(r)) writes (TestStoredValuesMatchGoJSON).
func putRecordRow(txn *badger.Txn, r *enricher.Record) error {
	return putEncoded(txn, keyRecord(r.OrganizationID, r.ID), func(dst []byte) ([]byte, error) { return appendRecordRow(dst, r) })
}

// appendRecordRow appends the JSON of newRecordRow(r); on error dst is returned unchanged.
func appendRecordRow(dst []byte, r *enricher.Record) ([]byte, error) {
	mark := len(dst)
	dst, err := enricher.AppendRecord(dst, r)
	if err != nil {
		return dst, err
	}
	dst = append(dst[:len(dst)-1], `,"org":`...) // over the record's closing brace
	if dst, err = enricher.AppendJSON(dst, r.OrganizationID); err != nil {
		return dst[:mark], err
	}
	if len(r.Expected) > 0 { // omitempty
		dst = append(dst, `,"expected":`...)
		if dst, err = enricher.AppendJSON(dst, r.Expected); err != nil {
			return dst[:mark], err
		}
	}
	return append(dst, '}'), nil
}

// record returns the record the row holds.
func (row *recordRow) record() *enricher.Record {
	rec := row.Record
	rec.OrganizationID, rec.Expected = row.Org, row.Expected
	return &rec
}

// CreateJob stores a new job (pending). Its id is returned to the client only after this.
// With bind, the job's Idempotency-Key is remembered in the same transaction, so a stored job
// is never without its key nor a key without its job. A key already bound is KindConflict.
func (db *DB) CreateJob(j *enricher.Job, bind *enricher.IdempotencyBinding) error {
	var start []byte
	if bind != nil {
		s, err := bind.Start(j.ID)
		if err != nil {
			return err
		}
		if start, err = jsonBytes(s); err != nil {
			return err
		}
	}
	return db.update(func(txn *badger.Txn) error {
		if bind != nil {
			if err := bindIdempotencyTxn(txn, j, bind, start); err != nil {
				return err
			}
		}
		return createJobTxn(txn, j)
	})
}

// JobWithSpec returns job id of org with its spec (recovery, idempotent replays).
func (db *DB) JobWithSpec(org, id string) (*enricher.Job, error) {
	var j enricher.Job
	err := db.view(func(txn *badger.Txn) error {
		if err := getJSON(txn, keyJob(org, id), "job", &j); err != nil {
			return err
		}
		spec, _, err := getRaw(txn, keyJobSpec(org, id))
		j.Spec = spec
		return err
	})
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// Job returns job id of org.
func (db *DB) Job(org, id string) (*enricher.Job, error) {
	var j enricher.Job
	if err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyJob(org, id), "job", &j) }); err != nil {
		return nil, err
	}
	return &j, nil
}

// ActiveJobs returns every non-terminal job with its spec (recovery at start).
func (db *DB) ActiveJobs() ([]*enricher.Job, error) {
	var out []*enricher.Job
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("ja/")})
		defer it.Close()
		var refs [][2]string
		for it.Seek([]byte("ja/")); it.ValidForPrefix([]byte("ja/")); it.Next() {
			org, err := copyValue(it.Item())
			if err != nil {
				return err
			}
			refs = append(refs, [2]string{string(org), string(it.Item().Key()[3:])})
		}
		for _, r := range refs {
			var j enricher.Job
			if err := getJSON(txn, keyJob(r[0], r[1]), "job", &j); err != nil {
				return err
			}
			spec, _, err := getRaw(txn, keyJobSpec(r[0], r[1]))
			if err != nil {
				return err
			}
			j.Spec = spec
			out = append(out, &j)
		}
		return nil
	})
	return out, err
}

// Jobs returns the jobs of org, newest first, passing each to keep; it stops after limit
// kept jobs when limit > 0.
func (db *DB) Jobs(org string, keep func(*enricher.Job) bool) ([]*enricher.Job, error) {
	var out []*enricher.Job
	err := db.view(func(txn *badger.Txn) error {
		prefix := prefixJobList(org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var ids []string
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			k := it.Item().Key()
			ids = append(ids, string(k[len(prefix)+9:]))
		}
		for _, id := range ids {
			var j enricher.Job
			err := getJSON(txn, keyJob(org, id), "job", &j)
			if enricher.IsKind(err, enricher.KindNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if keep(&j) {
				out = append(out, &j)
			}
		}
		return nil
	})
	return out, err
}

// Events calls fn with each stored event of job with after < seq <= upTo (upTo 0: no bound),
// in order. The data slice is valid only during the call.
func (db *DB) Events(job string, after, upTo int64, fn func(seq int64, data []byte) error) error {
	return db.view(func(txn *badger.Txn) error {
		prefix := prefixEvents(job)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(keyEvent(job, after+1)); it.ValidForPrefix(prefix); it.Next() {
			seq := int64(binary.BigEndian.Uint64(it.Item().Key()[len(prefix):]))
			if upTo > 0 && seq > upTo {
				return nil
			}
			if err := readValue(it.Item(), func(v []byte) error { return fn(seq, v) }); err != nil {
				return err
			}
		}
		return nil
	})
}

// Record returns record id of org.
func (db *DB) Record(org, id string) (*enricher.Record, error) {
	var r recordRow
	if err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyRecord(org, id), "record", &r) }); err != nil {
		return nil, err
	}
	return r.record(), nil
}

// RecordsOfOpenEntities returns the records of the entities of batch job that have not ended
// (recovery: an entity that was in flight reuses the runs it stored). Records of ended
// entities are skipped by key, without being read, so the cost follows the entities in
// flight, not the size of the batch.
func (db *DB) RecordsOfOpenEntities(org, job string) ([]*enricher.Record, error) {
	var out []*enricher.Record
	err := db.view(func(txn *badger.Txn) error {
		prefix := []byte("rb/" + job + "/")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var ids []string
		ended := map[int]bool{}
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			rest := it.Item().Key()[len(prefix):]
			if len(rest) < 6 {
				continue
			}
			idx := int(binary.BigEndian.Uint32(rest))
			done, seen := ended[idx]
			if !seen {
				var err error
				if done, err = exists(txn, keyEntityDone(job, idx)); err != nil {
					return err
				}
				ended[idx] = done
			}
			if !done {
				ids = append(ids, string(rest[5:]))
			}
		}
		var err error
		out, err = readRecords(txn, org, ids)
		return err
	})
	return out, err
}

// readRecords reads the records of org with the given ids, in that order.
func readRecords(txn *badger.Txn, org string, ids []string) ([]*enricher.Record, error) {
	out := make([]*enricher.Record, 0, len(ids))
	for _, id := range ids {
		var r recordRow
		if err := getJSON(txn, keyRecord(org, id), "record", &r); err != nil {
			return nil, err
		}
		out = append(out, r.record())
	}
	return out, nil
}

// RecordsOfJob returns every record written by job (recovery).
func (db *DB) RecordsOfJob(org, job string) ([]*enricher.Record, error) {
	var out []*enricher.Record
	err := db.view(func(txn *badger.Txn) error {
		prefix := prefixRecordsOfJob(job)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var ids []string
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			ids = append(ids, string(it.Item().Key()[len(prefix):]))
		}
		var err error
		out, err = readRecords(txn, org, ids)
		return err
	})
	return out, err
}

// recordWindow is how many records EachRecordOfJob reads per read transaction.
const recordWindow = 512

// EachRecordOfJob calls fn with every record job wrote, in key order, reading them in windows
// of a few hundred per read transaction so that memory does not grow with the job (the model
// report streams a batch of any size through it). Records written while it runs may or may
// not be seen. fn's error stops the walk and is returned; fn may keep the records.
func (db *DB) EachRecordOfJob(org, job string, fn func(*enricher.Record) error) error {
	prefix := prefixRecordsOfJob(job)
	seek := prefix
	for {
		var batch []*enricher.Record
		err := db.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			var ids []string
			for it.Seek(seek); it.ValidForPrefix(prefix) && len(ids) < recordWindow; it.Next() {
				k := it.Item().Key()
				if bytes.Equal(k, seek) {
					continue
				}
				ids = append(ids, string(k[len(prefix):]))
			}
			for _, id := range ids {
				var r recordRow
				err := getJSON(txn, keyRecord(org, id), "record", &r)
				if enricher.IsKind(err, enricher.KindNotFound) {
					continue // hard-deleted since
				}
				if err != nil {
					return err
				}
				batch = append(batch, r.record())
			}
			if len(ids) < recordWindow {
				seek = nil // the last window
			} else {
				seek = append(append([]byte{}, prefix...), ids[len(ids)-1]...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := fn(r); err != nil {
				return err
			}
		}
		if seek == nil {
			return nil
		}
	}
}
