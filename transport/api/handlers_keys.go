package api

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/entity-enricher/enricher"
)

// apiKeyView is the ApiKey object: the stored key plus its effective role.
type apiKeyView struct {
	*enricher.APIKey
	EffectiveRole enricher.Role `json:"effective_role"`
}

func keyView(k *enricher.APIKey, effective enricher.Role) apiKeyView {
	return apiKeyView{APIKey: k, EffectiveRole: effective}
}

// apiKeyCreated is ApiKeyCreated: the view plus the full key, shown once.
type apiKeyCreated struct {
	apiKeyView
	Key string `json:"key"`
}

// visible reports whether the caller may see and manage k: owners and above every key of the
// organization, others only their own user keys.
func (p *principal) visible(k *enricher.APIKey) bool {
	if p.role.AtLeast(enricher.RoleOwner) {
		return true
	}
	return k.Type == enricher.KeyUser && p.user != nil && k.UserID != nil && *k.UserID == p.user.ID
}

// effectiveRoles returns the role each key acts with: its own (organization keys) or its
// user's current role (user keys; "" for a user that no longer exists).
func (s *Server) effectiveRoles(org string, keys []*enricher.APIKey) (map[string]enricher.Role, error) {
	out := make(map[string]enricher.Role, len(keys))
	var users map[string]*enricher.User
	for _, k := range keys {
		if k.Role != nil {
			out[k.ID] = *k.Role
			continue
		}
		if users == nil {
			list, err := s.deps.Accounts.Users(org)
			if err != nil {
				return nil, err
			}
			users = make(map[string]*enricher.User, len(list))
			for _, u := range list {
				users[u.ID] = u
			}
		}
		if k.UserID != nil && users[*k.UserID] != nil {
			out[k.ID] = users[*k.UserID].Role
		}
	}
	return out, nil
}

func (c *call) keyViews(keys []*enricher.APIKey) ([]apiKeyView, error) {
	roles, err := c.s.effectiveRoles(c.p.org.ID, keys)
	if err != nil {
		return nil, err
	}
	out := make([]apiKeyView, len(keys))
	for i, k := range keys {
		out[i] = keyView(k, roles[k.ID])
	}
	return out, nil
}

// keyResponse answers with the view of one key.
func (c *call) keyResponse(k *enricher.APIKey) error {
	views, err := c.keyViews([]*enricher.APIKey{k})
	if err != nil {
		return err
	}
	return c.ok(views[0])
}

func handleListKeys(c *call) error {
	revoked, err := queryBool(c.ctx, "include_revoked", false)
	if err != nil {
		return err
	}
	keys, err := c.s.deps.Keys.APIKeys(c.p.org.ID)
	if err != nil {
		return err
	}
	keys = slices.DeleteFunc(keys, func(k *enricher.APIKey) bool {
		return !c.p.visible(k) || (!revoked && k.RevokedAt != nil)
	})
	views, err := c.keyViews(keys)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"api_keys": views, "total": len(views)})
}

type createKeyRequest struct {
	Name          string   `json:"name"`
	Role          *string  `json:"role"`
	Scopes        []string `json:"scopes"`
	ExpiresInDays *int     `json:"expires_in_days"`
}

// parseScopes checks a scopes list: a non-empty subset of read and write; nil means both.
func parseScopes(in []string, given bool) ([]enricher.Scope, error) {
	if !given {
		return []enricher.Scope{enricher.ScopeRead, enricher.ScopeWrite}, nil
	}
	if len(in) == 0 {
		return nil, enricher.Errorf(enricher.KindInvalid, "scopes: must hold read, write or both")
	}
	var out []enricher.Scope
	for _, s := range in {
		sc := enricher.Scope(s)
		if sc != enricher.ScopeRead && sc != enricher.ScopeWrite {
			return nil, enricher.Errorf(enricher.KindInvalid, "scopes: unknown scope %q", s)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	slices.Sort(out)
	return out, nil
}

func handleCreateKey(c *call) error {
	var req createKeyRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	var p problems
	name := strings.TrimSpace(req.Name)
	p.checkLen("name", name, 1, 100)
	scopes, err := parseScopes(req.Scopes, req.Scopes != nil)
	if err != nil {
		p.add("%s", err.Error())
	}
	if d := req.ExpiresInDays; d != nil && (*d < 1 || *d > 3650) {
		p.add("expires_in_days: must be from 1 to 3650")
	}
	var role *enricher.Role
	if req.Role != nil {
		r := enricher.Role(*req.Role)
		if !r.Valid() {
			p.add("role: unknown role %q", *req.Role)
		}
		role = &r
	}
	if err := p.err(); err != nil {
		return err
	}
	if role == nil && c.p.user == nil {
		return enricher.Errorf(enricher.KindInvalid, "role: a user key needs a user; an organization access key must set role")
	}
	if role != nil {
		if !c.p.role.AtLeast(enricher.RoleOwner) {
			return enricher.Errorf(enricher.KindForbidden, "only owners can create organization access keys")
		}
		if role.Level() > c.p.role.Level() {
			return enricher.Errorf(enricher.KindForbidden, "you cannot create a key with a role above your own")
		}
	}
	now := c.s.now()
	raw := newAPIKey()
	k := &enricher.APIKey{
		ID: uuid.NewString(), OrganizationID: c.p.org.ID, Name: name, Type: enricher.KeyUser,
		KeyPrefix: raw[:12], Role: role, Scopes: scopes, IsActive: true, UserID: c.p.userID(),
		CreatedAt: enricher.NewTime(now), Hash: sha256Hex(raw),
	}
	if role != nil {
		k.Type = enricher.KeyOrganization
	}
	if d := req.ExpiresInDays; d != nil {
		k.ExpiresAt = enricher.NewTimePtr(now.Add(time.Duration(*d) * 24 * time.Hour))
	}
	if err := c.s.deps.Keys.CreateAPIKey(k); err != nil {
		return err
	}
	effective := c.p.role
	if role != nil {
		effective = *role
	}
	return c.ok(apiKeyCreated{apiKeyView: keyView(k, effective), Key: raw})
}

// visibleKey loads key_id of the caller's organization; keys the caller may not manage are 404.
func (c *call) visibleKey() (*enricher.APIKey, error) {
	id, err := pathID(c.ctx, "key_id", "API key")
	if err != nil {
		return nil, err
	}
	k, err := c.s.deps.Keys.APIKey(c.p.org.ID, id)
	if err != nil {
		return nil, err
	}
	if !c.p.visible(k) {
		return nil, enricher.Errorf(enricher.KindNotFound, "API key not found")
	}
	return k, nil
}

type patchKeyRequest struct {
	Name *string `json:"name"`
	Role *string `json:"role"`
}

func handlePatchKey(c *call) error {
	k, err := c.visibleKey()
	if err != nil {
		return err
	}
	var req patchKeyRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	var name string
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
		var p problems
		p.checkLen("name", name, 1, 100)
		if err := p.err(); err != nil {
			return err
		}
	}
	var role enricher.Role
	if req.Role != nil {
		role = enricher.Role(*req.Role)
		switch {
		case !role.Valid():
			return enricher.Errorf(enricher.KindInvalid, "role: unknown role %q", *req.Role)
		case k.Type == enricher.KeyUser:
			return enricher.Errorf(enricher.KindInvalid, "role: a user key acts with its user's role and has none of its own")
		case !c.p.role.AtLeast(enricher.RoleOwner):
			return enricher.Errorf(enricher.KindForbidden, "only owners can change a key's role")
		case role.Level() > c.p.role.Level():
			return enricher.Errorf(enricher.KindForbidden, "you cannot give a key a role above your own")
		}
	}
	k, err = c.s.deps.Keys.UpdateAPIKey(c.p.org.ID, k.ID, func(k *enricher.APIKey) error {
		if k.RevokedAt != nil {
			return enricher.Errorf(enricher.KindConflict, "API key is revoked")
		}
		if req.Name != nil {
			k.Name = name
		}
		if req.Role != nil {
			k.Role = &role
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.keyResponse(k)
}

func handleRevokeKey(c *call) error {
	k, err := c.visibleKey()
	if err != nil {
		return err
	}
	now := c.s.now()
	k, err = c.s.deps.Keys.UpdateAPIKey(c.p.org.ID, k.ID, func(k *enricher.APIKey) error {
		if k.RevokedAt == nil {
			k.IsActive, k.RevokedAt = false, enricher.NewTimePtr(now)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.keyResponse(k)
}
