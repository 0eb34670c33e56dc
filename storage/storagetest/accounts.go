package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/entity-enricher/enricher"
	"github.com/entity-enricher/enricher/storage"
)

func newOrgUser(n int, slug string) (*enricher.Organization, *enricher.User) {
	org := &enricher.Organization{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Name: fmt.Sprintf("Org %d", n), Slug: slug,
		IsActive: true, CreatedAt: enricher.NewTime(t0)}
	user := &enricher.User{ID: fmt.Sprintf("10000000-0000-4000-8000-%012d", n), Email: fmt.Sprintf("u%d@example.com", n),
		Status: enricher.UserActive, CreatedAt: enricher.NewTime(t0.Add(time.Duration(n) * time.Second)), PasswordHash: fmt.Sprintf("h%d", n)}
	return org, user
}

func testAccounts(t *testing.T, open Opener) {
	t.Run("register roles, slugs and reads", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		o1, u1 := newOrgUser(1, "acme")
		org, user, err := db.Register(o1, u1, false, true)
		require.NoError(t, err)
		require.Equal(t, enricher.RoleAdmin, user.Role, "first user of the instance is admin")
		require.Empty(t, user.PasswordHash, "the returned user carries no hash")
		require.Equal(t, "acme", org.Slug)
		o2, u2 := newOrgUser(2, "acme")
		org2, user2, err := db.Register(o2, u2, false, true)
		require.NoError(t, err)
		require.Equal(t, enricher.RoleOwner, user2.Role)
		require.Equal(t, "acme-2", org2.Slug, "a derived slug gets a suffix")

		got, err := db.UserByEmail("u2@example.com")
		require.NoError(t, err)
		require.Equal(t, "h2", got.PasswordHash)
		require.Equal(t, org2.ID, got.OrganizationID)
		got, err = db.User(org2.ID, user2.ID)
		require.NoError(t, err)
		require.Equal(t, "u2@example.com", got.Email)
		_, err = db.User(org.ID, user2.ID)
		requireKind(t, err, enricher.KindNotFound, "another organization's user is not found")
		bySlug, err := db.OrganizationBySlug("acme-2")
		require.NoError(t, err)
		require.Equal(t, org2.ID, bySlug.ID)
		_, err = db.OrganizationBySlug("nope")
		requireKind(t, err, enricher.KindNotFound)
		_, err = db.Organization("nope")
		requireKind(t, err, enricher.KindNotFound)
		for slug, want := range map[string]bool{"acme": false, "acme-2": false, "fresh": true, enricher.ReservedSlug: false} {
			free, err := db.SlugAvailable(slug)
			require.NoError(t, err)
			require.Equal(t, want, free, slug)
		}
	})

	conflicts := []struct {
		name     string
		n        int
		slug     string
		email    string
		explicit bool
		signup   bool
		kind     enricher.Kind
	}{
		{"taken email", 2, "other", "u1@example.com", false, true, enricher.KindConflict},
		{"taken explicit slug", 2, "acme", "", true, true, enricher.KindConflict},
		{"reserved explicit slug", 2, enricher.ReservedSlug, "", true, true, enricher.KindConflict},
		{"signup closed once a user exists", 2, "other", "", false, false, enricher.KindForbidden},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := setup(t, open)
			o1, u1 := newOrgUser(1, "acme")
			_, _, err := db.Register(o1, u1, false, true)
			require.NoError(t, err)
			o, u := newOrgUser(tt.n, tt.slug)
			if tt.email != "" {
				u.Email = tt.email
			}
			_, _, err = db.Register(o, u, tt.explicit, tt.signup)
			requireKind(t, err, tt.kind)
			_, err = db.Organization(o.ID)
			requireKind(t, err, enricher.KindNotFound, "a refused registration stores nothing")
		})
	}

	t.Run("signup closed allows the first user only", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		o, u := newOrgUser(1, "acme")
		_, user, err := db.Register(o, u, false, false)
		require.NoError(t, err)
		require.Equal(t, enricher.RoleAdmin, user.Role)
	})

	t.Run("users, last owner, deactivation", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		o1, u1 := newOrgUser(1, "acme")
		org, owner, err := db.Register(o1, u1, false, true)
		require.NoError(t, err)
		o2, u2 := newOrgUser(2, "beta")
		other, _, err := db.Register(o2, u2, false, true)
		require.NoError(t, err)

		_, member := newOrgUser(3, "")
		member.OrganizationID, member.Role = org.ID, enricher.RoleEditor
		require.NoError(t, db.CreateUser(member))
		dup := *member
		dup.ID = "dup"
		requireKind(t, db.CreateUser(&dup), enricher.KindConflict, "email taken")
		orphan := *member
		orphan.ID, orphan.Email, orphan.OrganizationID = "orphan", "orphan@example.com", "missing-org"
		requireKind(t, db.CreateUser(&orphan), enricher.KindNotFound, "organization missing")

		users, err := db.Users(org.ID)
		require.NoError(t, err)
		require.Equal(t, []string{owner.ID, member.ID}, userIDs(users), "creation order")
		all, err := db.Users("")
		require.NoError(t, err)
		require.Len(t, all, 3, "every organization")

		_, err = db.UpdateUser(org.ID, owner.ID, func(u *enricher.User) error { u.Role = enricher.RoleEditor; return nil })
		require.ErrorIs(t, err, storage.ErrLastOwner)
		requireKind(t, err, enricher.KindConflict)
		got, err := db.User(org.ID, owner.ID)
		require.NoError(t, err)
		require.Equal(t, enricher.RoleAdmin, got.Role, "a refused update stores nothing")
		up, err := db.UpdateUser(org.ID, member.ID, func(u *enricher.User) error {
			u.Role, u.Email, u.OrganizationID = enricher.RoleOwner, "changed@example.com", other.ID
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, "u3@example.com", up.Email, "email cannot change")
		require.Equal(t, org.ID, up.OrganizationID, "organization cannot change")
		require.Empty(t, up.PasswordHash)
		_, err = db.UpdateUser(org.ID, owner.ID, func(u *enricher.User) error { u.Status = enricher.UserDeactivated; return nil })
		require.NoError(t, err, "another owner remains")
		_, err = db.UpdateUser(other.ID, member.ID, func(*enricher.User) error { return nil })
		requireKind(t, err, enricher.KindNotFound, "another organization's user")

		renamed, err := db.UpdateOrganization(org.ID, func(o *enricher.Organization) error { o.Name, o.Slug = "Renamed", "hijack"; return nil })
		require.NoError(t, err)
		require.Equal(t, "Renamed", renamed.Name)
		require.Equal(t, "acme", renamed.Slug, "slug cannot change")
		_, err = db.UpdateOrganization("missing", func(*enricher.Organization) error { return nil })
		requireKind(t, err, enricher.KindNotFound)

		require.NoError(t, db.DeactivateOrganization(org.ID, t0))
		active, err := db.Organizations(false)
		require.NoError(t, err)
		require.Len(t, active, 1)
		require.Equal(t, other.ID, active[0].ID)
		everyOrg, err := db.Organizations(true)
		require.NoError(t, err)
		require.Len(t, everyOrg, 2)
		users, err = db.Users(org.ID)
		require.NoError(t, err)
		for _, u := range users {
			require.Equal(t, enricher.UserDeactivated, u.Status)
		}
	})
}

func userIDs(us []*enricher.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

func testTokens(t *testing.T, open Opener) {
	t.Run("refresh tokens work once and expire", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		tok := enricher.RefreshToken{UserID: "u", OrgID: "o", ExpiresAt: enricher.NewTime(t0.Add(time.Hour))}
		require.NoError(t, db.SaveRefreshToken("h1", tok, t0))
		require.NoError(t, db.SaveRefreshToken("h2", tok, t0))
		require.NoError(t, db.SaveRefreshToken("h3", tok, t0))
		got, err := db.ConsumeRefreshToken("h1", t0)
		require.NoError(t, err)
		require.Equal(t, "u", got.UserID)
		_, err = db.ConsumeRefreshToken("h1", t0)
		requireKind(t, err, enricher.KindNotFound, "used once")
		_, err = db.ConsumeRefreshToken("h2", t0.Add(2*time.Hour))
		requireKind(t, err, enricher.KindNotFound, "expired")
		require.NoError(t, db.DeleteRefreshToken("h3"))
		require.NoError(t, db.DeleteRefreshToken("unknown"))
		_, err = db.ConsumeRefreshToken("h3", t0)
		requireKind(t, err, enricher.KindNotFound, "logged out")
	})
	t.Run("secret is generated once", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		calls := 0
		gen := func() []byte { calls++; return []byte(fmt.Sprintf("secret-%d", calls)) }
		a, err := db.Secret("token_secret", gen)
		require.NoError(t, err)
		b, err := db.Secret("token_secret", gen)
		require.NoError(t, err)
		require.Equal(t, "secret-1", string(a))
		require.Equal(t, a, b)
		require.Equal(t, 1, calls)
	})
}

func newKey(org, id, hash string, created time.Time) *enricher.APIKey {
	member := enricher.RoleEditor
	return &enricher.APIKey{ID: id, OrganizationID: org, Name: id, Type: enricher.KeyOrganization, KeyPrefix: "ent_" + id,
		Role: &member, Scopes: []enricher.Scope{enricher.ScopeRead}, IsActive: true, CreatedAt: enricher.NewTime(created), Hash: hash}
}

func testAPIKeys(t *testing.T, open Opener) {
	t.Run("keys, usage, isolation", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		require.NoError(t, db.CreateAPIKey(newKey("o1", "k1", "hash1", t0)))
		require.NoError(t, db.CreateAPIKey(newKey("o1", "k2", "hash2", t0.Add(time.Second))))
		require.NoError(t, db.CreateAPIKey(newKey("o2", "k3", "hash3", t0)))
		requireKind(t, db.CreateAPIKey(newKey("o1", "k4", "hash1", t0)), enricher.KindConflict, "same hash")

		k, err := db.APIKeyByHash("hash2")
		require.NoError(t, err)
		require.Equal(t, "k2", k.ID)
		require.Equal(t, "o1", k.OrganizationID)
		require.Equal(t, "hash2", k.Hash)
		_, err = db.APIKeyByHash("nope")
		requireKind(t, err, enricher.KindNotFound)
		_, err = db.APIKey("o2", "k1")
		requireKind(t, err, enricher.KindNotFound, "another organization's key")
		keys, err := db.APIKeys("o1")
		require.NoError(t, err)
		require.Len(t, keys, 2)
		require.Equal(t, "k2", keys[0].ID, "newest first")

		up, err := db.UpdateAPIKey("o1", "k1", func(k *enricher.APIKey) error { k.Name, k.Hash, k.IsActive = "renamed", "stolen", false; return nil })
		require.NoError(t, err)
		require.Equal(t, "renamed", up.Name)
		require.Equal(t, "hash1", up.Hash, "hash cannot change")
		_, err = db.UpdateAPIKey("o2", "k1", func(*enricher.APIKey) error { return nil })
		requireKind(t, err, enricher.KindNotFound)

		require.NoError(t, db.AddKeyUsage([]enricher.KeyUsage{
			{OrgID: "o1", KeyID: "k1", Uses: 3, LastUsed: t0.Add(time.Minute)},
			{OrgID: "o1", KeyID: "gone", Uses: 1, LastUsed: t0},
		}))
		require.NoError(t, db.AddKeyUsage([]enricher.KeyUsage{{OrgID: "o1", KeyID: "k1", Uses: 2, LastUsed: t0}}))
		k, err = db.APIKey("o1", "k1")
		require.NoError(t, err)
		require.EqualValues(t, 5, k.UseCount)
		require.Equal(t, enricher.NewTime(t0.Add(time.Minute)), *k.LastUsedAt, "the latest use wins")
		require.Equal(t, "renamed", k.Name)
	})
	t.Run("bootstrap key is an admin and moves to default", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		require.NoError(t, db.CreateAPIKey(newKey("o1", "k1", "boot", t0)))
		b := storage.Bootstrap{Hash: "boot", Prefix: "ent_boot", NewOrgID: "def", NewKeyID: "kb", Now: t0}
		require.NoError(t, db.EnsureBootstrap(b))
		require.NoError(t, db.EnsureBootstrap(b), "idempotent")
		org, err := db.OrganizationBySlug(enricher.ReservedSlug)
		require.NoError(t, err)
		require.True(t, org.IsActive)
		k, err := db.APIKeyByHash("boot")
		require.NoError(t, err)
		require.Equal(t, org.ID, k.OrganizationID)
		require.Equal(t, enricher.RoleAdmin, *k.Role)
		require.Equal(t, "bootstrap", k.Name)
		_, err = db.APIKey("o1", "k1")
		requireKind(t, err, enricher.KindNotFound, "the key left its former organization")
		o, u := newOrgUser(1, "acme")
		_, user, err := db.Register(o, u, false, true)
		require.NoError(t, err)
		require.Equal(t, enricher.RoleOwner, user.Role, "the bootstrap key already is the admin")
	})
}

func testSchemas(t *testing.T, open Opener) {
	schema := func(org, id, name string) *enricher.SavedSchema {
		return &enricher.SavedSchema{ID: id, OrganizationID: org, Name: name, Content: []byte(`{"b":1,"a":2}`),
			CreatedAt: enricher.NewTime(t0), UpdatedAt: enricher.NewTime(t0)}
	}
	t.Run("names, limit, delete and restore", func(t *testing.T) {
		t.Parallel()
		db := setup(t, open)
		s1, s2, s3 := schema("o", "s1", "Co"), schema("o", "s2", "Co"), schema("o", "s3", "Other")
		require.NoError(t, db.CreateSchema(s1, 3))
		require.NoError(t, db.CreateSchema(s2, 3))
		require.Equal(t, "Co (2)", s2.Name, "a taken name gets a suffix")
		require.NoError(t, db.CreateSchema(s3, 3))
		requireKind(t, db.CreateSchema(schema("o", "s4", "X"), 3), enricher.KindConflict, "limit")
		require.NoError(t, db.CreateSchema(schema("p", "s4", "Co"), 3), "another organization has its own names and limit")

		got, err := db.Schema("o", "s1")
		require.NoError(t, err)
		require.JSONEq(t, `{"b":1,"a":2}`, string(got.Content))
		require.Equal(t, `{"b":1,"a":2}`, string(got.Content), "content kept byte for byte")
		_, err = db.Schema("p", "s1")
		requireKind(t, err, enricher.KindNotFound, "another organization's schema")

		_, err = db.UpdateSchema("o", "s3", func(s *enricher.SavedSchema) error { s.Name = "Co"; return nil })
		requireKind(t, err, enricher.KindConflict, "rename onto a live name")
		up, err := db.UpdateSchema("o", "s3", func(s *enricher.SavedSchema) error { s.Name, s.IsDeleted = "Third", true; return nil })
		require.NoError(t, err)
		require.Equal(t, "Third", up.Name)
		require.False(t, up.IsDeleted, "IsDeleted does not change through UpdateSchema")

		del, err := db.DeleteSchema("o", "s1", t0.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, del.IsDeleted)
		require.NotNil(t, del.DeletedAt)
		require.NoError(t, db.CreateSchema(schema("o", "s5", "Co"), 3), "a deleted schema frees its name and its slot")
		s5, err := db.Schema("o", "s5")
		require.NoError(t, err)
		require.Equal(t, "Co", s5.Name)
		res, err := db.RestoreSchema("o", "s1", t0.Add(2*time.Hour))
		require.NoError(t, err)
		require.False(t, res.IsDeleted)
		require.Equal(t, "Co (3)", res.Name, "restored under a free name")
		list, err := db.Schemas("o")
		require.NoError(t, err)
		var ids []string
		for _, s := range list {
			ids = append(ids, s.ID)
		}
		require.Equal(t, []string{"s1", "s2", "s3", "s5"}, ids, "id order")
		_, err = db.DeleteSchema("p", "s1", t0)
		requireKind(t, err, enricher.KindNotFound)
	})
}
