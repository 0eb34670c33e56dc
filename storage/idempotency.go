package storage

import (
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

func keyIdempotency(org, key string) []byte { return []byte("ik/" + org + "/" + key) }

// Idempotency returns the start remembered under key for org, or KindNotFound.
func (db *DB) Idempotency(org, key string) (*enricher.IdempotentStart, error) {
	var v enricher.IdempotentStart
	if err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyIdempotency(org, key), "idempotency key", &v) }); err != nil {
		return nil, err
	}
	return &v, nil
}

// SaveIdempotency remembers a successful start for ttl.
func (db *DB) SaveIdempotency(org, key string, v *enricher.IdempotentStart, ttl time.Duration) error {
	b, err := jsonBytes(v)
	if err != nil {
		return err
	}
	return db.update(func(txn *badger.Txn) error {
		return txn.SetEntry(badger.NewEntry(keyIdempotency(org, key), b).WithTTL(ttl))
	})
}
