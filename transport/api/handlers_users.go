package api

import (
	"slices"

	"github.com/entity-enricher/enricher"
)

// usersPage is the paginated users response of the member and admin listings.
type usersPage struct {
	Users      []*enricher.User `json:"users"`
	Total      int              `json:"total"`
	Page       int              `json:"page"`
	PageSize   int              `json:"page_size"`
	TotalPages int              `json:"total_pages"`
}

func pageOfUsers(users []*enricher.User, p page) usersPage {
	items, total, pages := paginated(users, p)
	return usersPage{Users: items, Total: total, Page: p.Page, PageSize: p.Size, TotalPages: pages}
}

func handleListUsers(c *call) error {
	status := string(c.ctx.QueryArgs().Peek("status"))
	if status == "" {
		status = string(enricher.UserActive)
	}
	switch enricher.UserStatus(status) {
	case enricher.UserActive, enricher.UserPending, enricher.UserRejected, enricher.UserDeactivated:
	default:
		if status != "all" {
			return enricher.Errorf(enricher.KindInvalid, "status: unknown value %q", status)
		}
	}
	return listUsers(c, status)
}

func handlePendingUsers(c *call) error { return listUsers(c, string(enricher.UserPending)) }

func listUsers(c *call, status string) error {
	p, err := parsePage(c.ctx)
	if err != nil {
		return err
	}
	users, err := c.s.deps.Accounts.Users(c.p.org.ID)
	if err != nil {
		return err
	}
	if status != "all" {
		users = slices.DeleteFunc(users, func(u *enricher.User) bool { return string(u.Status) != status })
	}
	return c.ok(pageOfUsers(users, p))
}

type approvalRequest struct {
	Action string `json:"action"`
}

func handleApproval(c *call) error {
	id, err := pathID(c.ctx, "user_id", "user")
	if err != nil {
		return err
	}
	if _, err := c.s.deps.Accounts.User(c.p.org.ID, id); err != nil {
		return err
	}
	var req approvalRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	next := enricher.UserActive
	switch req.Action {
	case "approve":
	case "reject":
		next = enricher.UserRejected
	default:
		return enricher.Errorf(enricher.KindInvalid, "action: must be approve or reject")
	}
	user, err := c.s.deps.Accounts.UpdateUser(c.p.org.ID, id, func(u *enricher.User) error {
		if u.Status != enricher.UserPending {
			return enricher.Errorf(enricher.KindConflict, "user is not pending (status %s)", u.Status)
		}
		u.Status = next
		return nil
	})
	if err != nil {
		return err
	}
	return c.ok(user)
}

type roleRequest struct {
	Role string `json:"role"`
}

func handleSetRole(c *call) error { return setRole(c, c.p.org.ID, false) }

func handleAdminSetRole(c *call) error { return setRole(c, "", true) }

// setRole changes a user's role. org "" (admin endpoint) finds the user in any organization.
func setRole(c *call, org string, admin bool) error {
	id, err := pathID(c.ctx, "user_id", "user")
	if err != nil {
		return err
	}
	target, err := c.s.findUser(org, id)
	if err != nil {
		return err
	}
	var req roleRequest
	if err := decodeBody(c.ctx, &req); err != nil {
		return err
	}
	role := enricher.Role(req.Role)
	if !role.Valid() {
		return enricher.Errorf(enricher.KindInvalid, "role: unknown role %q", req.Role)
	}
	if !admin {
		if role == enricher.RoleAdmin && c.p.role != enricher.RoleAdmin {
			return enricher.Errorf(enricher.KindForbidden, "only an admin can grant the admin role")
		}
		if target.Role.Level() > c.p.role.Level() {
			return enricher.Errorf(enricher.KindForbidden, "you cannot change a user of a higher role")
		}
	}
	if c.p.user != nil && c.p.user.ID == target.ID {
		return enricher.Errorf(enricher.KindConflict, "you cannot change your own role")
	}
	user, err := c.s.deps.Accounts.UpdateUser(target.OrganizationID, target.ID, func(u *enricher.User) error {
		u.Role = role
		return nil
	})
	if err != nil {
		return err
	}
	return c.ok(user)
}

// findUser returns user id of org, or of any organization when org is "".
func (s *Server) findUser(org, id string) (*enricher.User, error) {
	if org != "" {
		return s.deps.Accounts.User(org, id)
	}
	users, err := s.deps.Accounts.Users("")
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.ID == id {
			return u, nil
		}
	}
	return nil, enricher.Errorf(enricher.KindNotFound, "user not found")
}

func handleDeactivateUser(c *call) error {
	id, err := pathID(c.ctx, "user_id", "user")
	if err != nil {
		return err
	}
	target, err := c.s.deps.Accounts.User(c.p.org.ID, id)
	if err != nil {
		return err
	}
	if target.Role.Level() > c.p.role.Level() {
		return enricher.Errorf(enricher.KindForbidden, "you cannot deactivate a user of a higher role")
	}
	if c.p.user != nil && c.p.user.ID == id {
		return enricher.Errorf(enricher.KindConflict, "you cannot deactivate yourself: use leave-organization")
	}
	user, err := c.s.deps.Accounts.UpdateUser(c.p.org.ID, id, func(u *enricher.User) error {
		u.Status = enricher.UserDeactivated
		return nil
	})
	if err != nil {
		return err
	}
	return c.ok(user)
}

// adminOrganization is an Organization with its user and key counters.
type adminOrganization struct {
	*enricher.Organization
	UserCount    int     `json:"user_count"`
	RecordCount  int64   `json:"record_count"`
	TotalCostUSD float64 `json:"total_cost_usd"`
}

func handleAdminOrganizations(c *call) error {
	p, err := parsePage(c.ctx)
	if err != nil {
		return err
	}
	inactive, err := queryBool(c.ctx, "include_inactive", false)
	if err != nil {
		return err
	}
	orgs, err := c.s.deps.Accounts.Organizations(inactive)
	if err != nil {
		return err
	}
	items, total, pages := paginated(orgs, p)
	out := make([]adminOrganization, 0, len(items))
	for _, o := range items {
		users, err := c.s.deps.Accounts.Users(o.ID)
		if err != nil {
			return err
		}
		stats, err := c.s.deps.Records.Stats(o.ID, "", 0, 0)
		if err != nil {
			return err
		}
		row := adminOrganization{Organization: o, UserCount: len(users)}
		for _, st := range stats {
			row.RecordCount += int64(st.Records)
			row.TotalCostUSD += st.CostUSD
		}
		out = append(out, row)
	}
	return c.ok(map[string]any{"organizations": out, "total": total, "page": p.Page, "page_size": p.Size, "total_pages": pages})
}

func handleAdminUsers(c *call) error {
	p, err := parsePage(c.ctx)
	if err != nil {
		return err
	}
	inactive, err := queryBool(c.ctx, "include_inactive", false)
	if err != nil {
		return err
	}
	org := string(c.ctx.QueryArgs().Peek("organization_id"))
	if org != "" && !enricher.ValidUUID(org) {
		return enricher.Errorf(enricher.KindInvalid, "organization_id: not a valid id")
	}
	users, err := c.s.deps.Accounts.Users(org)
	if err != nil {
		return err
	}
	if !inactive {
		users = slices.DeleteFunc(users, func(u *enricher.User) bool { return u.Status != enricher.UserActive })
	}
	return c.ok(pageOfUsers(users, p))
}
