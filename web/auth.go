package web

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/recovery"
)

// The auth resource: register, log in and out, as pages and as the JSON
// API's /api/session and /api/me.

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
	u, err := s.login.SignUp(r, username, email, pw)
	if err != nil {
		status, msg, ok := s.formProblem(w, r, storeErr(err), http.StatusConflict, http.StatusUnprocessableEntity)
		if !ok {
			s.fail(w, r, storeErr(err))
			return
		}
		d := &registerPage{base: base{Title: "Create an account", needCSRF: true},
			Username: redisplay(username), Email: redisplay(email), Errors: autherr.FieldsOf(err)}
		if status == http.StatusConflict {
			d.Errors = map[string]string{"username": msg}
		} else if d.Errors == nil {
			d.Errors = map[string]string{"password": msg}
		}
		s.render(w, r, status, "register", d)
		return
	}
	s.flash(r, "success", "Account created. Please log in.")
	if s.recovery != nil {
		// The account exists: a link that fails to go out is logged, and
		// can be sent again from the account page.
		if err := s.recovery.SendFirstVerification(r.Context(), u, s.clientIP(r)); err != nil {
			s.log.ErrorContext(r.Context(), "web: verification link not sent at registration", "user_id", u.ID, "err", err)
		} else {
			s.flash(r, "info", "We have sent a link to "+u.Email+" to confirm your address.")
		}
	}
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
	Forgot   bool // offer "Forgot your password?"
	// Providers are the "Sign in with …" buttons (package oidc).
	Providers []oidc.Button
	Passkeys  bool // offer "Sign in with a passkey"
}

// newLoginPage returns the login page's data with next (kept only when it
// is a local path) and the site's options.
func (s *Server) newLoginPage(r *http.Request, next string) *loginPage {
	return &loginPage{base: base{Title: "Log in", needCSRF: true, Script: s.passkeyScript()}, Next: login.SafeNext(next),
		Forgot: s.recovery != nil, Providers: s.providerButtons(), Passkeys: s.passkeys != nil}
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	d := s.newLoginPage(r, r.URL.Query().Get("next"))
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
	d := s.newLoginPage(r, f.Get("next"))
	d.Username, d.Remember = redisplay(username), f.Get("remember") != ""
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
		var ok bool
		if ok, err = s.verifiedOK(r, u); err == nil && !ok {
			s.refuseUnverified(w, r, u)
			return
		}
	}
	if err == nil {
		err = s.login.Login(w, r, u, d.Remember)
	}
	if errors.Is(err, login.ErrSecondFactorRequired) {
		s.secondStep(w, r, d.Next)
		return
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

// apiUser is a user as the JSON API shows it.
type apiUser struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Email    string   `json:"email"`
	Roles    []string `json:"roles"`
}

func userJSON(u *account.User) apiUser {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return apiUser{ID: u.ID, Username: u.Username, Email: u.Email, Roles: roles}
}

// apiSessionBody answers POST and GET /api/session.
type apiSessionBody struct {
	User      apiUser `json:"user"`
	CSRFToken string  `json:"csrf_token,omitempty"` // for the X-CSRF-Token header; absent for bearer tokens
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Remember bool   `json:"remember"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Username == "" || req.Password == "" {
		s.fail(w, r, badRequest("Both username and password are required."))
		return
	}
	u, err := s.login.Authenticate(r, req.Username, req.Password)
	if err == nil {
		var ok bool
		if ok, err = s.verifiedOK(r, u); err == nil && !ok {
			err = recovery.ErrUnverified
		}
	}
	if err == nil {
		err = s.login.Login(w, r, u, req.Remember)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiSessionBody{User: userJSON(u), CSRFToken: s.login.CSRFToken(w, r)})
}

func (s *Server) apiSession(w http.ResponseWriter, r *http.Request) {
	u := login.CurrentUser(r.Context())
	if u == nil {
		s.fail(w, r, login.ErrUnauthenticated)
		return
	}
	body := apiSessionBody{User: userJSON(u)}
	if login.HowAuthenticated(r.Context()) != login.ByBearer {
		body.CSRFToken = s.login.CSRFToken(w, r)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.login.Logout(w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, userJSON(login.CurrentUser(r.Context())))
}
