package api

import (
	"bytes"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/entity-enricher/enricher"
)

// principal is the authenticated caller of one request. Its role and status were read from
// storage during this request, so changes take effect at once.
type principal struct {
	org          *enricher.Organization
	user         *enricher.User   // nil for organization access keys
	key          *enricher.APIKey // nil for access tokens
	role         enricher.Role    // effective role
	credentialID string           // key id or "user:<id>", for rate limiting
}

func (p *principal) hasScope(s enricher.Scope) bool { return p.key == nil || p.key.HasScope(s) }

func (p *principal) authMethod() string {
	if p.key != nil {
		return "api_key"
	}
	return "access_token"
}

// userID returns the id of the user behind the credential (user keys, tokens) or of the key's
// creator, or "" for organization keys created by a key.
func (p *principal) userID() *string {
	if p.user != nil {
		id := p.user.ID
		return &id
	}
	return nil
}

var errNoCredential = enricher.Errorf(enricher.KindUnauthenticated, "missing credential: send X-API-Key or Authorization: Bearer")

// authenticate resolves the first credential present (X-API-Key, Authorization: Bearer, then
// ?token= where allowed); an invalid first credential is 401 even if a later one is valid.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, queryToken bool) (*principal, error) {
	if v := ctx.Request.Header.Peek("X-API-Key"); len(v) > 0 {
		return s.authKey(string(v))
	}
	if v := ctx.Request.Header.Peek("Authorization"); len(v) > 0 {
		scheme, tok, ok := bytes.Cut(bytes.TrimSpace(v), []byte(" "))
		if !ok || !strings.EqualFold(string(scheme), "bearer") || len(bytes.TrimSpace(tok)) == 0 {
			return nil, enricher.Errorf(enricher.KindUnauthenticated, "malformed Authorization header: expected Bearer <token>")
		}
		return s.authToken(string(bytes.TrimSpace(tok)))
	}
	if queryToken {
		if v := ctx.QueryArgs().Peek("token"); len(v) > 0 {
			return s.authToken(string(v))
		}
	}
	return nil, errNoCredential
}

// authToken accepts an API key or an access token.
func (s *Server) authToken(tok string) (*principal, error) {
	if strings.HasPrefix(tok, "ent_") {
		return s.authKey(tok)
	}
	claims, ok := s.signer.verify(tok, s.now())
	if !ok {
		return nil, enricher.Errorf(enricher.KindUnauthenticated, "invalid or expired access token")
	}
	user, err := s.deps.Accounts.User(claims.OrgID, claims.UserID)
	if err != nil {
		return nil, unauthenticatedIfMissing(err, "invalid access token")
	}
	if user.Status != enricher.UserActive {
		return nil, enricher.Errorf(enricher.KindUnauthenticated, "user is not active")
	}
	org, err := s.activeOrg(user.OrganizationID)
	if err != nil {
		return nil, err
	}
	return &principal{org: org, user: user, role: user.Role, credentialID: "user:" + user.ID}, nil
}

// authKey accepts an API key.
func (s *Server) authKey(raw string) (*principal, error) {
	if !strings.HasPrefix(raw, "ent_") || len(raw) > 256 {
		return nil, enricher.Errorf(enricher.KindUnauthenticated, "invalid API key")
	}
	key, err := s.deps.Keys.APIKeyByHash(sha256Hex(raw))
	if err != nil {
		return nil, unauthenticatedIfMissing(err, "invalid API key")
	}
	now := s.now()
	switch {
	case key.RevokedAt != nil || !key.IsActive:
		return nil, enricher.Errorf(enricher.KindUnauthenticated, "API key revoked")
	case key.Expired(now):
		return nil, enricher.Errorf(enricher.KindUnauthenticated, "API key expired")
	}
	org, err := s.activeOrg(key.OrganizationID)
	if err != nil {
		return nil, err
	}
	p := &principal{org: org, key: key, credentialID: key.ID}
	if key.Type == enricher.KeyUser {
		if key.UserID == nil {
			return nil, enricher.Errorf(enricher.KindUnauthenticated, "invalid API key")
		}
		user, err := s.deps.Accounts.User(key.OrganizationID, *key.UserID)
		if err != nil {
			return nil, unauthenticatedIfMissing(err, "invalid API key")
		}
		if user.Status != enricher.UserActive {
			return nil, enricher.Errorf(enricher.KindUnauthenticated, "the user of this API key is not active")
		}
		p.user, p.role = user, user.Role
	} else if key.Role != nil {
		p.role = *key.Role
	}
	s.usage.record(key.OrganizationID, key.ID, now)
	return p, nil
}

func (s *Server) activeOrg(id string) (*enricher.Organization, error) {
	org, err := s.deps.Accounts.Organization(id)
	if err != nil {
		return nil, unauthenticatedIfMissing(err, "invalid credential")
	}
	if !org.IsActive {
		return nil, enricher.Errorf(enricher.KindUnauthenticated, "organization is not active")
	}
	return org, nil
}

// unauthenticatedIfMissing turns a not-found lookup into a 401; other errors pass through.
func unauthenticatedIfMissing(err error, msg string) error {
	if enricher.IsKind(err, enricher.KindNotFound) {
		return enricher.Errorf(enricher.KindUnauthenticated, "%s", msg)
	}
	return err
}
