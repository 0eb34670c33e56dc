package api

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
)

// loginResponse is LoginResponse (register and login).
type loginResponse struct {
	tokenPair
	User         *enricher.User         `json:"user"`
	Organization *enricher.Organization `json:"organization"`
}

// tokenPair is the refresh response, and the token half of a login response.
type tokenPair struct {
	AccessToken      string        `json:"access_token"`
	RefreshToken     string        `json:"refresh_token"`
	TokenType        string        `json:"token_type"`
	ExpiresAt        enricher.Time `json:"expires_at"`
	RefreshExpiresAt enricher.Time `json:"refresh_expires_at"`
}

// issueTokens creates an access token and a stored refresh token for user.
func (s *Server) issueTokens(user *enricher.User) (tokenPair, error) {
	now := s.now()
	exp, rexp := now.Add(s.cfg.AccessTokenTTL), now.Add(s.cfg.RefreshTokenTTL)
	refresh := newOpaqueToken()
	rec := enricher.RefreshToken{UserID: user.ID, OrgID: user.OrganizationID, ExpiresAt: enricher.NewTime(rexp)}
	access, err := s.signer.sign(accessClaims{UserID: user.ID, OrgID: user.OrganizationID, Expiry: exp.Unix()})
	if err != nil {
		return tokenPair{}, err
	}
	if err := s.deps.Accounts.SaveRefreshToken(sha256Hex(refresh), rec, now); err != nil {
		return tokenPair{}, err
	}
	return tokenPair{
		AccessToken:      access,
		RefreshToken:     refresh,
		TokenType:        "bearer",
		ExpiresAt:        enricher.NewTime(exp),
		RefreshExpiresAt: enricher.NewTime(rexp),
	}, nil
}

// loggedIn answers a register or login with fresh tokens for user.
func (c *call) loggedIn(user *enricher.User, org *enricher.Organization) error {
	tokens, err := c.s.issueTokens(user)
	if err != nil {
		return err
	}
	return c.ok(loginResponse{tokenPair: tokens, User: user, Organization: org})
}

// problems collects validation messages of one request body.
type problems []string

func (p *problems) add(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

// err returns nil, the single problem, or all problems as one 400.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return enricher.Invalid("request", p)
}

// account checks the fields every new user gives and returns the normalised email.
func (p *problems) account(email, password string, displayName *string) string {
	email = enricher.NormalizeEmail(email)
	if !enricher.ValidEmail(email) {
		p.add("email: not a valid email address")
	}
	p.checkLen("password", password, 8, 256)
	if displayName != nil {
		p.checkLen("display_name", *displayName, 0, 100)
	}
	return email
}

// checkLen adds a problem when a string's length in characters is outside lo..hi.
func (p *problems) checkLen(field, v string, lo, hi int) {
	if n := utf8.RuneCountInString(v); n < lo || n > hi {
		if lo == 1 && n == 0 {
			p.add("%s: required", field)
			return
		}
		p.add("%s: must be %d to %d characters", field, lo, hi)
	}
}

type registerRequest struct {
	Email            string  `json:"email"`
	Password         string  `json:"password"`
	DisplayName      *string `json:"display_name"`
	OrganizationName string  `json:"organization_name"`
	OrganizationSlug *string `json:"organization_slug"`
}

func handleRegister(c *call) error {
	var req registerRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	var p problems
	email := p.account(req.Email, req.Password, req.DisplayName)
	name := strings.TrimSpace(req.OrganizationName)
	p.checkLen("organization_name", name, 1, 100)
	slug, explicit := "", req.OrganizationSlug != nil
	if explicit {
		slug = *req.OrganizationSlug
		if !enricher.ValidSlug(slug) {
			p.add("organization_slug: must match ^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
		}
	} else if slug = enricher.SlugFromName(name); len(slug) < 3 {
		slug = strings.Trim(slug+"-org", "-") // "" -> "org", "a" -> "a-org"
	}
	if err := p.err(); err != nil {
		return err
	}
	now := enricher.NewTime(c.s.now())
	org := &enricher.Organization{ID: uuid.NewString(), Name: name, Slug: slug, IsActive: true, CreatedAt: now}
	user := &enricher.User{
		ID: uuid.NewString(), Email: email, DisplayName: req.DisplayName, Status: enricher.UserActive,
		OrganizationID: org.ID, CreatedAt: now, LastLoginAt: &now, PasswordHash: hashPassword(req.Password),
	}
	org, user, err := c.s.deps.Accounts.Register(org, user, explicit, !c.s.cfg.DisableSignup)
	if err != nil {
		return err
	}
	return c.loggedIn(user, org)
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func handleLogin(c *call) error {
	var req loginRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	if req.Email == "" || req.Password == "" {
		return enricher.Errorf(enricher.KindInvalid, "email and password are required")
	}
	email, now := enricher.NormalizeEmail(req.Email), c.s.now()
	if c.s.lockout.locked(email, now) {
		return tooMany{error: enricher.Errorf(enricher.KindTooMany, "too many failed logins for this email; try again later"), seconds: 900}
	}
	wrong := enricher.Errorf(enricher.KindUnauthenticated, "wrong email or password")
	user, err := c.s.deps.Accounts.UserByEmail(email)
	if enricher.IsKind(err, enricher.KindNotFound) {
		checkPassword(dummyHash, req.Password) // same work as for a known email
		c.s.lockout.fail(email, now)
		return wrong
	}
	if err != nil {
		return err
	}
	if !checkPassword(user.PasswordHash, req.Password) {
		c.s.lockout.fail(email, now)
		return wrong
	}
	c.s.lockout.reset(email)
	if user.Status != enricher.UserActive {
		return enricher.Errorf(enricher.KindForbidden, "account is %s", user.Status)
	}
	org, err := c.s.deps.Accounts.Organization(user.OrganizationID)
	if err != nil {
		return err
	}
	if !org.IsActive {
		return enricher.Errorf(enricher.KindForbidden, "organization is not active")
	}
	user, err = c.s.deps.Accounts.UpdateUser(user.OrganizationID, user.ID, func(u *enricher.User) error {
		u.LastLoginAt = enricher.NewTimePtr(now)
		return nil
	})
	if err != nil {
		return err
	}
	return c.loggedIn(user, org)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func handleRefresh(c *call) error {
	var req refreshRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return enricher.Errorf(enricher.KindInvalid, "refresh_token: required")
	}
	invalid := enricher.Errorf(enricher.KindUnauthenticated, "invalid or expired refresh token")
	rec, err := c.s.deps.Accounts.ConsumeRefreshToken(sha256Hex(req.RefreshToken), c.s.now())
	if err != nil {
		return unauthenticatedIfMissing(err, "invalid or expired refresh token")
	}
	user, err := c.s.deps.Accounts.User(rec.OrgID, rec.UserID)
	if err != nil {
		return unauthenticatedIfMissing(err, "invalid or expired refresh token")
	}
	if user.Status != enricher.UserActive {
		return invalid
	}
	if _, err := c.s.activeOrg(user.OrganizationID); err != nil {
		return err
	}
	tokens, err := c.s.issueTokens(user)
	if err != nil {
		return err
	}
	return c.ok(tokens)
}

func handleLogout(c *call) error {
	var req refreshRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return enricher.Errorf(enricher.KindInvalid, "refresh_token: required")
	}
	if err := c.s.deps.Accounts.DeleteRefreshToken(sha256Hex(req.RefreshToken)); err != nil {
		return err
	}
	return c.ok(map[string]bool{"logged_out": true})
}

func handleCheckSlug(c *call) error {
	slug := string(c.ctx.QueryArgs().Peek("slug"))
	if slug == "" {
		return enricher.Errorf(enricher.KindInvalid, "slug: required")
	}
	valid := enricher.ValidSlug(slug)
	available := false
	if valid {
		free, err := c.s.deps.Accounts.SlugAvailable(slug)
		if err != nil {
			return err
		}
		available = free
	}
	return c.ok(map[string]any{"slug": slug, "valid": valid, "available": available})
}

type joinRequest struct {
	Email            string  `json:"email"`
	Password         string  `json:"password"`
	DisplayName      *string `json:"display_name"`
	OrganizationSlug string  `json:"organization_slug"`
}

func handleJoin(c *call) error {
	var req joinRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	var p problems
	email := p.account(req.Email, req.Password, req.DisplayName)
	if req.OrganizationSlug == "" {
		p.add("organization_slug: required")
	}
	if err := p.err(); err != nil {
		return err
	}
	org, err := c.s.deps.Accounts.OrganizationBySlug(req.OrganizationSlug)
	if err != nil {
		return err
	}
	if !org.IsActive {
		return enricher.Errorf(enricher.KindNotFound, "organization not found")
	}
	user := &enricher.User{
		ID: uuid.NewString(), Email: email, DisplayName: req.DisplayName, Role: enricher.RoleOperator,
		Status: enricher.UserPending, OrganizationID: org.ID, CreatedAt: enricher.NewTime(c.s.now()),
		PasswordHash: hashPassword(req.Password),
	}
	if err := c.s.deps.Accounts.CreateUser(user); err != nil {
		return err
	}
	return c.ok(map[string]string{
		"message":           "request sent: an owner of the organization must approve it before you can log in",
		"organization_name": org.Name,
		"status":            string(enricher.UserPending),
	})
}

func handleMe(c *call) error {
	var key *apiKeyView
	if c.p.key != nil {
		v := keyView(c.p.key, c.p.role)
		key = &v
	}
	return c.ok(map[string]any{
		"user": c.p.user, "organization": c.p.org, "role": c.p.role,
		"auth_method": c.p.authMethod(), "api_key": key,
	})
}

type renameRequest struct {
	Name string `json:"name"`
}

func handleRenameOrganization(c *call) error {
	var req renameRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	var p problems
	p.checkLen("name", name, 1, 100)
	if err := p.err(); err != nil {
		return err
	}
	org, err := c.s.deps.Accounts.UpdateOrganization(c.p.org.ID, func(o *enricher.Organization) error {
		o.Name = name
		return nil
	})
	if err != nil {
		return err
	}
	return c.ok(org)
}

// errNeedsLogin refuses account-level actions (leaving, deleting the organization) to API keys
// of either kind: a leaked key must not be able to remove its user or the organization.
var errNeedsLogin = enricher.Errorf(enricher.KindInvalid,
	"this action needs an access token from /api/auth/login, not an API key")

type leaveRequest struct {
	DeleteOrganization bool `json:"delete_organization"`
}

func handleLeave(c *call) error {
	var req leaveRequest
	if len(c.ctx.PostBody()) > 0 {
		if err := decodeBody(c.ctx, &req); err != nil {
			return err
		}
	}
	if c.p.key != nil || c.p.user == nil {
		return errNeedsLogin
	}
	orgID, userID := c.p.org.ID, c.p.user.ID
	_, err := c.s.deps.Accounts.UpdateUser(orgID, userID, func(u *enricher.User) error {
		u.Status = enricher.UserDeactivated
		return nil
	})
	if enricher.IsKind(err, enricher.KindConflict) && req.DeleteOrganization {
		if err := c.s.deps.Accounts.DeactivateOrganization(orgID, c.s.now()); err != nil {
			return err
		}
		return c.ok(map[string]bool{"left": true, "organization_deleted": true})
	}
	if enricher.IsKind(err, enricher.KindConflict) {
		return enricher.Errorf(enricher.KindConflict, "you are the last active owner: pass delete_organization: true to delete the organization, or make someone else owner first")
	}
	if err != nil {
		return err
	}
	return c.ok(map[string]bool{"left": true, "organization_deleted": false})
}
