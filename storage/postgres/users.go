package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

// UserByEmail returns the user with the (normalised) email, password hash included.
func (db *DB) UserByEmail(email string) (*enricher.User, error) {
	var d userDoc
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &d, "user", `SELECT doc FROM users WHERE email = $1`, email)
	})
	if err != nil {
		return nil, err
	}
	return d.user(), nil
}

// User returns the user id of organization org, password hash included.
func (db *DB) User(org, id string) (*enricher.User, error) {
	var d userDoc
	err := db.query(func(ctx context.Context, q querier) error {
		return getDoc(ctx, q, &d, "user", `SELECT doc FROM users WHERE org_id = $1 AND id = $2`, org, id)
	})
	if err != nil {
		return nil, err
	}
	return d.user(), nil
}

// CreateUser stores a new user in an existing organization (joining). KindConflict when the
// email is taken; KindNotFound when the organization does not exist.
func (db *DB) CreateUser(u *enricher.User) error {
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		if err := lockAccountsTxn(ctx, tx); err != nil {
			return err
		}
		if ok, err := exists(ctx, tx, `SELECT 1 FROM organizations WHERE id = $1`, u.OrganizationID); err != nil {
			return err
		} else if !ok {
			return enricher.Errorf(enricher.KindNotFound, "organization not found")
		}
		if taken, err := exists(ctx, tx, `SELECT 1 FROM users WHERE email = $1`, u.Email); err != nil {
			return err
		} else if taken {
			return enricher.Errorf(enricher.KindConflict, "email is already registered")
		}
		if err := setFlag(ctx, tx, metaHasUser); err != nil {
			return err
		}
		return insertUser(ctx, tx, u)
	})
}

// UpdateUser loads user id of org, applies fn, and stores the result, in one transaction that
// locks every user of the organization (so two concurrent demotions cannot both pass the
// check). The organization and email cannot change. If the organization had an active owner
// or admin before and would have none after, nothing is stored and storage.ErrLastOwner is
// returned.
func (db *DB) UpdateUser(org, id string, fn func(*enricher.User) error) (*enricher.User, error) {
	var out *enricher.User
	err := db.tx(func(ctx context.Context, tx pgx.Tx) error {
		var all []*userDoc
		if err := eachDoc(ctx, tx, func(d *userDoc) error { all = append(all, d); return nil },
			`SELECT doc FROM users WHERE org_id = $1 ORDER BY id FOR UPDATE`, org); err != nil {
			return err
		}
		var target *userDoc
		before := 0
		for _, d := range all {
			if d.ID == id {
				target = d
			}
			if ownerActive(&d.User) {
				before++
			}
		}
		if target == nil {
			return enricher.Errorf(enricher.KindNotFound, "user not found")
		}
		u := target.user()
		email := u.Email
		if err := fn(u); err != nil {
			return err
		}
		u.OrganizationID, u.ID, u.Email = org, id, email
		after := before
		if ownerActive(&target.User) {
			after--
		}
		if ownerActive(u) {
			after++
		}
		if before > 0 && after == 0 {
			return storage.ErrLastOwner
		}
		b, err := encode("user", &userDoc{User: *u, PasswordHash: u.PasswordHash})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET doc = $3 WHERE org_id = $1 AND id = $2`, org, id, b); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.PasswordHash = ""
	return out, nil
}

func ownerActive(u *enricher.User) bool {
	return u.Status == enricher.UserActive && u.Role.AtLeast(enricher.RoleOwner)
}

// Users returns the users of org in creation order (password hashes cleared). An empty org
// means every organization (admin lists).
func (db *DB) Users(org string) ([]*enricher.User, error) {
	var out []*enricher.User
	err := db.query(func(ctx context.Context, q querier) error {
		return eachDoc(ctx, q, func(d *userDoc) error { out = append(out, &d.User); return nil },
			`SELECT doc FROM users WHERE $1 = '' OR org_id = $1 ORDER BY created_at, id`, org)
	})
	return out, err
}

// DeactivateOrganization marks org inactive, deactivates every user and revokes every key,
// in one transaction (the last owner leaving with delete_organization).
func (db *DB) DeactivateOrganization(org string, now time.Time) error {
	return db.tx(func(ctx context.Context, tx pgx.Tx) error {
		var o enricher.Organization
		if err := getDoc(ctx, tx, &o, "organization", `SELECT doc FROM organizations WHERE id = $1 FOR UPDATE`, org); err != nil {
			return err
		}
		o.IsActive = false
		if err := putOrg(ctx, tx, &o); err != nil {
			return err
		}
		var users []*userDoc
		if err := eachDoc(ctx, tx, func(d *userDoc) error { users = append(users, d); return nil },
			`SELECT doc FROM users WHERE org_id = $1 FOR UPDATE`, org); err != nil {
			return err
		}
		for _, d := range users {
			d.Status = enricher.UserDeactivated
			b, err := encode("user", d)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE users SET doc = $3 WHERE org_id = $1 AND id = $2`, org, d.ID, b); err != nil {
				return err
			}
		}
		var keys []*apiKeyDoc
		if err := eachDoc(ctx, tx, func(k *apiKeyDoc) error { keys = append(keys, k); return nil },
			`SELECT doc FROM api_keys WHERE org_id = $1 FOR UPDATE`, org); err != nil {
			return err
		}
		for _, k := range keys {
			if !k.IsActive {
				continue
			}
			k.IsActive, k.RevokedAt = false, enricher.NewTimePtr(now)
			if err := updateKeyDoc(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}
