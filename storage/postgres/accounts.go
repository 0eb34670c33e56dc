package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
)

// Instance flags in the meta table.
const (
	metaAdmin   = "admin_exists" // the instance has an admin (user or key): registration makes owners
	metaHasUser = "has_user"     // the instance has a user
)

// userDoc is the stored form of a user: the public fields plus the password hash.
type userDoc struct {
	enricher.User
	PasswordHash string `json:"password_hash"`
}

func (d *userDoc) user() *enricher.User {
	u := d.User
	u.PasswordHash = d.PasswordHash
	return &u
}

// encode returns the JSON of v; the error names what.
func encode(what string, v any) ([]byte, error) {
	b, err := gojson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return b, nil
}

// getDoc scans the one bytea column sql selects into v; no row is KindNotFound "<what> not found".
func getDoc(ctx context.Context, q querier, v any, what, sql string, args ...any) error {
	var b []byte
	if err := q.QueryRow(ctx, sql, args...).Scan(&b); err != nil {
		return notFound(err, what)
	}
	if err := gojson.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// eachDoc decodes the first (bytea) column of every row sql selects into a fresh T, calling fn.
func eachDoc[T any](ctx context.Context, q querier, fn func(*T) error, sql string, args ...any) error {
	return eachRaw(ctx, q, func(b []byte) error {
		v := new(T)
		if err := gojson.Unmarshal(b, v); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		return fn(v)
	}, sql, args...)
}

// eachRaw calls fn with the first (bytea) column of every row sql selects, in row order.
func eachRaw(ctx context.Context, q querier, fn func([]byte) error, sql string, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

func exists(ctx context.Context, q querier, sql string, args ...any) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, "SELECT EXISTS ("+sql+")", args...).Scan(&ok)
	return ok, err
}

func setFlag(ctx context.Context, q querier, name string) error {
	_, err := q.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, '1') ON CONFLICT (name) DO NOTHING`, name)
	return err
}

func hasFlag(ctx context.Context, q querier, name string) (bool, error) {
	return exists(ctx, q, `SELECT 1 FROM meta WHERE name = $1`, name)
}

func lockAccountsTxn(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockAccounts)
	return err
}

// Secret returns the instance secret stored under name, creating it with generate() on first
// use. Every node sharing the database gets the same secret: the first insert wins.
func (db *DB) Secret(name string, generate func() []byte) ([]byte, error) {
	var out []byte
	err := db.query(func(ctx context.Context, q querier) error {
		err := q.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&out)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, generate()); err != nil {
			return err
		}
		return q.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, name).Scan(&out)
	})
	return out, err
}

// SaveRefreshToken stores a refresh token under its hash (an expired one is not stored), and
// removes tokens that have expired.
func (db *DB) SaveRefreshToken(hash string, t enricher.RefreshToken, now time.Time) error {
	if !t.ExpiresAt.After(now) {
		return nil
	}
	b, err := encode("refresh token", t)
	if err != nil {
		return err
	}
	return db.query(func(ctx context.Context, q querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO refresh_tokens (hash, expires_at, doc) VALUES ($1, $2, $3)
			ON CONFLICT (hash) DO UPDATE SET expires_at = excluded.expires_at, doc = excluded.doc`, hash, t.ExpiresAt.Time, b)
		return err
	})
}

// ConsumeRefreshToken deletes the token with hash and returns what it held: each refresh
// token works once, even with several nodes racing. KindNotFound when unknown, used or expired.
func (db *DB) ConsumeRefreshToken(hash string, now time.Time) (*enricher.RefreshToken, error) {
	var t enricher.RefreshToken
	err := db.query(func(ctx context.Context, q querier) error {
		if err := getDoc(ctx, q, &t, "refresh token", `DELETE FROM refresh_tokens WHERE hash = $1 RETURNING doc`, hash); err != nil {
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
	return db.query(func(ctx context.Context, q querier) error {
		_, err := q.Exec(ctx, `DELETE FROM refresh_tokens WHERE hash = $1`, hash)
		return err
	})
}

// Register atomically creates an organization and its first user, with the contract of
// storage.DB.Register: the caller fills ids, times and the password hash; slugExplicit makes a
// taken slug a conflict instead of a reason to append "-2", "-3", ...; allowSignup false
// refuses once the instance has a user or an admin key; the user is admin when the instance
// has none yet, otherwise owner. Errors: KindConflict (taken email or explicit slug),
// KindForbidden (signup closed).
func (db *DB) Register(newOrg *enricher.Organization, newUser *enricher.User, slugExplicit, allowSignup bool) (*enricher.Organization, *enricher.User, error) {
	var org enricher.Organization
	var user enricher.User
	err := db.tx(func(ctx context.Context, tx pgx.Tx) error {
		org, user = *newOrg, *newUser
		if err := lockAccountsTxn(ctx, tx); err != nil {
			return err
		}
		hasAdmin, err := hasFlag(ctx, tx, metaAdmin)
		if err != nil {
			return err
		}
		if !allowSignup {
			hasUser, err := hasFlag(ctx, tx, metaHasUser)
			if err != nil {
				return err
			}
			if hasUser || hasAdmin {
				return enricher.Errorf(enricher.KindForbidden, "signup is disabled on this instance")
			}
		}
		if taken, err := exists(ctx, tx, `SELECT 1 FROM users WHERE email = $1`, user.Email); err != nil {
			return err
		} else if taken {
			return enricher.Errorf(enricher.KindConflict, "email is already registered")
		}
		if org.Slug, err = freeSlug(ctx, tx, org.Slug, slugExplicit); err != nil {
			return err
		}
		user.Role = enricher.RoleOwner
		if !hasAdmin {
			user.Role = enricher.RoleAdmin
			if err := setFlag(ctx, tx, metaAdmin); err != nil {
				return err
			}
		}
		if err := setFlag(ctx, tx, metaHasUser); err != nil {
			return err
		}
		user.OrganizationID = org.ID
		if err := putOrg(ctx, tx, &org); err != nil {
			return err
		}
		return insertUser(ctx, tx, &user)
	})
	if err != nil {
		return nil, nil, err
	}
	user.PasswordHash = ""
	return &org, &user, nil
}

func putOrg(ctx context.Context, q querier, org *enricher.Organization) error {
	b, err := encode("organization", org)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO organizations (id, slug, is_active, doc) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET is_active = excluded.is_active, doc = excluded.doc`, org.ID, org.Slug, org.IsActive, b)
	return err
}

func insertUser(ctx context.Context, q querier, u *enricher.User) error {
	b, err := encode("user", &userDoc{User: *u, PasswordHash: u.PasswordHash})
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO users (org_id, id, email, created_at, doc) VALUES ($1, $2, $3, $4, $5)`,
		u.OrganizationID, u.ID, u.Email, u.CreatedAt.Time, b)
	if uniqueViolation(err, "users_email_key") {
		return enricher.Errorf(enricher.KindConflict, "email is already registered")
	}
	return err
}

// freeSlug picks the organization's slug (enricher.PickSlug) against this store.
func freeSlug(ctx context.Context, q querier, slug string, explicit bool) (string, error) {
	return enricher.PickSlug(slug, explicit, func(cand string) (bool, error) {
		return exists(ctx, q, `SELECT 1 FROM organizations WHERE slug = $1`, cand)
	})
}

// SlugAvailable reports whether slug is neither taken nor reserved.
func (db *DB) SlugAvailable(slug string) (bool, error) {
	var taken bool
	err := db.query(func(ctx context.Context, q querier) (err error) {
		taken, err = exists(ctx, q, `SELECT 1 FROM organizations WHERE slug = $1`, slug)
		return err
	})
	return !taken && slug != enricher.ReservedSlug, err
}

// Organization returns the organization with id.
func (db *DB) Organization(id string) (*enricher.Organization, error) {
	var org enricher.Organization
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &org, "organization", `SELECT doc FROM organizations WHERE id = $1`, id)
	})
	if err != nil {
		return nil, err
	}
	return &org, nil
}

// OrganizationBySlug returns the organization with slug.
func (db *DB) OrganizationBySlug(slug string) (*enricher.Organization, error) {
	var org enricher.Organization
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &org, "organization", `SELECT doc FROM organizations WHERE slug = $1`, slug)
	})
	if err != nil {
		return nil, err
	}
	return &org, nil
}

// UpdateOrganization loads the organization (locking its row), applies fn and stores the
// result. The slug cannot change.
func (db *DB) UpdateOrganization(id string, fn func(*enricher.Organization) error) (*enricher.Organization, error) {
	var org enricher.Organization
	err := db.tx(func(ctx context.Context, tx pgx.Tx) error {
		org = enricher.Organization{}
		if err := getDoc(ctx, tx, &org, "organization", `SELECT doc FROM organizations WHERE id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		slug := org.Slug
		if err := fn(&org); err != nil {
			return err
		}
		org.Slug = slug
		return putOrg(ctx, tx, &org)
	})
	if err != nil {
		return nil, err
	}
	return &org, nil
}

// Organizations lists every organization in id order, active ones only unless includeInactive.
func (db *DB) Organizations(includeInactive bool) ([]*enricher.Organization, error) {
	var out []*enricher.Organization
	err := db.query(func(ctx context.Context, q querier) error {
		return eachDoc(ctx, q, func(o *enricher.Organization) error { out = append(out, o); return nil },
			`SELECT doc FROM organizations WHERE is_active OR $1 ORDER BY id`, includeInactive)
	})
	return out, err
}
