package storage

import (
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// UserByEmail returns the user with the (normalised) email, password hash included.
func (db *DB) UserByEmail(email string) (*enricher.User, error) {
	var rec userRecord
	err := db.view(func(txn *badger.Txn) error {
		r, ok, err := getRaw(txn, keyUserEmail(email))
		if err != nil {
			return err
		}
		if !ok {
			return enricher.Errorf(enricher.KindNotFound, "user not found")
		}
		org, id, _ := strings.Cut(string(r), "/")
		return getJSON(txn, keyUser(org, id), "user", &rec)
	})
	if err != nil {
		return nil, err
	}
	return rec.user(), nil
}

// User returns the user id of organization org, password hash included.
func (db *DB) User(org, id string) (*enricher.User, error) {
	var rec userRecord
	if err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyUser(org, id), "user", &rec) }); err != nil {
		return nil, err
	}
	return rec.user(), nil
}

// CreateUser stores a new user in an existing organization (joining). KindConflict when the
// email is taken; KindNotFound when the organization does not exist.
func (db *DB) CreateUser(u *enricher.User) error {
	return db.update(func(txn *badger.Txn) error {
		if ok, err := exists(txn, keyOrg(u.OrganizationID)); err != nil {
			return err
		} else if !ok {
			return enricher.Errorf(enricher.KindNotFound, "organization not found")
		}
		if taken, err := exists(txn, keyUserEmail(u.Email)); err != nil {
			return err
		} else if taken {
			return enricher.Errorf(enricher.KindConflict, "email is already registered")
		}
		if err := txn.Set(keyMeta(metaHasUser), []byte("1")); err != nil {
			return err
		}
		return putUserTxn(txn, u, true)
	})
}

// ErrLastOwner is the conflict returned when a change would leave an organization without an
// active owner or admin.
var ErrLastOwner = enricher.Errorf(enricher.KindConflict, "the organization must keep at least one active owner")

// UpdateUser loads user id of org, applies fn, and stores the result, all in one transaction.
// The organization and email cannot change. If the organization had an active owner or admin
// before and would have none after, nothing is stored and ErrLastOwner is returned.
func (db *DB) UpdateUser(org, id string, fn func(*enricher.User) error) (*enricher.User, error) {
	var out *enricher.User
	err := db.update(func(txn *badger.Txn) error {
		var rec userRecord
		if err := getJSON(txn, keyUser(org, id), "user", &rec); err != nil {
			return err
		}
		before, err := activeOwners(txn, org)
		if err != nil {
			return err
		}
		u := rec.user()
		email := u.Email
		if err := fn(u); err != nil {
			return err
		}
		u.OrganizationID, u.ID, u.Email = org, id, email
		if err := putUserTxn(txn, u, false); err != nil {
			return err
		}
		after, err := activeOwners(txn, org)
		if err != nil {
			return err
		}
		if before > 0 && after == 0 {
			return ErrLastOwner
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

func activeOwners(txn *badger.Txn, org string) (int, error) {
	n := 0
	err := scanJSON(txn, prefixUsers(org), func(r *userRecord) error {
		if r.Status == enricher.UserActive && r.Role.AtLeast(enricher.RoleOwner) {
			n++
		}
		return nil
	})
	return n, err
}

// Users returns the users of org in creation order (password hashes cleared). An empty org
// means every organization (admin lists).
func (db *DB) Users(org string) ([]*enricher.User, error) {
	prefix := prefixUsers(org)
	if org == "" {
		prefix = prefixAll("u")
	}
	var out []*enricher.User
	err := db.view(func(txn *badger.Txn) error {
		return scanJSON(txn, prefix, func(r *userRecord) error {
			out = append(out, &r.User)
			return nil
		})
	})
	sortUsers(out)
	return out, err
}

func sortUsers(us []*enricher.User) {
	slices.SortFunc(us, func(a, b *enricher.User) int {
		if c := a.CreatedAt.Compare(b.CreatedAt.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// DeactivateOrganization marks org inactive, deactivates every user and revokes every key,
// in one transaction (the last owner leaving with delete_organization).
func (db *DB) DeactivateOrganization(org string, now time.Time) error {
	return db.update(func(txn *badger.Txn) error {
		var o enricher.Organization
		if err := getJSON(txn, keyOrg(org), "organization", &o); err != nil {
			return err
		}
		o.IsActive = false
		if err := putJSON(txn, keyOrg(org), &o); err != nil {
			return err
		}
		var users []*userRecord
		if err := scanJSON(txn, prefixUsers(org), func(r *userRecord) error { users = append(users, r); return nil }); err != nil {
			return err
		}
		for _, r := range users {
			r.Status = enricher.UserDeactivated
			if err := putJSON(txn, keyUser(org, r.ID), r); err != nil {
				return err
			}
		}
		var keys []*apiKeyRow
		if err := scanJSON(txn, prefixAPIKeys(org), func(k *apiKeyRow) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			if k.IsActive {
				k.IsActive, k.RevokedAt = false, enricher.NewTimePtr(now)
				if err := putJSON(txn, keyAPIKey(org, k.ID), k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
