package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
)

// The tokens resource: API tokens on the account page and as /api/tokens.
// The rules (name, lifetime, scopes, audit) live in package apitoken.

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
		secret, tok, err = s.issueToken(r, name, scopes, time.Duration(secs)*time.Second)
	}
	if err != nil {
		status, msg, ok := s.formProblem(w, r, err, http.StatusUnprocessableEntity, http.StatusForbidden)
		if !ok {
			s.fail(w, r, err)
			return
		}
		d.Errors = autherr.FieldsOf(err)
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
	if !s.revokePathToken(w, r) {
		return
	}
	s.flash(r, "success", "The token has been revoked.")
	redirect(w, r, "/account")
}

// apiToken is a token in GET /api/tokens.
type apiToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`   // null: never
	LastUsedAt *time.Time `json:"last_used_at"` // null: never used
}

// optTime returns t in UTC, or nil for the zero time.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request) {
	if s.tokens == nil {
		s.fail(w, r, errNotFound)
		return
	}
	if !s.requireFresh(w, r, "/account") {
		return
	}
	var req struct {
		Name      string   `json:"name"`
		ExpiresIn int64    `json:"expires_in"` // seconds; 0 never expires
		Scopes    []string `json:"scopes"`     // absent or null: read only
	}
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.ExpiresIn < 0 || req.ExpiresIn > int64(apitoken.MaxLifetime/time.Second) {
		req.ExpiresIn = -1 // refused by apitoken with a field message
	}
	if req.Scopes == nil {
		req.Scopes = []string{apitoken.ScopeRead}
	}
	secret, tok, err := s.issueToken(r, req.Name, req.Scopes, time.Duration(req.ExpiresIn)*time.Second)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		ID        string     `json:"id"`
		Name      string     `json:"name"`
		Token     string     `json:"token"`
		Scopes    []string   `json:"scopes"`
		ExpiresAt *time.Time `json:"expires_at"`
	}{tok.ID, tok.Name, secret, tok.Scopes, optTime(tok.ExpiresAt)})
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request) {
	if s.tokens == nil {
		s.fail(w, r, errNotFound)
		return
	}
	toks, err := s.tokens.List(r.Context(), login.CurrentUser(r.Context()).ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list := make([]apiToken, 0, len(toks))
	for _, t := range toks {
		scopes := t.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		list = append(list, apiToken{ID: t.ID, Name: t.Name, Scopes: scopes, CreatedAt: t.CreatedAt.UTC(),
			ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt)})
	}
	writeJSON(w, http.StatusOK, struct {
		Tokens []apiToken `json:"tokens"`
	}{list})
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request) {
	if !s.revokePathToken(w, r) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// issueToken creates an API token for the current user, and takes it
// back unless the user is still logged in once it is stored: a token
// created by a request already under way when the password changed, the
// account was disabled or the session revoked would outlive that change.
func (s *Server) issueToken(r *http.Request, name string, scopes []string, expiresIn time.Duration) (string, *account.APIToken, error) {
	a := s.actor(r)
	secret, tok, err := s.tokens.Issue(r.Context(), a, name, scopes, expiresIn)
	if err != nil {
		return "", nil, err
	}
	if err := s.login.StillLoggedIn(r); err != nil {
		if rerr := s.tokens.RevokeBy(context.WithoutCancel(r.Context()), a, tok.ID); rerr != nil && !errors.Is(rerr, account.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "web: cannot take back a token created as its user was logged out", "user_id", a.UserID, "err", rerr)
		}
		return "", nil, err
	}
	return secret, tok, nil
}

// actor returns the request's user as apitoken sees them.
func (s *Server) actor(r *http.Request) apitoken.Actor {
	me := login.CurrentUser(r.Context())
	return apitoken.Actor{UserID: me.ID, IP: s.login.Config().ClientIP(r), Admin: me.HasRole("admin")}
}

// revokePathToken revokes the current user's token named by the path's
// id. It reports whether it did; if not, it has answered the failure.
func (s *Server) revokePathToken(w http.ResponseWriter, r *http.Request) bool {
	id, ok := pathID(r, "id")
	if s.tokens == nil || !ok {
		s.fail(w, r, errNotFound)
		return false
	}
	if err := s.tokens.RevokeBy(r.Context(), s.actor(r), id); err != nil {
		s.fail(w, r, err)
		return false
	}
	return true
}
