package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
)

// The admin resource: the users list and the admin actions.

// adminPage lists the users.
type adminPage struct {
	base
	Users []*account.User
	Next  string // the ID to continue the list after, if there are more
	Error string
}

// adminPageSize is how many users the admin page lists at once.
const adminPageSize = 50

func (s *Server) admin(w http.ResponseWriter, r *http.Request) {
	s.renderAdmin(w, r, http.StatusOK, &adminPage{})
}

func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, status int, d *adminPage) {
	d.Title = "Admin"
	after := r.URL.Query().Get("after")
	if len(after) > maxIDLen || !utf8.ValidString(after) {
		after = ""
	}
	users, err := s.accounts.ListUsers(r.Context(), account.ListOptions{After: after, Limit: adminPageSize})
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	for _, u := range users {
		u.PasswordHash = ""
	}
	d.Users = users
	if len(users) == adminPageSize {
		d.Next = users[len(users)-1].ID
	}
	s.render(w, r, status, "admin", d)
}

// adminAction disables, enables, grants or revokes admin to a user. Each
// needs a fresh login.
func (s *Server) adminAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.requireFresh(w, r, "/admin") {
		return
	}
	id, ok := pathID(r, "id")
	action := r.PathValue("action")
	if !ok || !slices.Contains([]string{"disable", "enable", "grant-admin", "revoke-admin"}, action) {
		s.fail(w, r, errNotFound)
		return
	}
	me := login.CurrentUser(ctx)
	if id == me.ID && (action == "disable" || action == "revoke-admin") {
		msg := "You cannot disable your own account."
		if action == "revoke-admin" {
			msg = "You cannot remove your own admin role."
		}
		status, msg, _ := s.formProblem(w, r, badRequest(msg), http.StatusBadRequest)
		s.renderAdmin(w, r, status, &adminPage{Error: msg})
		return
	}
	u, err := s.accounts.UserByID(ctx, id)
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	var msg string
	switch action {
	case "disable":
		err = s.login.SetDisabled(ctx, me.ID, id, true)
		msg = u.Username + " has been disabled and logged out everywhere."
	case "enable":
		err = s.login.SetDisabled(ctx, me.ID, id, false)
		msg = u.Username + " has been enabled."
	case "grant-admin":
		err = s.login.SetRoles(ctx, me.ID, id, append(slices.Clone(u.Roles), "admin"))
		msg = u.Username + " is now an admin."
	case "revoke-admin":
		roles := slices.DeleteFunc(slices.Clone(u.Roles), func(role string) bool { return role == "admin" })
		err = s.login.SetRoles(ctx, me.ID, id, roles)
		msg = u.Username + " is no longer an admin."
	}
	if err == nil && u.HasRole("admin") && (action == "disable" || action == "revoke-admin") {
		err = s.keepAnAdmin(ctx, me.ID, u, action)
	}
	if errors.Is(err, errAdminsRace) {
		status, msg, _ := s.formProblem(w, r, err, http.StatusConflict)
		s.renderAdmin(w, r, status, &adminPage{Error: msg})
		return
	}
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	s.flash(r, "success", msg)
	redirect(w, r, "/admin")
}

// errAdminsRace refuses an action that, with another administrator's at the
// same moment, would have left no administrator.
var errAdminsRace error = &autherr.Error{Kind: autherr.Conflict, Code: "admins_changed",
	Message: "Another administrator changed your rights at the same moment, so your change was taken back (a disabled user's sessions had already ended). Reload the page to see where things stand."}

// keepAnAdmin checks, after the actor took the admin role or the account
// of the admin u (action), that the actor is still an enabled admin, and
// undoes the action if not. Two admins who take each other's rights at
// once would otherwise leave none (each request checked only that it did
// not act on its own account): an action whose actor lost its rights
// meanwhile is undone, so whatever the order, the last change standing
// leaves its actor an admin. It needs no lock across processes.
func (s *Server) keepAnAdmin(ctx context.Context, actorID string, u *account.User, action string) error {
	actor, err := s.accounts.UserByID(ctx, actorID)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return err
	}
	if err == nil && !actor.Disabled && actor.HasRole("admin") {
		return nil
	}
	if action == "disable" {
		err = s.login.SetDisabled(ctx, actorID, u.ID, false)
	} else {
		err = s.login.SetRoles(ctx, actorID, u.ID, u.Roles)
	}
	if err != nil {
		return err
	}
	return errAdminsRace
}
