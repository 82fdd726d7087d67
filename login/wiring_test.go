package login_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/login"
)

// TestWrongMiddlewareOrder wires the middleware wrongly in the ways a
// person does by hand and checks each answers 500 with a message naming
// the missing middleware (never a silent 503 or a redirect to the login
// page), logged once at ERROR with the fix.
func TestWrongMiddlewareOrder(t *testing.T) {
	tests := []struct {
		name    string
		handler func(e *env) http.Handler
		method  string
		path    string
		want    string // in the body
	}{
		{"login outside sessions", func(e *env) http.Handler { return e.lm.Middleware(e.sessions.Middleware(e.mux())) },
			"GET", "/me", "session middleware is missing"},
		{"csrf outside sessions", func(e *env) http.Handler { return e.lm.CSRF(e.sessions.Middleware(e.lm.Middleware(e.mux()))) },
			"POST", "/visit", "session middleware is missing"},
		{"RequireLogin without login middleware", func(e *env) http.Handler { return e.sessions.Middleware(e.mux()) },
			"GET", "/me", "login middleware is missing"},
		{"RequireRole without login middleware", func(e *env) http.Handler { return e.sessions.Middleware(e.mux()) },
			"GET", "/admin", "login middleware is missing"},
		{"RequireFresh without login middleware", func(e *env) http.Handler { return e.sessions.Middleware(e.mux()) },
			"GET", "/fresh", "login middleware is missing"},
		{"RequireScope without login middleware", func(e *env) http.Handler {
			return e.sessions.Middleware(e.lm.RequireScope(apitoken.ScopeAdmin)(http.NotFoundHandler()))
		}, "GET", "/", "login middleware is missing"},
		{"Logout without sessions", func(e *env) http.Handler { return e.mux() },
			"POST", "/logout", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			h := tt.handler(e)
			for range 2 {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
				if tt.want != "" && (w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), tt.want)) {
					t.Errorf("%s %s = %d %q, want 500 mentioning %q", tt.method, tt.path, w.Code, w.Body, tt.want)
				}
			}
			logs := e.logs.String()
			if n := strings.Count(logs, "middleware missing or in the wrong order"); n != 1 {
				t.Errorf("logged %d times, want once:\n%s", n, logs)
			}
			if !strings.Contains(logs, `"level":"ERROR"`) || !strings.Contains(logs, "auth.Handler") {
				t.Errorf("log has no ERROR line naming the fix:\n%s", logs)
			}
		})
	}
}

// TestCSRFWithoutProtectorWarns checks that Manager.CSRF without a
// Protector says, when built, that it checks nothing.
func TestCSRFWithoutProtectorWarns(t *testing.T) {
	e := newEnv(t, func(c *login.Config) { c.CSRF = nil })
	e.lm.CSRF(http.NotFoundHandler())
	if logs := e.logs.String(); !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "checks nothing") {
		t.Errorf("no warning for Manager.CSRF without Config.CSRF:\n%s", logs)
	}
}
