package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// decode unmarshals a JSON response body, failing the test on error.
func decode(t *testing.T, r resp) map[string]any {
	t.Helper()
	if !strings.HasPrefix(r.h.Get("Content-Type"), "application/json") {
		t.Fatalf("Content-Type %q, want JSON (status %d, body %s)", r.h.Get("Content-Type"), r.code, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// apiLogin logs c in through the JSON API and returns its CSRF token.
func (c *client) apiLogin(user string) string {
	c.e.t.Helper()
	r := c.json("POST", "/api/session", `{"username":"`+user+`","password":"`+goodPassword+`"}`)
	if r.code != http.StatusOK {
		c.e.t.Fatalf("POST /api/session: %d %s", r.code, r.body)
	}
	var body struct {
		CSRFToken string `json:"csrf_token"`
	}
	json.Unmarshal([]byte(r.body), &body)
	return body.CSRFToken
}

func TestAPILogin(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "editor")
	b := e.browser()
	r := b.json("POST", "/api/session", `{"username":"ada","password":"`+goodPassword+`","remember":true,"extra":"ignored"}`)
	if r.code != http.StatusOK {
		t.Fatalf("POST /api/session: %d %s", r.code, r.body)
	}
	m := decode(t, r)
	user, _ := m["user"].(map[string]any)
	if user["username"] != "ada" || user["email"] != "ada@example.com" || user["id"] == "" {
		t.Errorf("user = %v", user)
	}
	if roles, _ := user["roles"].([]any); len(roles) != 1 || roles[0] != "editor" {
		t.Errorf("roles = %v, want [editor]", user["roles"])
	}
	token, _ := m["csrf_token"].(string)
	if token == "" || b.cookie(sessCookie) == "" || b.cookie(rememberCookie) == "" {
		t.Fatalf("csrf_token %q, session cookie %q, remember cookie %q: want all three", token, b.cookie(sessCookie), b.cookie(rememberCookie))
	}

	if r := b.get("/api/session"); r.code != http.StatusOK || decode(t, r)["csrf_token"] == "" {
		t.Errorf("GET /api/session: %d %s", r.code, r.body)
	}
	if r := b.get("/api/me"); r.code != http.StatusOK || decode(t, r)["username"] != "ada" {
		t.Errorf("GET /api/me: %d %s", r.code, r.body)
	}
	// Logging out needs the header token.
	if r := b.send("DELETE", "/api/session", nil); r.code != http.StatusForbidden || decode(t, r)["error"] != "csrf_failed" {
		t.Errorf("DELETE /api/session without X-CSRF-Token: %d %s, want 403 csrf_failed", r.code, r.body)
	}
	if r := b.send("DELETE", "/api/session", nil, "X-CSRF-Token", token); r.code != http.StatusNoContent {
		t.Errorf("DELETE /api/session: %d %s, want 204", r.code, r.body)
	}
	r = b.get("/api/session")
	if r.code != http.StatusUnauthorized || decode(t, r)["error"] != "unauthenticated" {
		t.Errorf("GET /api/session after logout: %d %s", r.code, r.body)
	}
}

func TestAPILoginErrors(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	tests := []struct {
		name, ctype, body string
		hdr               []string
		want              int
		code              string
	}{
		{"wrong password", "application/json", `{"username":"ada","password":"nope nope"}`, nil, 401, "invalid_credentials"},
		{"unknown user", "application/json", `{"username":"zed","password":"nope nope"}`, nil, 401, "invalid_credentials"},
		{"malformed", "application/json", `{"username":`, nil, 400, "bad_request"},
		{"not an object", "application/json", `[1,2]`, nil, 400, "bad_request"},
		{"wrong type", "application/json", `{"username":"ada","password":123}`, nil, 400, "bad_request"},
		{"wrong type remember", "application/json", `{"username":"ada","password":"x","remember":"yes"}`, nil, 400, "bad_request"},
		{"trailing garbage", "application/json", `{"username":"ada","password":"x"} junk`, nil, 400, "bad_request"},
		{"two objects", "application/json", `{"username":"ada","password":"x"}{}`, nil, 400, "bad_request"},
		{"empty body", "application/json", ``, nil, 400, "bad_request"},
		{"missing fields", "application/json", `{}`, nil, 400, "bad_request"},
		{"null", "application/json", `null`, nil, 400, "bad_request"},
		{"form body", "application/x-www-form-urlencoded", `username=ada&password=x`, nil, 415, "unsupported_media_type"},
		{"text body", "text/plain", `{"username":"ada","password":"x"}`, nil, 415, "unsupported_media_type"},
		{"cross-site", "application/json", `{"username":"ada","password":"` + goodPassword + `"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403, "csrf_failed"},
		{"foreign origin", "application/json", `{"username":"ada","password":"` + goodPassword + `"}`, []string{"Origin", "https://evil.example"}, 403, "csrf_failed"},
		{"invalid UTF-8", "application/json", "{\"username\":\"a\xffda\",\"password\":\"x\xff\"}", nil, 401, "invalid_credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := append([]string{"Content-Type", tt.ctype}, tt.hdr...)
			r := e.browser().send("POST", "/api/session", strings.NewReader(tt.body), hdr...)
			if r.code != tt.want {
				t.Fatalf("%d %s, want %d", r.code, r.body, tt.want)
			}
			m := decode(t, r)
			if m["error"] != tt.code || m["message"] == "" {
				t.Errorf("body %s, want error %q and a message", r.body, tt.code)
			}
		})
	}
}

func TestAPILoginThrottled(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.browser()
	for range 10 {
		e.clock.Advance(65 * time.Second)
		b.json("POST", "/api/session", `{"username":"ada","password":"wrong wrong"}`)
	}
	e.clock.Advance(65 * time.Second)
	r := b.json("POST", "/api/session", `{"username":"ada","password":"`+goodPassword+`"}`)
	if r.code != http.StatusTooManyRequests || r.h.Get("Retry-After") == "" || decode(t, r)["error"] != "throttled" {
		t.Errorf("throttled API login: %d Retry-After %q %s", r.code, r.h.Get("Retry-After"), r.body)
	}
}

func TestAPIUnauthenticated(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/api/me", "/api/sessions", "/api/tokens"} {
		r := e.browser().get(path)
		if r.code != http.StatusUnauthorized || !strings.HasPrefix(r.h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("GET %s anonymous: %d WWW-Authenticate %q", path, r.code, r.h.Get("WWW-Authenticate"))
		}
		if m := decode(t, r); m["error"] != "unauthenticated" {
			t.Errorf("GET %s: %s", path, r.body)
		}
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer hp_nope"); r.code != http.StatusUnauthorized {
		t.Errorf("bad bearer token: %d", r.code)
	}
}

func TestAPISessions(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	e.addUser("bob")
	b, other := e.browser(), e.browser()
	token := b.apiLogin("ada")
	other.apiLogin("ada")
	bob := e.browser()
	bob.apiLogin("bob")

	r := b.get("/api/sessions")
	var list struct {
		Sessions []struct {
			ID         string    `json:"id"`
			CreatedAt  time.Time `json:"created_at"`
			LastSeenAt time.Time `json:"last_seen_at"`
			IP         string    `json:"ip"`
			UserAgent  string    `json:"user_agent"`
			Current    bool      `json:"current"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Sessions) != 2 {
		t.Fatalf("GET /api/sessions: %d %s", r.code, r.body)
	}
	var otherID string
	current := 0
	for _, s := range list.Sessions {
		if s.Current {
			current++
		} else {
			otherID = s.ID
		}
		if s.IP == "" || s.CreatedAt.IsZero() || s.LastSeenAt.IsZero() || s.UserAgent == "" {
			t.Errorf("session %+v lacks a field", s)
		}
	}
	if current != 1 {
		t.Errorf("%d current sessions, want 1", current)
	}
	for _, id := range []string{"nope", currentID(t, bob)} {
		r := b.send("DELETE", "/api/sessions/"+id, nil, "X-CSRF-Token", token)
		if r.code != http.StatusNotFound || decode(t, r)["error"] != "not_found" {
			t.Errorf("DELETE /api/sessions/%s: %d %s, want 404 not_found", id, r.code, r.body)
		}
	}
	if r := b.send("DELETE", "/api/sessions/"+otherID, nil); r.code != http.StatusForbidden {
		t.Errorf("DELETE without X-CSRF-Token: %d, want 403", r.code)
	}
	if r := b.send("DELETE", "/api/sessions/"+otherID, nil, "X-CSRF-Token", token); r.code != http.StatusNoContent {
		t.Errorf("DELETE /api/sessions/{other}: %d %s", r.code, r.body)
	}
	if r := other.get("/api/me"); r.code != http.StatusUnauthorized {
		t.Errorf("revoked session: %d", r.code)
	}
	if r := bob.get("/api/me"); r.code != http.StatusOK {
		t.Errorf("bob's session: %d", r.code)
	}
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.browser()
	csrfToken := b.apiLogin("ada")

	r := b.json("POST", "/api/tokens", `{"name":"ci","expires_in":3600,"scopes":["read","write"]}`, "X-CSRF-Token", csrfToken)
	if r.code != http.StatusCreated {
		t.Fatalf("POST /api/tokens: %d %s", r.code, r.body)
	}
	var created struct {
		ID        string     `json:"id"`
		Name      string     `json:"name"`
		Token     string     `json:"token"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	json.Unmarshal([]byte(r.body), &created)
	if created.ID == "" || created.Name != "ci" || !strings.HasPrefix(created.Token, "hp_") || created.ExpiresAt == nil ||
		!created.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("created = %+v", created)
	}
	r = b.json("POST", "/api/tokens", `{"name":"forever"}`, "X-CSRF-Token", csrfToken)
	if r.code != http.StatusCreated || !strings.Contains(r.body, `"expires_at":null`) {
		t.Errorf("token without expires_in: %d %s, want expires_at null", r.code, r.body)
	}

	bearer := e.browser()
	auth := []string{"Authorization", "Bearer " + created.Token}
	if r := bearer.get("/api/me", auth...); r.code != http.StatusOK {
		t.Errorf("GET /api/me with the new token: %d", r.code)
	}
	r = bearer.json("POST", "/api/tokens", `{"name":"more"}`, auth...)
	if r.code != http.StatusUnauthorized || decode(t, r)["error"] != "fresh_login_required" {
		t.Errorf("bearer creating a token: %d %s, want 401 fresh_login_required", r.code, r.body)
	}
	if r := bearer.get("/api/session", auth...); r.code != http.StatusOK || strings.Contains(r.body, "csrf_token") {
		t.Errorf("GET /api/session with a bearer token: %d %s, want the user and no CSRF token", r.code, r.body)
	}

	for _, tc := range []struct {
		name, body string
		want       int
		code       string
	}{
		{"empty name", `{"name":""}`, 422, "invalid"},
		{"long name", `{"name":"` + strings.Repeat("n", 10_000) + `"}`, 422, "invalid"},
		{"negative expiry", `{"name":"x","expires_in":-1}`, 422, "invalid"},
		{"huge expiry", `{"name":"x","expires_in":99999999999999}`, 422, "invalid"},
		{"fractional expiry", `{"name":"x","expires_in":1.5}`, 400, "bad_request"},
		{"string expiry", `{"name":"x","expires_in":"30d"}`, 400, "bad_request"},
		{"number name", `{"name":5}`, 400, "bad_request"},
		{"bidi override", `{"name":"evil\u202egnp.exe"}`, 422, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.json("POST", "/api/tokens", tc.body, "X-CSRF-Token", csrfToken)
			if r.code != tc.want || decode(t, r)["error"] != tc.code {
				t.Errorf("%d %s, want %d %s", r.code, r.body, tc.want, tc.code)
			}
		})
	}
	// PostgreSQL cannot store NUL: the name is refused before the store,
	// not answered 503 with an ERROR line.
	r = b.json("POST", "/api/tokens", `{"name":"a\u0000b"}`, "X-CSRF-Token", csrfToken)
	if got := decode(t, r); r.code != http.StatusUnprocessableEntity || got["error"] != "invalid" ||
		got["message"] != "A token name may not contain control characters." {
		t.Errorf("POST /api/tokens with a NUL in the name: %d %s, want 422 invalid, no control characters", r.code, r.body)
	}
	if strings.Contains(e.logs.String(), `"level":"ERROR"`) {
		t.Errorf("refused names were logged as errors:\n%s", e.logs.String())
	}

	r = b.get("/api/tokens")
	var list struct {
		Tokens []struct {
			ID         string     `json:"id"`
			Name       string     `json:"name"`
			CreatedAt  time.Time  `json:"created_at"`
			ExpiresAt  *time.Time `json:"expires_at"`
			LastUsedAt *time.Time `json:"last_used_at"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Tokens) != 2 {
		t.Fatalf("GET /api/tokens: %d %s", r.code, r.body)
	}
	if strings.Contains(r.body, created.Token) || strings.Contains(r.body, "hash") {
		t.Error("the token list shows a secret")
	}

	if r := b.send("DELETE", "/api/tokens/"+created.ID, nil, "X-CSRF-Token", csrfToken); r.code != http.StatusNoContent {
		t.Errorf("DELETE /api/tokens/{id}: %d %s", r.code, r.body)
	}
	if r := b.send("DELETE", "/api/tokens/"+created.ID, nil, "X-CSRF-Token", csrfToken); r.code != http.StatusNotFound {
		t.Errorf("DELETE a deleted token: %d, want 404", r.code)
	}
	if r := bearer.get("/api/me", auth...); r.code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", r.code)
	}

	// A stale login may list tokens but not create them.
	e.clock.Advance(11 * time.Minute)
	if r := b.json("POST", "/api/tokens", `{"name":"late"}`, "X-CSRF-Token", csrfToken); r.code != http.StatusUnauthorized {
		t.Errorf("creating a token 11 minutes after login: %d, want 401", r.code)
	}
}

// A bearer-authenticated client needs no CSRF token, but cannot use
// another user's token IDs.
func TestAPIBearer(t *testing.T) {
	e := newEnv(t)
	ada := e.addUser("ada")
	bob := e.addUser("bob")
	secret, _, _ := e.tokens.Create(context.Background(), ada.ID, "script", []string{"read", "write"}, 0)
	_, bobTok, _ := e.tokens.Create(context.Background(), bob.ID, "bob", []string{"read", "write"}, 0)
	auth := []string{"Authorization", "Bearer " + secret}
	c := e.browser()
	if r := c.send("DELETE", "/api/tokens/"+bobTok.ID, nil, auth...); r.code != http.StatusNotFound {
		t.Errorf("deleting bob's token with ada's: %d, want 404", r.code)
	}
	if r := c.get("/api/sessions", auth...); r.code != http.StatusOK || !strings.Contains(r.body, `"sessions":[]`) {
		t.Errorf("GET /api/sessions with a bearer token: %d %s", r.code, r.body)
	}
}
