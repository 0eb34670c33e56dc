package storage

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Webhook key families:
//
//	wh/<org>/<job>/<seq BE8>        WebhookDelivery of one event of a job (stored form: with
//	                                organization and body)
//	wq/<due unix ms BE8>/<wh key>   due index of pending deliveries (value: the wh key)
//	ws/<org>                        WebhookSecret of an organization (sealed key)
//
// A delivery is written in the same batch as the event it reports (Batch.Webhooks), so a
// stored terminal event always has its delivery. Only the delivery worker changes it after.
func keyWebhook(org, job string, seq int64) []byte {
	return binary.BigEndian.AppendUint64([]byte("wh/"+org+"/"+job+"/"), uint64(seq))
}
func prefixWebhooksOfJob(org, job string) []byte { return []byte("wh/" + org + "/" + job + "/") }
func keyWebhookDue(due time.Time, primary []byte) []byte {
	k := binary.BigEndian.AppendUint64([]byte("wq/"), uint64(max(due.UnixMilli(), 0)))
	return append(append(k, '/'), primary...)
}
func keyWebhookSecret(org string) []byte { return []byte("ws/" + org) }

var prefixWebhookDue = []byte("wq/")

// putWebhookTxn writes d and, while it is pending, its due-index entry. prev is the stored
// version it replaces (nil for a new delivery): its index entry is removed.
func putWebhookTxn(txn *badger.Txn, d, prev *enricher.WebhookDelivery) error {
	primary := keyWebhook(d.OrganizationID, d.JobID, d.EventSeq)
	if prev != nil && prev.NextAttemptAt != nil {
		if err := txn.Delete(keyWebhookDue(prev.NextAttemptAt.Time, primary)); err != nil {
			return err
		}
	}
	b, err := d.MarshalStored()
	if err != nil {
		return err
	}
	if err := setValue(txn, primary, b); err != nil {
		return err
	}
	if d.Status == enricher.WebhookPending && d.NextAttemptAt != nil {
		return txn.Set(keyWebhookDue(d.NextAttemptAt.Time, primary), primary)
	}
	return nil
}

func getWebhookTxn(txn *badger.Txn, key []byte) (*enricher.WebhookDelivery, error) {
	v, ok, err := getRaw(txn, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, enricher.Errorf(enricher.KindNotFound, "webhook delivery not found")
	}
	return enricher.UnmarshalStoredWebhook(v)
}

// UpdateWebhook stores d (after an attempt) in place of its stored version and moves its
// entry in the due index; a delivery that ended leaves the index. KindNotFound when d was
// never stored.
func (db *DB) UpdateWebhook(d *enricher.WebhookDelivery) error {
	return db.update(func(txn *badger.Txn) error {
		prev, err := getWebhookTxn(txn, keyWebhook(d.OrganizationID, d.JobID, d.EventSeq))
		if err != nil {
			return err
		}
		return putWebhookTxn(txn, d, prev)
	})
}

// DueWebhooks returns at most limit pending deliveries due at or before now, earliest first.
// It reads one page of the due index, so memory stays bounded by limit.
func (db *DB) DueWebhooks(now time.Time, limit int) ([]*enricher.WebhookDelivery, error) {
	var out []*enricher.WebhookDelivery
	end := uint64(max(now.UnixMilli(), 0))
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixWebhookDue})
		defer it.Close()
		for it.Seek(prefixWebhookDue); it.ValidForPrefix(prefixWebhookDue) && len(out) < limit; it.Next() {
			k := it.Item().Key()
			if binary.BigEndian.Uint64(k[len(prefixWebhookDue):]) > end {
				break
			}
			primary, err := copyValue(it.Item())
			if err != nil {
				return err
			}
			d, err := getWebhookTxn(txn, primary)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// NextWebhookDue returns when the earliest pending delivery due after after (to the
// millisecond) is due; false when none is.
func (db *DB) NextWebhookDue(after time.Time) (time.Time, bool, error) {
	var due time.Time
	var ok bool
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixWebhookDue})
		defer it.Close()
		it.Seek(binary.BigEndian.AppendUint64(slices.Clone(prefixWebhookDue), uint64(max(after.UnixMilli()+1, 0))))
		if it.ValidForPrefix(prefixWebhookDue) {
			k := it.Item().Key()
			due, ok = time.UnixMilli(int64(binary.BigEndian.Uint64(k[len(prefixWebhookDue):]))), true
		}
		return nil
	})
	return due, ok, err
}

// WebhookDeliveries returns the deliveries of job of org in event order (empty when none).
func (db *DB) WebhookDeliveries(org, job string) ([]*enricher.WebhookDelivery, error) {
	out := []*enricher.WebhookDelivery{}
	err := db.view(func(txn *badger.Txn) error {
		prefix := prefixWebhooksOfJob(org, job)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 32, Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			v, err := copyValue(it.Item())
			if err != nil {
				return err
			}
			d, err := enricher.UnmarshalStoredWebhook(v)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// SetWebhookSecret stores (or replaces) the signing secret of org.
func (db *DB) SetWebhookSecret(org string, s *enricher.WebhookSecret) error {
	return db.update(func(txn *badger.Txn) error { return putJSON(txn, keyWebhookSecret(org), s) })
}

// WebhookSecret returns the signing secret of org; KindNotFound when it has none.
func (db *DB) WebhookSecret(org string) (*enricher.WebhookSecret, error) {
	var s enricher.WebhookSecret
	err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyWebhookSecret(org), "webhook secret", &s) })
	if err != nil {
		return nil, err
	}
	return &s, nil
}
