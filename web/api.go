package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/login"
)

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

// decodeJSON reads r's JSON body into dst. Unknown fields are ignored;
// a body that is not JSON, has a value of the wrong type or trails data
// after the value is a 400 with a message naming the problem, one over
// MaxBodyBytes a 413, another content type a 415.
func decodeJSON(r *http.Request, dst any) error {
	if !isJSON(r) {
		return errUnsupportedMediaType
	}
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(dst)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return nil
		}
		if err == nil {
			return badRequest("The request body must hold a single JSON object.")
		}
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return mbe
	case errors.Is(err, io.EOF):
		return badRequest("The request body is empty; it must be a JSON object.")
	case errors.As(err, &ute) && ute.Field != "":
		return badRequest(fmt.Sprintf("The field %q has the wrong type.", ute.Field))
	case errors.As(err, &ute):
		return badRequest("The request body must be a JSON object.")
	}
	return badRequest("The request body is not valid JSON.")
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
	if req.ExpiresIn < 0 || req.ExpiresIn > int64(maxTokenLifetime/time.Second) {
		req.ExpiresIn = -1 // refused by createTokenFor with a field message
	}
	if req.Scopes == nil {
		req.Scopes = []string{apitoken.ScopeRead}
	}
	secret, tok, err := s.createTokenFor(r, req.Name, req.Scopes, time.Duration(req.ExpiresIn)*time.Second)
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
		s.fail(w, r, storeErr(err))
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
	id, ok := pathID(r, "id")
	if s.tokens == nil || !ok {
		s.fail(w, r, errNotFound)
		return
	}
	if err := s.revokeTokenFor(r, id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
