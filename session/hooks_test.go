package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/hallpass/hallpass/session"
)

// TestHooks checks that Hooks.Created counts sessions started for a user
// but not anonymous ones or renewals, and Hooks.Revoked every session
// ended on purpose.
func TestHooks(t *testing.T) {
	var created, revoked atomic.Int64
	f := newFixture(t, func(c *session.Config) {
		c.Hooks = session.Hooks{
			Created: func(context.Context) { created.Add(1) },
			Revoked: func(_ context.Context, n int) { revoked.Add(int64(n)) },
		}
	})
	want := func(step string, c, r int64) {
		t.Helper()
		if created.Load() != c || revoked.Load() != r {
			t.Errorf("after %s: %d created, %d revoked; want %d and %d", step, created.Load(), revoked.Load(), c, r)
		}
	}
	setUser := func(cookie, user string) string {
		req := httptest.NewRequest("POST", "/login", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: f.m.CookieName(), Value: cookie})
		}
		rec := httptest.NewRecorder()
		f.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := session.FromRequest(r).SetUser(user); err != nil {
				t.Fatalf("SetUser: %v", err)
			}
		})).ServeHTTP(rec, req)
		return f.sessionCookie(rec.Result()).Value
	}
	destroy := func(cookie string) {
		f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
			if err := s.Destroy(); err != nil {
				t.Fatal(err)
			}
		})
	}

	f.do("", func(http.ResponseWriter, *http.Request, *session.Session) {})
	want("a visit that stores nothing", 0, 0)
	anon := f.start("k", "v")
	want("an anonymous session with a value", 0, 0)
	renewed := setUser(anon, "alice")
	want("a login on that session", 1, 0)
	renewed = setUser(renewed, "alice")
	want("a renewal for the same user", 1, 0)
	other := setUser("", "alice")
	want("a login without a session", 2, 0)
	setUser(other, "")
	want("a session made anonymous", 2, 0)
	other = setUser("", "alice")
	want("a third login", 3, 0)
	setUser("", "alice")
	want("a fourth login", 4, 0)
	destroy(renewed)
	want("a logout", 4, 1)
	destroy("")
	want("a logout without a session", 4, 1)

	var id string
	f.do(other, func(w http.ResponseWriter, r *http.Request, s *session.Session) { id = s.ID() })
	if err := f.m.DestroyUserSession(context.Background(), "alice", id); err != nil {
		t.Fatal(err)
	}
	want("revoking one session", 4, 2)
	if n, err := f.m.DestroyByUser(context.Background(), "alice"); err != nil || n != 1 {
		t.Fatalf("DestroyByUser = %d, %v; want 1, nil", n, err)
	}
	want("revoking the rest", 4, 3)
	f.m.DestroyByUser(context.Background(), "alice")
	want("revoking none", 4, 3)
}
