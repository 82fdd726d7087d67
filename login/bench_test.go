package login_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hallpass/hallpass/internal/benchratio"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
)

// go test -run '^$' -bench . -benchmem ./login/
//
// BenchmarkAuthenticated is the per-request cost of the session and login
// middleware for a logged-in user on the memory stores; BenchmarkBare is
// the same handler alone. BenchmarkAuthenticatedVsBare runs the two in
// alternating batches and reports their ratio (x-base), which holds still
// on a machine whose speed drifts.

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "hello")
}

func BenchmarkBare(b *testing.B) {
	req := httptest.NewRequest("GET", "/", nil)
	h := http.HandlerFunc(hello)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func BenchmarkAuthenticated(b *testing.B) {
	h, req := authenticated(b)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkAuthenticatedVsBare(b *testing.B) {
	h, req := authenticated(b)
	benchratio.Handlers(b, http.HandlerFunc(hello), httptest.NewRequest("GET", "/", nil), h, req)
}

// authenticated returns the login stack on the memory stores around a
// handler that needs the current user, and a request of a logged-in user.
func authenticated(b *testing.B) (http.Handler, *http.Request) {
	b.Helper()
	mem := memstore.NewSessionStore(memstore.SessionOptions{})
	b.Cleanup(func() { mem.Close() })
	sessions, _ := session.New(session.Config{Store: mem, Keys: [][]byte{key}, Logger: slog.New(slog.DiscardHandler)})
	accounts := memstore.NewAccountStore()
	lm, err := login.New(login.Config{Sessions: sessions, Users: accounts, Passwords: &password.Hasher{Params: cheap}})
	if err != nil {
		b.Fatal(err)
	}
	u, err := lm.Register(context.Background(), "ada", "ada@example.com", "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	// Log in once to get a session cookie.
	rec := httptest.NewRecorder()
	sessions.Middleware(lm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := lm.Login(w, r, u, false); err != nil {
			b.Fatal(err)
		}
	}))).ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil))
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	h := sessions.Middleware(lm.Middleware(lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if login.CurrentUser(r.Context()) == nil {
			b.Fatal("not logged in")
		}
		hello(w, r)
	}))))
	return h, req
}
