package web

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/session"
)

// The account resource: the account page, the password, and the user's
// sessions, as pages and as /api/sessions.

// accountPage is the account page: profile, password change, sessions and
// API tokens.
type accountPage struct {
	base
	Profile             *account.User
	Sessions            []sessionRow
	SessionsUnsupported bool
	TokensEnabled       bool
	Tokens              []*account.APIToken
	NewToken            string // a token just created, shown this once
	NewTokenName        string
	TokenName           string // the create-token form, shown again after an error
	ExpiresIn           string
	ExpiryOptions       []expiryOption
	Scopes              []string // the scopes checked in the create-token form; nil means the default
	ScopeOptions        []scopeOption
	Error               string            // a message for the whole page
	Errors              map[string]string // per field

	Recovery      bool   // the server sends email: show verification and the change-email form
	EmailVerified bool   // the profile's address is verified
	NewEmail      string // the change-email form, shown again after an error

	Identities []oidc.Linked // connected OpenID Connect identities
	Providers  []oidc.Button // the providers one can connect; nil without OIDC
	TwoFA      bool          // the server offers second factors
	TwoFAOn    bool          // the user has one

	PasskeysOn bool // the server offers passkeys
	Passkeys   []passkeyRow
}

// sessionRow is one of the user's sessions as the account page lists it.
type sessionRow struct {
	ID       string
	Device   string
	IP       string
	Started  time.Time
	LastSeen time.Time
	Current  bool
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	s.renderAccount(w, r, http.StatusOK, &accountPage{})
}

// renderAccount fills d with the user's profile, sessions and tokens and
// renders the account page.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, d *accountPage) {
	ctx := r.Context()
	me := login.CurrentUser(ctx)
	d.Title = "Your account"
	profile, err := s.accounts.UserByID(ctx, me.ID)
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	profile.PasswordHash = ""
	d.Profile = profile
	if s.recovery != nil {
		d.Recovery = true
		if d.EmailVerified, err = s.recovery.Verified(ctx, profile); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if err := s.fillIdentities(r, me.ID, d); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.twofa != nil {
		d.TwoFA = true
		st, err := s.twofa.Status(ctx, me.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.TwoFAOn = st.Enabled
	}
	if s.passkeys != nil {
		d.PasskeysOn, d.Script = true, s.passkeyScript()
		if d.Passkeys, err = s.passkeyRows(r, me.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	infos, err := s.sessions.ListByUser(ctx, me.ID)
	switch {
	case errors.Is(err, session.ErrNotSupported):
		d.SessionsUnsupported = true
	case err != nil:
		s.fail(w, r, err)
		return
	}
	current := currentSessionID(r)
	for _, in := range infos {
		d.Sessions = append(d.Sessions, sessionRow{ID: in.ID, Device: device(in.UserAgent), IP: in.IP,
			Started: in.CreatedAt, LastSeen: in.LastSeen, Current: in.ID == current})
	}
	if s.tokens != nil {
		d.TokensEnabled = true
		if d.Tokens, err = s.tokens.List(ctx, me.ID); err != nil {
			s.fail(w, r, err)
			return
		}
		if d.ExpiresIn == "" {
			d.ExpiresIn = tokenExpiries[1].Value
		}
		for _, o := range tokenExpiries {
			o.Selected = o.Value == d.ExpiresIn
			d.ExpiryOptions = append(d.ExpiryOptions, o)
		}
		if d.Scopes == nil {
			d.Scopes = []string{apitoken.ScopeRead}
		}
		for _, sc := range apitoken.AllScopes() {
			if sc == apitoken.ScopeAdmin && !profile.HasRole("admin") {
				continue // refused for others anyway; not offered
			}
			d.ScopeOptions = append(d.ScopeOptions, scopeOption{Value: sc, Hint: scopeHints[sc], Checked: slices.Contains(d.Scopes, sc)})
		}
	}
	s.render(w, r, status, "account", d)
}

// currentSessionID returns the ID of the request's session, or "" for a
// request authenticated otherwise.
func currentSessionID(r *http.Request) string {
	if login.HowAuthenticated(r.Context()) == login.ByBearer {
		return ""
	}
	return session.FromRequest(r).ID()
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	current, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	d := &accountPage{}
	if current == "" {
		d.Errors = map[string]string{"current_password": "Please enter your current password."}
		s.renderAccount(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	if err := s.login.ChangePassword(w, r, current, next); err != nil {
		s.accountFormFailed(w, r, err, d, "current_password", "new_password")
		return
	}
	s.flash(r, "success", "Your password has been changed. Every other session has been logged out.")
	redirect(w, r, "/account")
}

// accountFormFailed shows the account page again after err refused a
// form that asks for the current password (its field currentField) and a
// new value (newField): a wrong password is shown under the first, a
// refused value under the second, a limit on top of the page.
func (s *Server) accountFormFailed(w http.ResponseWriter, r *http.Request, err error, d *accountPage, currentField, newField string) {
	status, msg, ok := s.formProblem(w, r, err, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests)
	if !ok {
		s.fail(w, r, err)
		return
	}
	switch status {
	case http.StatusForbidden:
		d.Errors = map[string]string{currentField: msg}
	case http.StatusUnprocessableEntity:
		d.Errors = map[string]string{newField: msg}
	default:
		d.Error = msg
	}
	s.renderAccount(w, r, status, d)
}

// revokeSessionByID ends the current user's session id. Ending the
// request's own session is a log-out; it reports whether it was.
func (s *Server) revokeSessionByID(w http.ResponseWriter, r *http.Request, id string) (self bool, err error) {
	if id == currentSessionID(r) {
		return true, s.login.Logout(w, r)
	}
	return false, s.login.RevokeSession(r, id)
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.fail(w, r, errNotFound)
		return
	}
	self, err := s.revokeSessionByID(w, r, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if self {
		s.flash(r, "success", msgLoggedOut)
		redirect(w, r, "/")
		return
	}
	s.flash(r, "success", "That session has been logged out.")
	redirect(w, r, "/account")
}

func (s *Server) revokeOtherSessions(w http.ResponseWriter, r *http.Request) {
	n, err := s.login.RevokeOtherSessions(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "No other session was active."
	switch {
	case n == 1:
		msg = "1 other session has been logged out."
	case n > 1:
		msg = strconv.Itoa(n) + " other sessions have been logged out."
	}
	s.flash(r, "success", msg)
	redirect(w, r, "/account")
}

// apiSessionInfo is one session in GET /api/sessions.
type apiSessionInfo struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request) {
	u := login.CurrentUser(r.Context())
	infos, err := s.sessions.ListByUser(r.Context(), u.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	current := currentSessionID(r)
	list := make([]apiSessionInfo, 0, len(infos))
	for _, in := range infos {
		list = append(list, apiSessionInfo{ID: in.ID, CreatedAt: in.CreatedAt.UTC(), LastSeenAt: in.LastSeen.UTC(),
			IP: in.IP, UserAgent: in.UserAgent, Current: in.ID == current})
	}
	writeJSON(w, http.StatusOK, struct {
		Sessions []apiSessionInfo `json:"sessions"`
	}{list})
}

func (s *Server) apiRevokeSession(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.fail(w, r, errNotFound)
		return
	}
	if _, err := s.revokeSessionByID(w, r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
