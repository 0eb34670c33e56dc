package storage

import (
	"github.com/dgraph-io/badger/v4"

	"github.com/entity-enricher/enricher"
)

// userRecord is the stored form of a user: the public fields plus the password hash.
type userRecord struct {
	enricher.User
	PasswordHash string `json:"password_hash"`
}

func (r *userRecord) user() *enricher.User {
	u := r.User
	u.PasswordHash = r.PasswordHash
	return &u
}

func recordOf(u *enricher.User) *userRecord {
	return &userRecord{User: *u, PasswordHash: u.PasswordHash}
}

// metaAdmin is set once the instance has an admin (user or key): registration then makes owners, not admins.
const metaAdmin = "admin_exists"

// metaHasUser is set once the instance has a user.
const metaHasUser = "has_user"

// Register atomically creates an organization and its first user. The caller fills ids, times
// and the password hash; slugExplicit says the slug came from the client, so a taken slug is a
// conflict rather than a reason to append "-2", "-3", ...; allowSignup false refuses the
// registration once the instance has a user or an admin key. The user becomes admin when
// the instance has no admin yet, otherwise owner. It returns the stored organization and user.
//
// Errors: KindConflict for a taken email or explicit slug (or the reserved slug), KindForbidden
// when signup is closed.
func (db *DB) Register(newOrg *enricher.Organization, newUser *enricher.User, slugExplicit, allowSignup bool) (*enricher.Organization, *enricher.User, error) {
	var org enricher.Organization
	var user enricher.User
	err := db.update(func(txn *badger.Txn) error {
		org, user = *newOrg, *newUser
		if !allowSignup {
			hasUser, err := exists(txn, keyMeta(metaHasUser))
			if err != nil {
				return err
			}
			hasAdmin, err := exists(txn, keyMeta(metaAdmin))
			if err != nil {
				return err
			}
			if hasUser || hasAdmin {
				return enricher.Errorf(enricher.KindForbidden, "signup is disabled on this instance")
			}
		}
		if taken, err := exists(txn, keyUserEmail(user.Email)); err != nil {
			return err
		} else if taken {
			return enricher.Errorf(enricher.KindConflict, "email is already registered")
		}
		slug, err := freeSlug(txn, org.Slug, slugExplicit)
		if err != nil {
			return err
		}
		org.Slug = slug
		hasAdmin, err := exists(txn, keyMeta(metaAdmin))
		if err != nil {
			return err
		}
		user.Role = enricher.RoleOwner
		if !hasAdmin {
			user.Role = enricher.RoleAdmin
			if err := txn.Set(keyMeta(metaAdmin), []byte("1")); err != nil {
				return err
			}
		}
		if err := txn.Set(keyMeta(metaHasUser), []byte("1")); err != nil {
			return err
		}
		user.OrganizationID = org.ID
		return db.putOrgTxn(txn, &org, &user)
	})
	if err != nil {
		return nil, nil, err
	}
	user.PasswordHash = ""
	return &org, &user, nil
}

func (db *DB) putOrgTxn(txn *badger.Txn, org *enricher.Organization, user *enricher.User) error {
	if err := putJSON(txn, keyOrg(org.ID), org); err != nil {
		return err
	}
	if err := txn.Set(keyOrgSlug(org.Slug), []byte(org.ID)); err != nil {
		return err
	}
	return putUserTxn(txn, user, true)
}

func putUserTxn(txn *badger.Txn, u *enricher.User, indexEmail bool) error {
	if err := putJSON(txn, keyUser(u.OrganizationID, u.ID), recordOf(u)); err != nil {
		return err
	}
	if indexEmail {
		return txn.Set(keyUserEmail(u.Email), ref(u.OrganizationID, u.ID))
	}
	return nil
}

// freeSlug picks the organization's slug (enricher.PickSlug) against this store.
func freeSlug(txn *badger.Txn, slug string, explicit bool) (string, error) {
	return enricher.PickSlug(slug, explicit, func(cand string) (bool, error) { return exists(txn, keyOrgSlug(cand)) })
}

// SlugAvailable reports whether slug is neither taken nor reserved.
func (db *DB) SlugAvailable(slug string) (bool, error) {
	var free bool
	err := db.view(func(txn *badger.Txn) error {
		taken, err := exists(txn, keyOrgSlug(slug))
		free = !taken && slug != enricher.ReservedSlug
		return err
	})
	return free, err
}

// Organization returns the organization with id.
func (db *DB) Organization(id string) (*enricher.Organization, error) {
	var org enricher.Organization
	err := db.view(func(txn *badger.Txn) error { return getJSON(txn, keyOrg(id), "organization", &org) })
	if err != nil {
		return nil, err
	}
	return &org, nil
}

// OrganizationBySlug returns the organization with slug.
func (db *DB) OrganizationBySlug(slug string) (*enricher.Organization, error) {
	var org enricher.Organization
	err := db.view(func(txn *badger.Txn) error {
		id, ok, err := getRaw(txn, keyOrgSlug(slug))
		if err != nil {
			return err
		}
		if !ok {
			return enricher.Errorf(enricher.KindNotFound, "organization not found")
		}
		return getJSON(txn, keyOrg(string(id)), "organization", &org)
	})
	if err != nil {
		return nil, err
	}
	return &org, nil
}

// UpdateOrganization loads the organization, applies fn and stores the result. The slug
// cannot change.
func (db *DB) UpdateOrganization(id string, fn func(*enricher.Organization) error) (*enricher.Organization, error) {
	var org enricher.Organization
	err := db.update(func(txn *badger.Txn) error {
		if err := getJSON(txn, keyOrg(id), "organization", &org); err != nil {
			return err
		}
		slug := org.Slug
		if err := fn(&org); err != nil {
			return err
		}
		org.Slug = slug
		return putJSON(txn, keyOrg(id), &org)
	})
	if err != nil {
		return nil, err
	}
	return &org, nil
}

// Organizations lists every organization in id order, active ones only unless includeInactive.
func (db *DB) Organizations(includeInactive bool) ([]*enricher.Organization, error) {
	var out []*enricher.Organization
	err := db.view(func(txn *badger.Txn) error {
		return scanJSON(txn, prefixAll("o"), func(o *enricher.Organization) error {
			if o.IsActive || includeInactive {
				out = append(out, o)
			}
			return nil
		})
	})
	return out, err
}
