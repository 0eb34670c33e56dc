package storage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/entity-enricher/enricher"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(Config{InMemory: true})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func newOrgUser(n string) (*enricher.Organization, *enricher.User) {
	org := &enricher.Organization{ID: "00000000-0000-4000-8000-00000000000" + n, Name: "Org " + n, Slug: "acme", IsActive: true, CreatedAt: enricher.NewTime(t0)}
	user := &enricher.User{ID: "10000000-0000-4000-8000-00000000000" + n, Email: "u" + n + "@example.com", Status: enricher.UserActive, CreatedAt: enricher.NewTime(t0), PasswordHash: "h" + n}
	return org, user
}

func TestRegisterRoles(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	org1, u1 := newOrgUser("1")
	gotOrg, gotUser, err := db.Register(org1, u1, false, true)
	require.NoError(t, err)
	require.Equal(t, enricher.RoleAdmin, gotUser.Role, "first user of the instance is admin")
	require.Equal(t, "acme", gotOrg.Slug)
	require.Empty(t, gotUser.PasswordHash, "returned user must not carry the hash")

	org2, u2 := newOrgUser("2")
	gotOrg, gotUser, err = db.Register(org2, u2, false, true)
	require.NoError(t, err)
	require.Equal(t, enricher.RoleOwner, gotUser.Role)
	require.Equal(t, "acme-2", gotOrg.Slug, "derived slug gets a suffix")

	stored, err := db.UserByEmail("u2@example.com")
	require.NoError(t, err)
	require.Equal(t, "h2", stored.PasswordHash)
	require.Equal(t, org2.ID, stored.OrganizationID)
}

func TestRegisterConflicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mutate   func(*enricher.Organization, *enricher.User)
		explicit bool
		signup   bool
		kind     enricher.Kind
	}{
		{name: "email taken", mutate: func(o *enricher.Organization, u *enricher.User) { u.Email = "u1@example.com"; o.Slug = "other" }, signup: true, kind: enricher.KindConflict},
		{name: "explicit slug taken", mutate: func(o *enricher.Organization, u *enricher.User) {}, explicit: true, signup: true, kind: enricher.KindConflict},
		{name: "reserved slug", mutate: func(o *enricher.Organization, u *enricher.User) { o.Slug = "default" }, explicit: true, signup: true, kind: enricher.KindConflict},
		{name: "signup closed", mutate: func(o *enricher.Organization, u *enricher.User) { o.Slug = "other" }, signup: false, kind: enricher.KindForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t)
			org1, u1 := newOrgUser("1")
			_, _, err := db.Register(org1, u1, false, true)
			require.NoError(t, err)
			org2, u2 := newOrgUser("2")
			tt.mutate(org2, u2)
			_, _, err = db.Register(org2, u2, tt.explicit, tt.signup)
			require.Error(t, err)
			require.Equal(t, tt.kind, enricher.ErrorKind(err), err.Error())
		})
	}
}

func TestSignupClosedAllowsFirstUserOnly(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	org, u := newOrgUser("1")
	_, _, err := db.Register(org, u, false, false)
	require.NoError(t, err, "an empty instance accepts its first user even with signup closed")
}

func TestBootstrapKeyCountsAsAdmin(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	b := Bootstrap{Hash: "abc", Prefix: "ent_abcdefgh", NewOrgID: "20000000-0000-4000-8000-000000000001", NewKeyID: "30000000-0000-4000-8000-000000000001", Now: t0}
	require.NoError(t, db.EnsureBootstrap(b))
	org, u := newOrgUser("1")
	_, user, err := db.Register(org, u, false, true)
	require.NoError(t, err)
	require.Equal(t, enricher.RoleOwner, user.Role, "the bootstrap key is the instance's admin")

	// A revoked bootstrap key is re-activated with its settings at the next start.
	_, err = db.UpdateAPIKey(b.NewOrgID, b.NewKeyID, func(k *enricher.APIKey) error {
		k.IsActive, k.RevokedAt, k.Name = false, enricher.NewTimePtr(t0), "renamed"
		return nil
	})
	require.NoError(t, err)
	b.NewOrgID, b.NewKeyID = "unused-org", "unused-key"
	require.NoError(t, db.EnsureBootstrap(b))
	k, err := db.APIKeyByHash("abc")
	require.NoError(t, err)
	require.True(t, k.IsActive)
	require.Nil(t, k.RevokedAt)
	require.Equal(t, "bootstrap", k.Name)
	require.Equal(t, enricher.RoleAdmin, *k.Role)
	def, err := db.OrganizationBySlug("default")
	require.NoError(t, err)
	require.Equal(t, "20000000-0000-4000-8000-000000000001", def.ID, "the default organization is created once")
	require.Equal(t, def.ID, k.OrganizationID)
}

func TestLastOwnerInvariant(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	org, u := newOrgUser("1")
	_, owner, err := db.Register(org, u, false, true)
	require.NoError(t, err)
	_, err = db.UpdateUser(org.ID, owner.ID, func(u *enricher.User) error { u.Role = enricher.RoleOperator; return nil })
	require.ErrorIs(t, err, ErrLastOwner)
	_, err = db.UpdateUser(org.ID, owner.ID, func(u *enricher.User) error { u.Status = enricher.UserDeactivated; return nil })
	require.ErrorIs(t, err, ErrLastOwner)

	second := &enricher.User{ID: "10000000-0000-4000-8000-000000000009", Email: "second@example.com", Role: enricher.RoleOperator,
		Status: enricher.UserPending, OrganizationID: org.ID, CreatedAt: enricher.NewTime(t0.Add(time.Second))}
	require.NoError(t, db.CreateUser(second))
	_, err = db.UpdateUser(org.ID, second.ID, func(u *enricher.User) error { u.Status, u.Role = enricher.UserActive, enricher.RoleOwner; return nil })
	require.NoError(t, err)
	_, err = db.UpdateUser(org.ID, owner.ID, func(u *enricher.User) error { u.Role = enricher.RoleOperator; return nil })
	require.NoError(t, err, "another active owner remains")

	users, err := db.Users(org.ID)
	require.NoError(t, err)
	require.Len(t, users, 2)
	require.Equal(t, owner.ID, users[0].ID, "users are listed in creation order")
}

func TestRefreshTokenSingleUse(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	rt := enricher.RefreshToken{UserID: "u", OrgID: "o", ExpiresAt: enricher.NewTime(t0.Add(time.Hour))}
	require.NoError(t, db.SaveRefreshToken("h", rt, t0))
	got, err := db.ConsumeRefreshToken("h", t0)
	require.NoError(t, err)
	require.Equal(t, "u", got.UserID)
	_, err = db.ConsumeRefreshToken("h", t0)
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "second use fails")

	require.NoError(t, db.SaveRefreshToken("late", rt, t0))
	_, err = db.ConsumeRefreshToken("late", t0.Add(2*time.Hour))
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "expired token fails")
}

func TestKeyUsage(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	k := &enricher.APIKey{ID: "k1", OrganizationID: "o1", Name: "n", Type: enricher.KeyUser, Hash: "hash1", IsActive: true, CreatedAt: enricher.NewTime(t0)}
	require.NoError(t, db.CreateAPIKey(k))
	require.Error(t, db.CreateAPIKey(k), "same hash twice")
	require.NoError(t, db.AddKeyUsage([]enricher.KeyUsage{{OrgID: "o1", KeyID: "k1", Uses: 3, LastUsed: t0}, {OrgID: "o1", KeyID: "gone", Uses: 1, LastUsed: t0}}))
	require.NoError(t, db.AddKeyUsage([]enricher.KeyUsage{{OrgID: "o1", KeyID: "k1", Uses: 2, LastUsed: t0.Add(time.Minute)}}))
	got, err := db.APIKey("o1", "k1")
	require.NoError(t, err)
	require.EqualValues(t, 5, got.UseCount)
	require.True(t, got.LastUsedAt.Equal(t0.Add(time.Minute)))
	_, err = db.APIKey("o2", "k1")
	require.True(t, enricher.IsKind(err, enricher.KindNotFound), "keys are scoped to their organization")
}

func savedSchema(id, name string) *enricher.SavedSchema {
	return &enricher.SavedSchema{ID: id, OrganizationID: "o1", Name: name, Content: []byte(`{}`), CreatedAt: enricher.NewTime(t0), UpdatedAt: enricher.NewTime(t0)}
}

func TestSchemaNamesAndLimit(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	a, b, c := savedSchema("a", "Company"), savedSchema("b", "Company"), savedSchema("c", "Company")
	require.NoError(t, db.CreateSchema(a, 3))
	require.NoError(t, db.CreateSchema(b, 3))
	require.Equal(t, "Company (2)", b.Name)
	require.NoError(t, db.CreateSchema(c, 3))
	require.Equal(t, "Company (3)", c.Name)
	err := db.CreateSchema(savedSchema("d", "Other"), 3)
	require.True(t, enricher.IsKind(err, enricher.KindConflict), "limit reached")

	_, err = db.UpdateSchema("o1", "c", func(s *enricher.SavedSchema) error { s.Name = "Company"; return nil })
	require.True(t, enricher.IsKind(err, enricher.KindConflict), "rename onto a live name")

	_, err = db.DeleteSchema("o1", "a", t0)
	require.NoError(t, err)
	require.NoError(t, db.CreateSchema(savedSchema("d", "Other"), 3), "deleting freed a slot")
	_, err = db.UpdateSchema("o1", "c", func(s *enricher.SavedSchema) error { s.Name = "Company"; return nil })
	require.NoError(t, err, "the deleted schema's name is free")

	restored, err := db.RestoreSchema("o1", "a", t0)
	require.NoError(t, err)
	require.False(t, restored.IsDeleted)
	require.Equal(t, "Company (3)", restored.Name, "restore suffixes a taken name with the first free number")
	again, err := db.RestoreSchema("o1", "a", t0)
	require.NoError(t, err)
	require.Equal(t, restored.Name, again.Name, "restoring a live schema changes nothing")

	all, err := db.Schemas("o1")
	require.NoError(t, err)
	require.Len(t, all, 4)
	other, err := db.Schemas("o2")
	require.NoError(t, err)
	require.Empty(t, other)
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := Open(Config{Dir: dir})
	require.NoError(t, err)
	org, u := newOrgUser("1")
	_, _, err = db.Register(org, u, false, true)
	require.NoError(t, err)
	secret, err := db.Secret("token_secret", func() []byte { return []byte("first") })
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, db.Close(), "Close is idempotent")

	db, err = Open(Config{Dir: dir})
	require.NoError(t, err)
	defer db.Close()
	got, err := db.UserByEmail(u.Email)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	again, err := db.Secret("token_secret", func() []byte { return []byte("second") })
	require.NoError(t, err)
	require.Equal(t, secret, again, "the secret is generated once")
	require.NoError(t, db.Ping())
}
