package enricher

import (
	"strconv"
	"strings"
	"time"
)

// Role is a level of access inside an organization. Higher roles include every
// right of the lower ones.
type Role string

// The roles, lowest first.
const (
	RoleOperator Role = "operator"
	RoleEditor   Role = "editor"
	RoleOwner    Role = "owner"
	RoleAdmin    Role = "admin"
)

// Level returns the numeric level of r (operator 1, editor 2, owner 4, admin 5), or 0 for an
// unknown role.
func (r Role) Level() int {
	switch r {
	case RoleOperator:
		return 1
	case RoleEditor:
		return 2
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 5
	}
	return 0
}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return r.Level() > 0 }

// AtLeast reports whether r includes the rights of min.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.Level() >= min.Level() }

// UserStatus is the lifecycle state of a user.
type UserStatus string

// The user statuses.
const (
	UserActive      UserStatus = "active"
	UserPending     UserStatus = "pending"
	UserRejected    UserStatus = "rejected"
	UserDeactivated UserStatus = "deactivated"
)

// Organization is a tenant. Every user, key, schema, job and record belongs to exactly one.
type Organization struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	IsActive  bool   `json:"is_active"`
	CreatedAt Time   `json:"created_at"`
}

// User is a person who logs in. PasswordHash is never serialised to clients; the storage
// layer keeps it in its own encoding.
type User struct {
	ID             string     `json:"id"`
	Email          string     `json:"email"`
	DisplayName    *string    `json:"display_name"`
	Role           Role       `json:"role"`
	Status         UserStatus `json:"status"`
	OrganizationID string     `json:"organization_id"`
	CreatedAt      Time       `json:"created_at"`
	LastLoginAt    *Time      `json:"last_login_at"`
	PasswordHash   string     `json:"-"`
}

// KeyType tells organization access keys from user keys.
type KeyType string

// The API key types.
const (
	KeyOrganization KeyType = "organization"
	KeyUser         KeyType = "user"
)

// Scope is a permission class of an API key: read for GET/HEAD, write for everything else.
type Scope string

// The scopes.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
)

// APIKey is a stored API key. Only Hash (hex SHA-256 of the whole key) identifies it; the key
// itself is never stored. Role is nil for user keys, which act with their user's current role.
type APIKey struct {
	ID             string  `json:"id"`
	OrganizationID string  `json:"-"`
	Name           string  `json:"name"`
	Type           KeyType `json:"type"`
	KeyPrefix      string  `json:"key_prefix"`
	Role           *Role   `json:"role"`
	Scopes         []Scope `json:"scopes"`
	IsActive       bool    `json:"is_active"`
	UserID         *string `json:"user_id"`
	CreatedAt      Time    `json:"created_at"`
	ExpiresAt      *Time   `json:"expires_at"`
	LastUsedAt     *Time   `json:"last_used_at"`
	UseCount       int64   `json:"use_count"`
	RevokedAt      *Time   `json:"revoked_at"`
	Hash           string  `json:"-"`
}

// HasScope reports whether k holds s.
func (k *APIKey) HasScope(s Scope) bool {
	for _, have := range k.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

// Expired reports whether k has an expiry at or before now.
func (k *APIKey) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !k.ExpiresAt.After(now)
}

// NormalizeEmail trims and lower-cases an email address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidEmail reports whether s (already normalised) looks like an address: one '@', a
// non-empty local part, a domain with a dot and no spaces, at most 254 bytes.
func ValidEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') {
		return false
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

// ValidSlug reports whether s is a valid organization slug.
func ValidSlug(s string) bool {
	if len(s) < 3 || len(s) > 50 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

// ReservedSlug is the slug of the bootstrap organization; nobody can register it.
const ReservedSlug = "default"

// PickSlug returns slug when it is free; with explicit false it tries slug-2, slug-3, ...
// (each cut so the whole stays within 50 characters) and returns the first free one. The
// reserved slug is never free. taken is the store's lookup; its error is returned as is. An
// explicit slug that is taken is a KindConflict.
func PickSlug(slug string, explicit bool, taken func(string) (bool, error)) (string, error) {
	for n := 1; ; n++ {
		cand := slug
		if n > 1 {
			suffix := "-" + strconv.Itoa(n)
			base := slug
			if len(base)+len(suffix) > 50 {
				base = base[:50-len(suffix)]
			}
			cand = base + suffix
		}
		used := cand == ReservedSlug
		if !used {
			var err error
			if used, err = taken(cand); err != nil {
				return "", err
			}
		}
		if !used {
			return cand, nil
		}
		if explicit {
			return "", Errorf(KindConflict, "organization slug %q is taken", slug)
		}
	}
}

// SlugFromName derives a slug from an organization name: lower-cased, runs of characters
// other than a-z and 0-9 become '-', trimmed of '-', cut to 50 characters. The result may be
// invalid (too short); callers pad or fall back.
func SlugFromName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 50 {
		s = strings.TrimRight(s[:50], "-")
	}
	return s
}

// RefreshToken is the stored state of one refresh token; the token itself is kept only as its
// SHA-256. A refresh token works once.
type RefreshToken struct {
	UserID    string `json:"user_id"`
	OrgID     string `json:"org_id"`
	ExpiresAt Time   `json:"expires_at"`
}

// KeyUsage is a batch of uses of one API key, counted in memory since the last flush.
type KeyUsage struct {
	OrgID, KeyID string
	Uses         int64
	LastUsed     time.Time
}
