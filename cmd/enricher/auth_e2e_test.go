package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRegisterLoginRefreshMe(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	tok, reg := ts.register("Ada@Example.com ", "Analytical Engines")
	require.Equal(t, "admin", reg.str("user.role"), "first user of an empty instance is admin")
	require.Equal(t, "ada@example.com", reg.str("user.email"), "emails are trimmed and lower-cased")
	require.Equal(t, "analytical-engines", reg.str("organization.slug"))
	require.Equal(t, "bearer", reg.str("token_type"))
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, reg.str("expires_at"))

	me := ts.bearer(tok).must(200, "GET", "/api/auth/me", nil)
	require.Equal(t, "access_token", me.str("auth_method"))
	require.Equal(t, "admin", me.str("role"))
	require.Nil(t, me.get("api_key"))

	_, second := ts.register("bob@example.com", "Analytical Engines")
	require.Equal(t, "owner", second.str("user.role"), "later registrants own their organization")
	require.Equal(t, "analytical-engines-2", second.str("organization.slug"))

	ts.anon().must(401, "POST", "/api/auth/login", map[string]any{"email": "ada@example.com", "password": "wrong password"})
	ts.anon().must(401, "POST", "/api/auth/login", map[string]any{"email": "nobody@example.com", "password": "wrong password"})
	login := ts.anon().must(200, "POST", "/api/auth/login", map[string]any{"email": "ADA@example.com", "password": "correct horse battery"})
	require.NotEmpty(t, login.str("user.last_login_at"))

	refresh := login.str("refresh_token")
	next := ts.anon().must(200, "POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh})
	require.NotEqual(t, refresh, next.str("refresh_token"))
	ts.anon().must(401, "POST", "/api/auth/refresh", map[string]any{"refresh_token": refresh})
	ts.bearer(next.str("access_token")).must(200, "GET", "/api/auth/me", nil)

	ts.anon().must(200, "POST", "/api/auth/logout", map[string]any{"refresh_token": next.str("refresh_token")})
	ts.anon().must(401, "POST", "/api/auth/refresh", map[string]any{"refresh_token": next.str("refresh_token")})

	// Access tokens expire after access_token_ttl (15 min).
	ts.clock.Advance(16 * time.Minute)
	ts.bearer(tok).must(401, "GET", "/api/auth/me", nil)
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	tests := []struct {
		name   string
		body   any
		status int
		detail string
	}{
		{"malformed JSON", `{"email": `, 400, "not valid JSON"},
		{"not an object", `[1, 2]`, 400, "JSON object"},
		{"wrong type", `{"email": 5, "password": "12345678", "organization_name": "x"}`, 400, "email: expected string"},
		{"short password", map[string]any{"email": "a@b.co", "password": "short", "organization_name": "x"}, 400, "password"},
		{"bad email", map[string]any{"email": "nope", "password": "12345678", "organization_name": "x"}, 400, "email"},
		{"missing org", map[string]any{"email": "a@b.co", "password": "12345678"}, 400, "organization_name"},
		{"bad slug", map[string]any{"email": "a@b.co", "password": "12345678", "organization_name": "x", "organization_slug": "A!"}, 400, "organization_slug"},
		{"reserved slug", map[string]any{"email": "a@b.co", "password": "12345678", "organization_name": "x", "organization_slug": "default"}, 409, "taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.anon().must(tt.status, "POST", "/api/auth/register", tt.body)
			require.Contains(t, r.str("detail")+strings.Join(toStrings(r.get("errors")), ";"), tt.detail)
		})
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestBodyLimitAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_MAX_BODY_BYTES": "1024", "ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	big := `{"name": "` + strings.Repeat("x", 2000) + `"}`
	r := ts.bootstrap().must(413, "POST", "/api/schema/saved", big)
	require.Contains(t, r.str("detail"), "1024")
	// 413 is decided before authentication.
	ts.anon().must(413, "POST", "/api/schema/saved", big)

	ts.bootstrap().must(404, "GET", "/api/nothing-here", nil)
	r = ts.bootstrap().must(405, "PUT", "/api/schema/saved", nil)
	require.Contains(t, r.header.Get("Allow"), "GET")
	require.NotEmpty(t, r.header.Get("X-Request-ID"))
	r = ts.bootstrap().must(200, "GET", "/api/auth/me", nil, "X-Request-ID", "trace-42")
	require.Equal(t, "trace-42", r.header.Get("X-Request-ID"))
}

// A URL too long for the server's read buffer is a 414 with a detail, also on a write request
// whose body is still being sent: the client reads the answer instead of a connection reset.
func TestLongURI(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	ts.bootstrap().must(404, "PATCH", "/api/schema/saved/not-a-uuid", map[string]any{"name": "x"})
	longID := strings.Repeat("a", 10_000)
	for _, tt := range []struct {
		method string
		body   int
	}{{"PATCH", 1 << 20}, {"POST", 64 << 10}, {"GET", 0}} {
		t.Run(tt.method, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			sent := make(chan error, 1)
			go func() { // the client keeps sending its body while the server answers
				head := fmt.Sprintf("%s /api/schema/saved/%s HTTP/1.1\r\nHost: x\r\nX-API-Key: %s\r\n"+
					"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", tt.method, longID, testBootstrapKey, tt.body)
				_, err := conn.Write(append([]byte(head), bytes.Repeat([]byte(" "), tt.body)...))
				sent <- err
			}()
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err, "the answer arrives, not a reset")
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err, "the whole answer arrives")
			require.Equal(t, http.StatusRequestURITooLong, resp.StatusCode, string(body))
			var e struct{ Detail string }
			require.NoError(t, json.Unmarshal(body, &e))
			require.Contains(t, e.Detail, "longer than")
			require.NoError(t, <-sent, "the body was taken in, not refused by a reset")
		})
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"none", nil, 401},
		{"unknown key", []string{"X-API-Key", "ent_unknownunknownunknownunknownunknown00"}, 401},
		{"not a key", []string{"X-API-Key", "hello"}, 401},
		{"bearer key", []string{"Authorization", "Bearer " + testBootstrapKey}, 200},
		{"bad bearer", []string{"Authorization", "Basic abc"}, 401},
		{"garbage token", []string{"Authorization", "Bearer abc.def"}, 401},
		{"first credential wins", []string{"X-API-Key", "ent_bad", "Authorization", "Bearer " + testBootstrapKey}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.anon().must(tt.status, "GET", "/api/auth/me", nil, tt.headers...)
		})
	}
	// ?token= is ignored outside the browser pages.
	ts.anon().must(401, "GET", "/api/auth/me?token="+testBootstrapKey, nil)
	me := ts.bootstrap().must(200, "GET", "/api/auth/me", nil)
	require.Equal(t, "api_key", me.str("auth_method"))
	require.Equal(t, "admin", me.str("role"))
	require.Nil(t, me.get("user"))
	require.Equal(t, "default", me.str("organization.slug"))
	require.Equal(t, "bootstrap", me.str("api_key.name"))
}

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	tok, _ := ts.register("owner@example.com", "Keys Inc")
	owner := ts.bearer(tok)

	key, created := owner.createKey(map[string]any{"name": "ci", "expires_in_days": 1})
	require.Regexp(t, `^ent_[0-9A-Za-z]{43}$`, key)
	require.Equal(t, key[:12], created.str("key_prefix"))
	require.Equal(t, "user", created.str("type"))
	require.Nil(t, created.get("role"))
	require.Equal(t, "admin", created.str("effective_role"))

	user := ts.key(key)
	me := user.must(200, "GET", "/api/auth/me", nil)
	require.Equal(t, "owner@example.com", me.str("user.email"), "a user key acts as its user")

	list := owner.must(200, "GET", "/api/auth/api-keys", nil)
	require.EqualValues(t, 1, list.get("total"))
	require.NotContains(t, string(list.raw), key, "the full key is shown once")
	require.NotContains(t, string(list.raw), "hash")

	// Expired keys are refused.
	ts.clock.Advance(25 * time.Hour)
	r := user.must(401, "GET", "/api/auth/me", nil)
	require.Equal(t, "API key expired", r.str("detail"))
	login := ts.anon().must(200, "POST", "/api/auth/login", map[string]any{"email": "owner@example.com", "password": "correct horse battery"})
	owner = ts.bearer(login.str("access_token"))

	// Revocation takes effect at the next request, including the revoking key's own.
	key2, created2 := owner.createKey(map[string]any{"name": "revoke-me"})
	id2 := created2.str("id")
	revoked := ts.key(key2).must(200, "DELETE", "/api/auth/api-keys/"+id2, nil)
	require.Equal(t, false, revoked.get("is_active"))
	r = ts.key(key2).must(401, "GET", "/api/auth/me", nil)
	require.Equal(t, "API key revoked", r.str("detail"))
	again := owner.must(200, "DELETE", "/api/auth/api-keys/"+id2, nil)
	require.Equal(t, revoked.str("revoked_at"), again.str("revoked_at"), "revoking twice returns the same")
	owner.must(409, "PATCH", "/api/auth/api-keys/"+id2, map[string]any{"name": "x"})

	list = owner.must(200, "GET", "/api/auth/api-keys", nil)
	require.EqualValues(t, 1, list.get("total"), "revoked keys are hidden by default")
	list = owner.must(200, "GET", "/api/auth/api-keys?include_revoked=true", nil)
	require.EqualValues(t, 2, list.get("total"))
}

func TestScopesAndRoles(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	tok, _ := ts.register("owner@example.com", "Roles Inc")
	owner := ts.bearer(tok)

	readKey, _ := owner.createKey(map[string]any{"name": "reader", "scopes": []string{"read"}})
	ts.key(readKey).must(200, "GET", "/api/schema/saved", nil)
	r := ts.key(readKey).must(403, "POST", "/api/schema/saved", map[string]any{"name": "x", "schema_content": companySchema})
	require.Contains(t, r.str("detail"), "write")

	opKey, op := owner.createKey(map[string]any{"name": "operator", "role": "operator"})
	require.Equal(t, "organization", op.str("type"))
	operator := ts.key(opKey)
	operator.must(403, "POST", "/api/schema/saved", map[string]any{"name": "x", "schema_content": companySchema})
	operator.must(200, "GET", "/api/enrichment/options", nil)
	operator.must(403, "GET", "/api/auth/users", nil)
	operator.must(403, "GET", "/api/admin/organizations", nil)
	operator.must(400, "POST", "/api/auth/api-keys", map[string]any{"name": "mine"}) // a user key needs a user
	operator.must(403, "POST", "/api/auth/api-keys", map[string]any{"name": "org", "role": "operator"})

	edKey, _ := owner.createKey(map[string]any{"name": "editor", "role": "editor"})
	ts.key(edKey).must(200, "POST", "/api/schema/saved", map[string]any{"name": "x", "schema_content": companySchema})

	// The registrant of a second organization is owner, not admin.
	tok2, _ := ts.register("other@example.com", "Other Inc")
	other := ts.bearer(tok2)
	other.must(403, "POST", "/api/auth/api-keys", map[string]any{"name": "adm", "role": "admin"})
	other.must(403, "GET", "/api/admin/users", nil)
	owner.must(200, "GET", "/api/admin/organizations", nil)
}

func TestMembers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	tok, reg := ts.register("owner@example.com", "Members Inc")
	owner := ts.bearer(tok)
	slug := reg.str("organization.slug")

	joined := ts.anon().must(200, "POST", "/api/auth/organizations/join", map[string]any{
		"email": "new@example.com", "password": "12345678", "organization_slug": slug,
	})
	require.Equal(t, "pending", joined.str("status"))
	ts.anon().must(404, "POST", "/api/auth/organizations/join", map[string]any{"email": "x@example.com", "password": "12345678", "organization_slug": "no-such-org"})
	ts.anon().must(403, "POST", "/api/auth/login", map[string]any{"email": "new@example.com", "password": "12345678"})

	pending := owner.must(200, "GET", "/api/auth/pending-users", nil)
	require.EqualValues(t, 1, pending.get("total"))
	id := pending.body["users"].([]any)[0].(map[string]any)["id"].(string)
	owner.must(200, "PATCH", "/api/auth/users/"+id+"/approval", map[string]any{"action": "approve"})
	owner.must(409, "PATCH", "/api/auth/users/"+id+"/approval", map[string]any{"action": "approve"})
	login := ts.anon().must(200, "POST", "/api/auth/login", map[string]any{"email": "new@example.com", "password": "12345678"})
	member := ts.bearer(login.str("access_token"))
	require.Equal(t, "operator", login.str("user.role"))

	owner.must(400, "PATCH", "/api/auth/users/"+id+"/role", map[string]any{"role": "boss"})
	owner.must(200, "PATCH", "/api/auth/users/"+id+"/role", map[string]any{"role": "editor"})
	// Role changes take effect at once on existing tokens.
	require.Equal(t, "editor", member.must(200, "GET", "/api/auth/me", nil).str("role"))

	ownerID := reg.str("user.id")
	owner.must(409, "PATCH", "/api/auth/users/"+ownerID+"/role", map[string]any{"role": "operator"})
	owner.must(409, "DELETE", "/api/auth/users/"+ownerID, nil)
	owner.must(409, "POST", "/api/auth/leave-organization", map[string]any{})

	owner.must(200, "DELETE", "/api/auth/users/"+id, nil)
	member.must(401, "GET", "/api/auth/me", nil)
	all := owner.must(200, "GET", "/api/auth/users?status=all", nil)
	require.EqualValues(t, 2, all.get("total"))
	owner.must(400, "GET", "/api/auth/users?status=weird", nil)
	owner.must(400, "GET", "/api/auth/users?page_size=101", nil)

	left := owner.must(200, "POST", "/api/auth/leave-organization", map[string]any{"delete_organization": true})
	require.Equal(t, true, left.get("organization_deleted"))
	owner.must(401, "GET", "/api/auth/me", nil)
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	ts.register("lock@example.com", "Lock Inc")
	for range 10 {
		ts.anon().must(401, "POST", "/api/auth/login", map[string]any{"email": "lock@example.com", "password": "bad password"})
	}
	r := ts.anon().must(429, "POST", "/api/auth/login", map[string]any{"email": "lock@example.com", "password": "correct horse battery"})
	require.NotEmpty(t, r.header.Get("Retry-After"))
	ts.clock.Advance(16 * time.Minute)
	ts.anon().must(200, "POST", "/api/auth/login", map[string]any{"email": "lock@example.com", "password": "correct horse battery"})
}

func TestSignupDisabled(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_ALLOW_SIGNUP": "false"}, nil)
	ts.register("first@example.com", "First")
	ts.anon().must(403, "POST", "/api/auth/register", map[string]any{"email": "second@example.com", "password": "12345678", "organization_name": "Second"})
}

func TestHealthAndCheckSlug(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), nil, nil)
	h := ts.anon().must(200, "GET", "/health", nil)
	require.Equal(t, "ok", h.str("status"))
	require.Equal(t, "ok", h.str("storage"))
	ts.register("slug@example.com", "Taken Name")
	r := ts.anon().must(200, "GET", "/api/auth/check-slug?slug=taken-name", nil)
	require.Equal(t, true, r.get("valid"))
	require.Equal(t, false, r.get("available"))
	r = ts.anon().must(200, "GET", "/api/auth/check-slug?slug=free-name", nil)
	require.Equal(t, true, r.get("available"))
	r = ts.anon().must(200, "GET", "/api/auth/check-slug?slug=default", nil)
	require.Equal(t, false, r.get("available"))
	ts.anon().must(400, "GET", "/api/auth/check-slug", nil)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey, "ENRICHER_RATE_LIMIT": "1"}, nil)
	c := ts.bootstrap()
	c.must(200, "GET", "/api/auth/me", nil)
	c.must(200, "GET", "/api/auth/me", nil) // burst of twice the rate
	r := c.must(429, "GET", "/api/auth/me", nil)
	require.NotEmpty(t, r.header.Get("Retry-After"))
	ts.clock.Advance(time.Second)
	c.must(200, "GET", "/api/auth/me", nil)
}

// Account-level actions need a login: an API key of either kind (a user key of the last owner
// included) can neither leave nor delete the organization.
func TestLeaveNeedsAccessToken(t *testing.T) {
	t.Parallel()
	ts := startServer(t, t.TempDir(), map[string]string{"ENRICHER_BOOTSTRAP_KEY": testBootstrapKey}, nil)
	tok, _ := ts.register("last-owner@example.com", "Keyholders")
	owner := ts.bearer(tok)
	userKey, _ := owner.createKey(map[string]any{"name": "user key"})
	orgKey, _ := owner.createKey(map[string]any{"name": "org key", "role": "owner"})
	for name, c := range map[string]*client{"user key": ts.key(userKey), "user key as bearer": ts.bearer(userKey),
		"organization key": ts.key(orgKey), "bootstrap key": ts.bootstrap()} {
		for _, body := range []map[string]any{{}, {"delete_organization": true}} {
			r := c.must(400, "POST", "/api/auth/leave-organization", body)
			require.Contains(t, r.str("detail"), "access token", name)
		}
	}
	me := owner.must(200, "GET", "/api/auth/me", nil)
	require.Equal(t, "owner", me.str("role"), "the user is still active")
	ts.key(userKey).must(200, "GET", "/api/auth/me", nil)
}
