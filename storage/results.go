package storage

import (
	"encoding/binary"

	"github.com/dgraph-io/badger/v4"
)

// Results export key family (the marks are written with each entity's end, see Batch):
//
//	bd/<job>/<index BE4>   value: seq BE8 of the entity's entity_completed event; empty when
//	                       the entity ended without one (cancelled with its batch) or the mark
//	                       was written before marks carried a seq

// markValue encodes a mark's value: the seq of its event, or nothing.
func markValue(m EntityMark) []byte {
	if m.Seq <= 0 {
		return nil
	}
	return binary.BigEndian.AppendUint64(nil, uint64(m.Seq))
}

// EntityEnd is one ended entity of a batch as the results export reads it.
type EntityEnd struct {
	Index int
	Seq   int64  // seq of its entity_completed event; 0 when it ended without one
	Event []byte // that event's stored JSON; nil when Seq is 0 or the event is gone
}

// entityEndsWindow bounds one read of EntityEnds: at most this many entities, and about
// entityEndsWindowBytes of events.
const (
	entityEndsWindow      = 256
	entityEndsWindowBytes = 1 << 20
)

// EntityEnds calls fn with each ended entity of batch job, in index order. It reads marks and
// their events in windows (entityEndsWindow entities, about entityEndsWindowBytes), each in its
// own short read transaction, and calls fn outside any transaction: a slow fn (a client
// downloading an export) holds neither a transaction nor more than one window in memory.
// Entities ending while it runs are listed when their index is ahead of the current window.
// fn's error stops the iteration and is returned.
func (db *DB) EntityEnds(job string, fn func(EntityEnd) error) error {
	prefix := []byte("bd/" + job + "/")
	next := 0
	var window []EntityEnd
	for {
		window = window[:0]
		err := db.view(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			size := 0
			for it.Seek(keyEntityDone(job, next)); it.ValidForPrefix(prefix); it.Next() {
				if len(window) >= entityEndsWindow || size >= entityEndsWindowBytes {
					return nil
				}
				item := it.Item()
				e := EntityEnd{Index: int(binary.BigEndian.Uint32(item.Key()[len(prefix):]))}
				if err := readValue(item, func(v []byte) error {
					if len(v) == 8 {
						e.Seq = int64(binary.BigEndian.Uint64(v))
					}
					return nil
				}); err != nil {
					return err
				}
				if e.Seq > 0 {
					ev, err := txn.Get(keyEvent(job, e.Seq))
					switch {
					case err == badger.ErrKeyNotFound:
					case err != nil:
						return err
					default:
						if e.Event, err = copyValue(ev); err != nil {
							return err
						}
					}
				}
				size += len(e.Event)
				window = append(window, e)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range window {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(window) == 0 {
			return nil
		}
		next = window[len(window)-1].Index + 1
	}
}
