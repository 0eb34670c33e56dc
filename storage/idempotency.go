package storage

import (
	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// ik/<org>/<key>   a remembered job start, written with its job by CreateJob; it
// expires after the binding's TTL.
func keyIdempotency(org, key string) []byte { return []byte("ik/" + org + "/" + key) }

// Idempotency returns the start remembered under key for org, or KindNotFound.
func (db *DB) Idempotency(org, key string) (*enricher.IdempotentStart, error) {
	var v enricher.IdempotentStart
	if err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyIdempotency(org, key), "idempotency key", &v) }); err != nil {
		return nil, err
	}
	return &v, nil
}

// bindIdempotencyTxn remembers the start of job under bind's key, in the transaction that
// stores the job. A key already bound is KindConflict (a concurrent start took it first).
func bindIdempotencyTxn(txn *badger.Txn, j *enricher.Job, bind *enricher.IdempotencyBinding, start []byte) error {
	key := keyIdempotency(j.OrganizationID, bind.Key)
	if ok, err := exists(txn, key); err != nil {
		return err
	} else if ok {
		return enricher.Errorf(enricher.KindConflict, "Idempotency-Key is in use by another request; retry")
	}
	e := badger.NewEntry(key, start)
	if bind.TTL > 0 {
		e = e.WithTTL(bind.TTL)
	}
	return txn.SetEntry(e)
}
