package login_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
)

// recorder is an ErrorHandler that records the errors the Manager hands
// it and answers with a status of its own, so a test can tell it ran.
type recorder struct {
	mu   sync.Mutex
	errs []error
}

func (rec *recorder) handle(w http.ResponseWriter, r *http.Request, err error) {
	rec.mu.Lock()
	rec.errs = append(rec.errs, err)
	rec.mu.Unlock()
	w.WriteHeader(599)
}

func (rec *recorder) last() error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) == 0 {
		return nil
	}
	return rec.errs[len(rec.errs)-1]
}

// TestRequireAnswersThroughErrorHandler checks that the guards write no
// response of their own: every refusal goes to Config.ErrorHandler, and
// only SendToLogin decides the redirect to the login page.
func TestRequireAnswersThroughErrorHandler(t *testing.T) {
	rec := &recorder{}
	var toLogin atomic.Bool
	e := newEnv(t, func(c *login.Config) {
		c.ErrorHandler = rec.handle
		c.SendToLogin = func(*http.Request) bool { return toLogin.Load() }
	})
	u := e.addUser("ada", "correct horse battery")
	secret, _, err := e.tokens.Create(context.Background(), u.ID, "ci", []string{apitoken.ScopeRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	bearer := []string{"Authorization", "Bearer " + secret}
	anon := e.browser()
	ada := e.browser()
	ada.login("ada", "correct horse battery", false)

	tests := []struct {
		name string
		c    *client
		path string
		hdr  []string
		want error
		kind autherr.Kind
		code string
	}{
		{"anonymous", anon, "/me", nil, login.ErrUnauthenticated, autherr.Unauthenticated, "unauthenticated"},
		{"missing role", ada, "/admin", nil, login.ErrForbidden, autherr.Forbidden, "forbidden"},
		{"token beyond its scopes", anon, "/action", bearer, login.ErrInsufficientScope, autherr.Forbidden, "insufficient_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if tt.path == "/action" {
				method = "POST"
			}
			r := tt.c.do(method, tt.path, nil, tt.hdr...)
			if r.code != 599 {
				t.Fatalf("%s %s = %d %q, want the ErrorHandler's 599", method, tt.path, r.code, r.body)
			}
			err := rec.last()
			if !errors.Is(err, tt.want) || autherr.KindOf(err) != tt.kind || autherr.CodeOf(err) != tt.code {
				t.Errorf("ErrorHandler got %v (kind %q, code %q), want %v (%q, %q)", err, autherr.KindOf(err), autherr.CodeOf(err), tt.want, tt.kind, tt.code)
			}
		})
	}
	if c := autherr.ChallengeOf(rec.errs[2]); !strings.Contains(c, `scope="write"`) {
		t.Errorf("insufficient scope challenge %q does not name the scope", c)
	}

	// A browser, as SendToLogin says, goes to the login page instead.
	toLogin.Store(true)
	if r := anon.get("/me"); r.code != http.StatusSeeOther || r.h.Get("Location") != "/login?next=%2Fme" {
		t.Errorf("browser without login: %d Location %q, want 303 to /login?next=%%2Fme", r.code, r.h.Get("Location"))
	}
	e.clock.Advance(10 * time.Minute)
	toLogin.Store(false)
	if r := ada.get("/fresh"); r.code != 599 || !errors.Is(rec.last(), login.ErrNotFresh) {
		t.Errorf("stale login: %d %v, want ErrNotFresh through ErrorHandler", r.code, rec.last())
	}
}

// TestDefaultResponder checks the library default: autherr.WriteHTTP,
// JSON by Accept, plain text otherwise, never a redirect for a client that
// asks for JSON whatever its path.
func TestDefaultResponder(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	if r := b.get("/me", "Accept", "application/json"); r.code != http.StatusUnauthorized ||
		!strings.Contains(r.body, `"error":"unauthenticated"`) || r.h.Get("WWW-Authenticate") == "" {
		t.Errorf("JSON client on a page path: %d %q WWW-Authenticate %q, want 401 JSON with a challenge", r.code, r.body, r.h.Get("WWW-Authenticate"))
	}
	if r := b.get("/api/me", "Accept", "text/html"); r.code != http.StatusSeeOther {
		t.Errorf("browser on an /api/ path: %d, want 303 to the login page (by Accept, not by path)", r.code)
	}
	b.login("ada", "correct horse battery", false)
	if r := b.get("/admin"); r.code != http.StatusForbidden || !strings.HasPrefix(r.h.Get("Content-Type"), "text/plain") ||
		!strings.Contains(r.body, "permission") {
		t.Errorf("missing role: %d %q %q, want 403 text", r.code, r.h.Get("Content-Type"), r.body)
	}
}
