package postgres

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// apiKeyDoc is the stored form of an API key: public fields plus organization and hash.
type apiKeyDoc struct {
	enricher.APIKey
	Org  string `json:"org"`
	Hash string `json:"hash"`
}

func (d *apiKeyDoc) key() *enricher.APIKey {
	k := d.APIKey
	k.OrganizationID, k.Hash = d.Org, d.Hash
	return &k
}

func keyDocOf(k *enricher.APIKey) *apiKeyDoc {
	return &apiKeyDoc{APIKey: *k, Org: k.OrganizationID, Hash: k.Hash}
}

// updateKeyDoc rewrites the document of an existing key (its hash and organization stay).
func updateKeyDoc(ctx context.Context, q querier, d *apiKeyDoc) error {
	b, err := encode("API key", d)
	if err != nil {
		return err
	}
	if d.Role != nil && *d.Role == enricher.RoleAdmin {
		if err := setFlag(ctx, q, metaAdmin); err != nil {
			return err
		}
	}
	_, err = q.Exec(ctx, `UPDATE api_keys SET doc = $3 WHERE org_id = $1 AND id = $2`, d.Org, d.ID, b)
	return err
}

// CreateAPIKey stores a new key. k.Hash must be the hex SHA-256 of the full key and
// k.OrganizationID its organization. A key with role admin marks the instance as having an
// admin. KindConflict when a key with that hash exists.
func (db *DB) CreateAPIKey(k *enricher.APIKey) error {
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		b, err := encode("API key", keyDocOf(k))
		if err != nil {
			return err
		}
		if k.Role != nil && *k.Role == enricher.RoleAdmin {
			if err := lockAccountsTxn(ctx, tx); err != nil {
				return err
			}
			if err := setFlag(ctx, tx, metaAdmin); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO api_keys (org_id, id, hash, created_at, doc) VALUES ($1, $2, $3, $4, $5)`,
			k.OrganizationID, k.ID, k.Hash, k.CreatedAt.Time, b)
		if uniqueViolation(err, "") {
			return enricher.Errorf(enricher.KindConflict, "API key already exists")
		}
		return err
	})
}

// APIKeyByHash returns the key whose SHA-256 (hex) is hash, whatever its state.
func (db *DB) APIKeyByHash(hash string) (*enricher.APIKey, error) {
	var d apiKeyDoc
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &d, "API key", `SELECT doc FROM api_keys WHERE hash = $1`, hash)
	})
	if err != nil {
		return nil, err
	}
	return d.key(), nil
}

// APIKey returns key id of organization org.
func (db *DB) APIKey(org, id string) (*enricher.APIKey, error) {
	var d apiKeyDoc
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &d, "API key", `SELECT doc FROM api_keys WHERE org_id = $1 AND id = $2`, org, id)
	})
	if err != nil {
		return nil, err
	}
	return d.key(), nil
}

// APIKeys returns every key of org, newest first.
func (db *DB) APIKeys(org string) ([]*enricher.APIKey, error) {
	var out []*enricher.APIKey
	err := db.query(func(ctx context.Context, q querier) error {
		return eachDoc(ctx, q, func(d *apiKeyDoc) error { out = append(out, d.key()); return nil },
			`SELECT doc FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id DESC`, org)
	})
	return out, err
}

// UpdateAPIKey loads key id of org (locking its row), applies fn and stores it. Hash, id and
// organization cannot change.
func (db *DB) UpdateAPIKey(org, id string, fn func(*enricher.APIKey) error) (*enricher.APIKey, error) {
	var out *enricher.APIKey
	err := db.tx(func(ctx context.Context, tx pgx.Tx) error {
		var d apiKeyDoc
		if err := getDoc(ctx, tx, &d, "API key", `SELECT doc FROM api_keys WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id); err != nil {
			return err
		}
		k := d.key()
		if err := fn(k); err != nil {
			return err
		}
		k.ID, k.OrganizationID, k.Hash = id, org, d.Hash
		out = k
		return updateKeyDoc(ctx, tx, keyDocOf(k))
	})
	return out, err
}

// AddKeyUsage adds counted uses to the stored keys, locking each key's row, so flushes from
// several nodes add up. Keys that no longer exist are skipped.
func (db *DB) AddKeyUsage(usage []enricher.KeyUsage) error {
	if len(usage) == 0 {
		return nil
	}
	sorted := slices.Clone(usage) // one lock order for every flush: no deadlock between nodes
	slices.SortFunc(sorted, func(a, b enricher.KeyUsage) int {
		if c := strings.Compare(a.OrgID, b.OrgID); c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		for _, u := range sorted {
			var d apiKeyDoc
			err := getDoc(ctx, tx, &d, "API key", `SELECT doc FROM api_keys WHERE org_id = $1 AND id = $2 FOR UPDATE`, u.OrgID, u.KeyID)
			if enricher.IsKind(err, enricher.KindNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			d.UseCount += u.Uses
			if d.LastUsedAt == nil || u.LastUsed.After(d.LastUsedAt.Time) {
				d.LastUsedAt = enricher.NewTimePtr(u.LastUsed)
			}
			if err := updateKeyDoc(ctx, tx, &d); err != nil {
				return err
			}
		}
		return nil
	})
}

// EnsureBootstrap makes sure the organization "default" exists and is active, and that the
// bootstrap key exists in it with role admin, both scopes, name "bootstrap", no expiry,
// active. Nodes starting together serialize on the accounts lock.
func (db *DB) EnsureBootstrap(b storage.Bootstrap) error {
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		if err := lockAccountsTxn(ctx, tx); err != nil {
			return err
		}
		var org enricher.Organization
		err := getDoc(ctx, tx, &org, "organization", `SELECT doc FROM organizations WHERE slug = $1`, enricher.ReservedSlug)
		if enricher.IsKind(err, enricher.KindNotFound) {
			org = enricher.Organization{ID: b.NewOrgID, Name: enricher.ReservedSlug, Slug: enricher.ReservedSlug, CreatedAt: enricher.NewTime(b.Now)}
		} else if err != nil {
			return err
		}
		org.IsActive = true
		if err := putOrg(ctx, tx, &org); err != nil {
			return err
		}
		admin := enricher.RoleAdmin
		k := &enricher.APIKey{ID: b.NewKeyID, CreatedAt: enricher.NewTime(b.Now)}
		var d apiKeyDoc
		err = getDoc(ctx, tx, &d, "API key", `SELECT doc FROM api_keys WHERE hash = $1 FOR UPDATE`, b.Hash)
		found := err == nil
		if err != nil && !enricher.IsKind(err, enricher.KindNotFound) {
			return err
		}
		if found {
			k = d.key()
			// The value may have been used elsewhere: it moves to default.
			if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE hash = $1`, b.Hash); err != nil {
				return err
			}
		}
		k.OrganizationID, k.Hash, k.KeyPrefix = org.ID, b.Hash, b.Prefix
		k.Name, k.Type, k.Role = "bootstrap", enricher.KeyOrganization, &admin
		k.Scopes = []enricher.Scope{enricher.ScopeRead, enricher.ScopeWrite}
		k.IsActive, k.ExpiresAt, k.RevokedAt = true, nil, nil
		if err := setFlag(ctx, tx, metaAdmin); err != nil {
			return err
		}
		doc, err := encode("API key", keyDocOf(k))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO api_keys (org_id, id, hash, created_at, doc) VALUES ($1, $2, $3, $4, $5)`,
			k.OrganizationID, k.ID, k.Hash, k.CreatedAt.Time, doc)
		return err
	})
}
