package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// Messages of the HTML pages.
const (
	msgUnreadable   = "This contains characters that could not be read. Please type it again."
	msgFreshLogin   = "Please enter your password again to continue."
	msgLoggedOut    = "You have been logged out."
	maxRedisplayLen = 256 // runes of a field shown again in a form
	maxIDLen        = 128 // longer session, token and user IDs are not looked up
)

// readForm parses r's form: a body over the limit is a 413, anything
// unreadable a 400.
func readForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return mbe
		}
		return badRequest("The form could not be read. Please reload the page and try again.")
	}
	return nil
}

// redisplay returns a field's value as it is shown again in a form:
// valid UTF-8 and not absurdly long.
func redisplay(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if utf8.RuneCountInString(v) > maxRedisplayLen {
		v = string([]rune(v)[:maxRedisplayLen])
	}
	return v
}

// formProblem classifies err for a form that is shown again with a
// message. It returns the status and message, and false when err is not
// one of the form's expected outcomes (allowed), so the caller answers it
// with fail instead. A 429 gets its Retry-After header here.
func (s *Server) formProblem(w http.ResponseWriter, r *http.Request, err error, allowed ...int) (int, string, bool) {
	p, msg := classify(err)
	if !slices.Contains(allowed, p.status) {
		return 0, "", false
	}
	logError(s.log, r, p, err)
	var te *throttle.ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(te.RetryAfterSeconds()))
	}
	return p.status, msg, true
}

// redirect answers a form submission with 303 See Other to path.
func redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// flash queues a message for the next page. A session that cannot take it
// loses the message, not the request.
func (s *Server) flash(r *http.Request, category, msg string) {
	if err := session.FromRequest(r).AddFlash(category, msg); err != nil {
		s.log.Warn("web: cannot queue a flash message", "err", err)
	}
}

type homePage struct{ base }

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", &homePage{base{Title: "Home"}})
}

type dashboardPage struct{ base }

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "dashboard", &dashboardPage{base{Title: "Dashboard"}})
}

// registerPage is the registration form, with what the person typed (but
// the password) and a message per bad field.
type registerPage struct {
	base
	Username string
	Email    string
	Errors   map[string]string
}

func (s *Server) registerForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "register", &registerPage{base: base{Title: "Create an account", needCSRF: true}})
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	username, email, pw := r.PostForm.Get("username"), r.PostForm.Get("email"), r.PostForm.Get("password")
	// Any "role" field is ignored: a new account has no roles.
	_, err := s.login.SignUp(r, username, email, pw)
	if err != nil {
		status, msg, ok := s.formProblem(w, r, storeErr(err), http.StatusConflict, http.StatusUnprocessableEntity)
		if !ok {
			s.fail(w, r, storeErr(err))
			return
		}
		d := &registerPage{base: base{Title: "Create an account", needCSRF: true},
			Username: redisplay(username), Email: redisplay(email), Errors: fieldMessages(err)}
		if status == http.StatusConflict {
			d.Errors = map[string]string{"username": msg}
		} else if d.Errors == nil {
			d.Errors = map[string]string{"password": msg}
		}
		s.render(w, r, status, "register", d)
		return
	}
	s.flash(r, "success", "Account created. Please log in.")
	redirect(w, r, "/login")
}

// loginPage is the login form.
type loginPage struct {
	base
	Username string
	Remember bool
	Next     string // where to go after logging in; a local path or ""
	Error    string // the form's message
	Errors   map[string]string
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	d := &loginPage{base: base{Title: "Log in", needCSRF: true}, Next: login.SafeNext(r.URL.Query().Get("next"))}
	if u := login.CurrentUser(r.Context()); u != nil {
		d.Username = u.Username
	}
	s.render(w, r, http.StatusOK, "login", d)
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostForm
	username, pw := f.Get("username"), f.Get("password")
	d := &loginPage{base: base{Title: "Log in", needCSRF: true},
		Username: redisplay(username), Remember: f.Get("remember") != "", Next: login.SafeNext(f.Get("next"))}
	errs := map[string]string{}
	switch {
	case username == "":
		errs["username"] = "Please enter your username."
	case !utf8.ValidString(username):
		errs["username"] = msgUnreadable
	}
	switch {
	case pw == "":
		errs["password"] = "Please enter your password."
	case !utf8.ValidString(pw):
		errs["password"] = msgUnreadable
	}
	if len(errs) > 0 {
		d.Errors = errs
		s.render(w, r, http.StatusUnprocessableEntity, "login", d)
		return
	}
	u, err := s.login.Authenticate(r, username, pw)
	if err == nil {
		err = s.login.Login(w, r, u, d.Remember)
	}
	if err != nil {
		status, msg, ok := s.formProblem(w, r, err, http.StatusUnauthorized, http.StatusTooManyRequests)
		if !ok {
			s.fail(w, r, err)
			return
		}
		d.Error = msg
		s.render(w, r, status, "login", d)
		return
	}
	next := d.Next
	if next == "" {
		next = "/dashboard"
	}
	redirect(w, r, next)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.login.Logout(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", msgLoggedOut)
	redirect(w, r, "/")
}

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

// expiryOption is one choice of the create-token form.
type expiryOption struct {
	Value, Label string
	Selected     bool
}

// scopeOption is one scope checkbox of the create-token form.
type scopeOption struct {
	Value, Hint string
	Checked     bool
}

// scopeHints describe the scopes on the create-token form.
var scopeHints = map[string]string{
	apitoken.ScopeRead:  "read: GET requests (view your account, sessions and tokens)",
	apitoken.ScopeWrite: "write: requests that change something (revoke sessions and tokens)",
	apitoken.ScopeAdmin: "admin: administrators' pages (users list); admin actions always need your password",
}

// tokenExpiries are the lifetimes the create-token form offers, in
// seconds.
var tokenExpiries = []expiryOption{
	{Value: "2592000", Label: "30 days"},
	{Value: "7776000", Label: "90 days"},
	{Value: "31536000", Label: "1 year"},
	{Value: "0", Label: "Never"},
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
			s.fail(w, r, storeErr(err))
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
	err := s.login.ChangePassword(w, r, current, next)
	if err != nil {
		status, msg, ok := s.formProblem(w, r, err, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests)
		if !ok {
			s.fail(w, r, err)
			return
		}
		switch status {
		case http.StatusForbidden:
			d.Errors = map[string]string{"current_password": msg}
		case http.StatusUnprocessableEntity:
			d.Errors = map[string]string{"new_password": msg}
		default:
			d.Error = msg
		}
		s.renderAccount(w, r, status, d)
		return
	}
	s.flash(r, "success", "Your password has been changed. Every other session has been logged out.")
	redirect(w, r, "/account")
}

// pathID returns the path parameter name when it may be an ID.
func pathID(r *http.Request, name string) (string, bool) {
	id := r.PathValue(name)
	return id, id != "" && len(id) <= maxIDLen && utf8.ValidString(id)
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

// maxTokenLifetime bounds expires_in, so the expiry stays a sane date.
const maxTokenLifetime = 10 * 365 * 24 * time.Hour

// createTokenFor issues an API token for the current user after checking
// the name, scopes and lifetime, and records it. The admin scope is
// refused (errAdminScope, 403) to users who are not admins.
func (s *Server) createTokenFor(r *http.Request, name string, scopes []string, expiresIn time.Duration) (string, *account.APIToken, error) {
	if !utf8.ValidString(name) {
		return "", nil, &account.FieldError{Field: "name", Message: msgUnreadable}
	}
	if expiresIn < 0 || expiresIn > maxTokenLifetime {
		return "", nil, &account.FieldError{Field: "expires_in", Message: "A token expires in 0 (never) to 315360000 seconds (10 years)."}
	}
	scopes, err := apitoken.ParseScopes(scopes)
	if err != nil {
		return "", nil, err
	}
	me := login.CurrentUser(r.Context())
	if slices.Contains(scopes, apitoken.ScopeAdmin) && !me.HasRole("admin") {
		return "", nil, errAdminScope
	}
	secret, tok, err := s.tokens.Create(r.Context(), me.ID, name, scopes, expiresIn)
	if err != nil {
		return "", nil, storeErr(err)
	}
	s.audit.Record(r.Context(), audit.Event{Name: audit.TokenCreate, UserID: me.ID, IP: s.sessions.Config().ClientIP(r), Reason: tok.ID})
	return secret, tok, nil
}

// revokeTokenFor revokes the current user's token id and records it.
func (s *Server) revokeTokenFor(r *http.Request, id string) error {
	me := login.CurrentUser(r.Context())
	if err := s.tokens.Revoke(r.Context(), me.ID, id); err != nil {
		return storeErr(err)
	}
	s.audit.Record(r.Context(), audit.Event{Name: audit.TokenRevoke, UserID: me.ID, IP: s.sessions.Config().ClientIP(r), Reason: id})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if s.tokens == nil {
		s.fail(w, r, errNotFound)
		return
	}
	if !s.requireFresh(w, r, "/account") {
		return
	}
	if err := readForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	name, expires, scopes := r.PostForm.Get("name"), r.PostForm.Get("expires_in"), r.PostForm["scopes"]
	d := &accountPage{TokenName: redisplay(name), ExpiresIn: expires, Scopes: []string{}}
	for _, sc := range scopes {
		if slices.Contains(apitoken.AllScopes(), sc) {
			d.Scopes = append(d.Scopes, sc)
		}
	}
	var err error
	valid := slices.ContainsFunc(tokenExpiries, func(o expiryOption) bool { return o.Value == expires })
	if !valid {
		d.ExpiresIn = ""
		err = &account.FieldError{Field: "expires_in", Message: "Please choose when the token expires."}
	}
	var secret string
	var tok *account.APIToken
	if err == nil {
		secs, _ := strconv.Atoi(expires)
		secret, tok, err = s.createTokenFor(r, name, scopes, time.Duration(secs)*time.Second)
	}
	if err != nil {
		status, msg, ok := s.formProblem(w, r, err, http.StatusUnprocessableEntity, http.StatusForbidden)
		if !ok {
			s.fail(w, r, err)
			return
		}
		d.Errors = fieldMessages(err)
		if errors.Is(err, errAdminScope) {
			d.Errors = map[string]string{"scopes": msg}
		}
		if d.Errors == nil {
			d.Errors = map[string]string{"name": msg}
		}
		s.renderAccount(w, r, status, d)
		return
	}
	// The secret is shown on this response only: it is never stored, not
	// even in the session.
	s.renderAccount(w, r, http.StatusCreated, &accountPage{NewToken: secret, NewTokenName: tok.Name})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if s.tokens == nil || !ok {
		s.fail(w, r, errNotFound)
		return
	}
	if err := s.revokeTokenFor(r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.flash(r, "success", "The token has been revoked.")
	redirect(w, r, "/account")
}

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

// requireFresh reports whether the request's user entered their password
// within FreshFor (a remember-me session or an API token never did). If
// not, it answers: API clients get 401 "fresh_login_required", browsers go
// to the login page, which comes back to back.
func (s *Server) requireFresh(w http.ResponseWriter, r *http.Request, back string) bool {
	if s.login.IsFresh(r, s.freshFor) {
		return true
	}
	if login.WantsJSON(r) {
		s.fail(w, r, login.ErrNotFresh)
		return false
	}
	s.flash(r, "info", msgFreshLogin)
	redirect(w, r, "/login?next="+url.QueryEscape(back))
	return false
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
	if err != nil {
		s.fail(w, r, storeErr(err))
		return
	}
	s.flash(r, "success", msg)
	redirect(w, r, "/admin")
}
