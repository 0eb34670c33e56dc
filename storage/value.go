package storage

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"
)

// Stored values of compressMin bytes or more (records, most job specs, the snapshots of ended
// jobs, large events, entity blocks) are written s2-compressed when that saves at least an
// eighth, and their entry carries the user-meta
// bit metaS2 (badger keeps it beside the value). A value without the bit is stored as is:
// small values, values that do not compress, and every value written before compression
// (data directories from earlier versions read unchanged). An older binary cannot read a
// compressed value: downgrading needs a store written without it.
//
// s2 (github.com/klauspost/compress, already a dependency of badger) compresses a 3 KB record
// to ~1.8 KB in ~3 µs and decompresses faster still. Below 1 KB a call costs more than it
// saves (each starts a fresh match table): small events, summaries and running jobs'
// snapshots stay plain.
const (
	metaS2      byte = 1 << 0
	compressMin      = 1024
)

// setValue stores v at key, compressed when it is large enough and compresses well. txn keeps
// v until it commits: the caller must not reuse it.
func setValue(txn *badger.Txn, key, v []byte) error {
	return txn.SetEntry(valueEntry(key, v))
}

// valueEntry is the entry setValue writes (WriteBatch callers use it directly).
func valueEntry(key, v []byte) *badger.Entry {
	if len(v) < compressMin {
		return badger.NewEntry(key, v)
	}
	bp := compressBufs.Get().(*[]byte)
	defer putScratch(&compressBufs, bp)
	if n := s2.MaxEncodedLen(len(v)); cap(*bp) < n {
		*bp = make([]byte, n)
	}
	c := s2.Encode((*bp)[:cap(*bp)], v)
	if len(c) > len(v)-len(v)/8 {
		return badger.NewEntry(key, v)
	}
	return badger.NewEntry(key, bytes.Clone(c)).WithMeta(metaS2)
}

// putEncoded stores at key the value appendTo appends (an encoder such as enricher.AppendJob),
// as setValue does. It encodes into a pooled scratch buffer and stores an exact copy (or the
// compressed one), so no value's size has to be guessed ahead. An encoding error names the key.
func putEncoded(txn *badger.Txn, key []byte, appendTo func(dst []byte) ([]byte, error)) error {
	bp := encodeBufs.Get().(*[]byte)
	defer putScratch(&encodeBufs, bp)
	b, err := appendTo((*bp)[:0])
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	*bp = b[:0] // keep what it grew to
	e := valueEntry(key, b)
	if e.UserMeta&metaS2 == 0 {
		e.Value = bytes.Clone(b) // b is the scratch buffer
	}
	return txn.SetEntry(e)
}

// Scratch buffers: encodeBufs for the values putEncoded encodes, compressBufs for s2.Encode,
// which needs its worst case of room. Stored values are exact copies, so no value pins or
// zeroes a scratch buffer; a buffer grown past maxPooledScratch (for one large value) is
// dropped, not kept.
var (
	encodeBufs   = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
	compressBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}
)

const maxPooledScratch = 256 << 10

// putScratch gives bp back to pool unless it grew past maxPooledScratch.
func putScratch(pool *sync.Pool, bp *[]byte) {
	if cap(*bp) <= maxPooledScratch {
		pool.Put(bp)
	}
}

// readValue calls fn with item's value as it was given to setValue. Like badger's Item.Value,
// the slice is only valid during fn.
func readValue(item *badger.Item, fn func(v []byte) error) error {
	if item.UserMeta()&metaS2 == 0 {
		return item.Value(fn)
	}
	return item.Value(func(c []byte) error {
		v, err := s2.Decode(nil, c)
		if err != nil {
			return fmt.Errorf("storage: decompress the value of %q: %w", item.Key(), err)
		}
		return fn(v)
	})
}

// copyValue returns a copy of item's value as it was given to setValue.
func copyValue(item *badger.Item) ([]byte, error) {
	if item.UserMeta()&metaS2 == 0 {
		return item.ValueCopy(nil)
	}
	var out []byte
	err := readValue(item, func(v []byte) error {
		out = v // s2.Decode allocated it for this call
		return nil
	})
	return out, err
}
