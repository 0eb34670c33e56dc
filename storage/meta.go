package storage

import (
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// Secret returns the instance secret stored under name, creating it with generate() on first
// use. Secrets survive restarts because they live in the database.
func (db *DB) Secret(name string, generate func() []byte) ([]byte, error) {
	var out []byte
	err := db.update(func(txn *badger.Txn) error {
		v, ok, err := getRaw(txn, keyMeta(name))
		if err != nil || ok {
			out = v
			return err
		}
		out = generate()
		return txn.Set(keyMeta(name), out)
	})
	return out, err
}

// SaveRefreshToken stores a refresh token under its hash; badger drops it after expiry.
func (db *DB) SaveRefreshToken(hash string, t enricher.RefreshToken, now time.Time) error {
	return db.update(func(txn *badger.Txn) error {
		b, err := jsonBytes(t)
		if err != nil {
			return err
		}
		ttl := t.ExpiresAt.Sub(now)
		if ttl <= 0 {
			return nil
		}
		return txn.SetEntry(badger.NewEntry(keyRefreshToken(hash), b).WithTTL(ttl))
	})
}

// ConsumeRefreshToken deletes the token with hash and returns what it held: each refresh
// token works once. KindNotFound when unknown, used or expired.
func (db *DB) ConsumeRefreshToken(hash string, now time.Time) (*enricher.RefreshToken, error) {
	var t enricher.RefreshToken
	err := db.update(func(txn *badger.Txn) error {
		if err := getJSON(txn, keyRefreshToken(hash), "refresh token", &t); err != nil {
			return err
		}
		if err := txn.Delete(keyRefreshToken(hash)); err != nil {
			return err
		}
		if !now.Before(t.ExpiresAt.Time) {
			return enricher.Errorf(enricher.KindNotFound, "refresh token not found")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// DeleteRefreshToken forgets a refresh token (logout). Unknown tokens are not an error.
func (db *DB) DeleteRefreshToken(hash string) error {
	return db.update(func(txn *badger.Txn) error { return txn.Delete(keyRefreshToken(hash)) })
}
