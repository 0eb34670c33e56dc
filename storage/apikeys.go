package storage

import (
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// apiKeyRow is the stored form of an API key: public fields plus organization and hash.
type apiKeyRow struct {
	enricher.APIKey
	Org  string `json:"org"`
	Hash string `json:"hash"`
}

func (r *apiKeyRow) key() *enricher.APIKey {
	k := r.APIKey
	k.OrganizationID, k.Hash = r.Org, r.Hash
	return &k
}

// CreateAPIKey stores a new key. k.Hash must be the hex SHA-256 of the full key and
// k.OrganizationID its organization. A key with role admin marks the instance as having an
// admin.
func (db *DB) CreateAPIKey(k *enricher.APIKey) error {
	return db.update(func(txn *badger.Txn) error {
		if taken, err := exists(txn, keyAPIKeyHash(k.Hash)); err != nil {
			return err
		} else if taken {
			return enricher.Errorf(enricher.KindConflict, "API key already exists")
		}
		return putKeyTxn(txn, k, true)
	})
}

func putKeyTxn(txn *badger.Txn, k *enricher.APIKey, index bool) error {
	if err := putJSON(txn, keyAPIKey(k.OrganizationID, k.ID), &apiKeyRow{APIKey: *k, Org: k.OrganizationID, Hash: k.Hash}); err != nil {
		return err
	}
	if k.Role != nil && *k.Role == enricher.RoleAdmin {
		if err := txn.Set(keyMeta(metaAdmin), []byte("1")); err != nil {
			return err
		}
	}
	if index {
		return txn.Set(keyAPIKeyHash(k.Hash), ref(k.OrganizationID, k.ID))
	}
	return nil
}

// APIKeyByHash returns the key whose SHA-256 (hex) is hash, whatever its state.
func (db *DB) APIKeyByHash(hash string) (*enricher.APIKey, error) {
	var rec apiKeyRow
	err := db.view(func(txn *badger.Txn) error {
		r, ok, err := getRaw(txn, keyAPIKeyHash(hash))
		if err != nil {
			return err
		}
		if !ok {
			return enricher.Errorf(enricher.KindNotFound, "API key not found")
		}
		org, id, _ := strings.Cut(string(r), "/")
		return getJSON(txn, keyAPIKey(org, id), "API key", &rec)
	})
	if err != nil {
		return nil, err
	}
	return rec.key(), nil
}

// APIKey returns key id of organization org.
func (db *DB) APIKey(org, id string) (*enricher.APIKey, error) {
	var rec apiKeyRow
	if err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyAPIKey(org, id), "API key", &rec) }); err != nil {
		return nil, err
	}
	return rec.key(), nil
}

// APIKeys returns every key of org, newest first.
func (db *DB) APIKeys(org string) ([]*enricher.APIKey, error) {
	var out []*enricher.APIKey
	err := db.view(func(txn *badger.Txn) error {
		return scanJSON(txn, prefixAPIKeys(org), func(r *apiKeyRow) error {
			out = append(out, r.key())
			return nil
		})
	})
	slices.SortFunc(out, func(a, b *enricher.APIKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, err
}

// UpdateAPIKey loads key id of org, applies fn and stores it. Hash, id and organization
// cannot change.
func (db *DB) UpdateAPIKey(org, id string, fn func(*enricher.APIKey) error) (*enricher.APIKey, error) {
	var out *enricher.APIKey
	err := db.update(func(txn *badger.Txn) error {
		var rec apiKeyRow
		if err := getJSON(txn, keyAPIKey(org, id), "API key", &rec); err != nil {
			return err
		}
		k := rec.key()
		if err := fn(k); err != nil {
			return err
		}
		k.ID, k.OrganizationID, k.Hash = id, org, rec.Hash
		out = k
		return putKeyTxn(txn, k, false)
	})
	return out, err
}

// AddKeyUsage adds counted uses to the stored keys. Keys that no longer exist are skipped.
func (db *DB) AddKeyUsage(usage []enricher.KeyUsage) error {
	if len(usage) == 0 {
		return nil
	}
	return db.update(func(txn *badger.Txn) error {
		for _, u := range usage {
			var rec apiKeyRow
			err := getJSON(txn, keyAPIKey(u.OrgID, u.KeyID), "API key", &rec)
			if enricher.IsKind(err, enricher.KindNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			rec.UseCount += u.Uses
			if rec.LastUsedAt == nil || u.LastUsed.After(rec.LastUsedAt.Time) {
				rec.LastUsedAt = enricher.NewTimePtr(u.LastUsed)
			}
			if err := putJSON(txn, keyAPIKey(u.OrgID, u.KeyID), &rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// Bootstrap describes the key ENRICHER_BOOTSTRAP_KEY installs. NewOrgID and
// NewKeyID are used only when the organization or the key does not exist yet.
type Bootstrap struct {
	Hash, Prefix       string
	NewOrgID, NewKeyID string
	Now                time.Time
}

// EnsureBootstrap makes sure the organization "default" exists and is active, and that the
// bootstrap key exists in it with role admin, both scopes, name "bootstrap", no expiry, active.
func (db *DB) EnsureBootstrap(b Bootstrap) error {
	return db.update(func(txn *badger.Txn) error {
		var org enricher.Organization
		id, ok, err := getRaw(txn, keyOrgSlug(enricher.ReservedSlug))
		if err != nil {
			return err
		}
		if ok {
			if err := getJSON(txn, keyOrg(string(id)), "organization", &org); err != nil {
				return err
			}
		} else {
			org = enricher.Organization{ID: b.NewOrgID, Name: enricher.ReservedSlug, Slug: enricher.ReservedSlug, CreatedAt: enricher.NewTime(b.Now)}
		}
		org.IsActive = true
		if err := putJSON(txn, keyOrg(org.ID), &org); err != nil {
			return err
		}
		if err := txn.Set(keyOrgSlug(org.Slug), []byte(org.ID)); err != nil {
			return err
		}

		admin := enricher.RoleAdmin
		k := &enricher.APIKey{ID: b.NewKeyID, CreatedAt: enricher.NewTime(b.Now)}
		r, found, err := getRaw(txn, keyAPIKeyHash(b.Hash))
		if err != nil {
			return err
		}
		if found {
			korg, kid, _ := strings.Cut(string(r), "/")
			var rec apiKeyRow
			if err := getJSON(txn, keyAPIKey(korg, kid), "API key", &rec); err != nil {
				return err
			}
			if korg != org.ID { // the value was used elsewhere: move it to default
				if err := txn.Delete(keyAPIKey(korg, kid)); err != nil {
					return err
				}
			}
			k = rec.key()
		}
		k.OrganizationID, k.Hash, k.KeyPrefix = org.ID, b.Hash, b.Prefix
		k.Name, k.Type, k.Role = "bootstrap", enricher.KeyOrganization, &admin
		k.Scopes = []enricher.Scope{enricher.ScopeRead, enricher.ScopeWrite}
		k.IsActive, k.ExpiresAt, k.RevokedAt = true, nil, nil
		return putKeyTxn(txn, k, true)
	})
}
