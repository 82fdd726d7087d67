package login_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/sqlitestore"
)

// plainStore hides every optional capability of a store, as a store that
// cannot list sessions by user would.
type plainStore struct{ session.Store }

// Without a session index the Manager reads the user on every request; a
// disable or password change must still apply at once, and a session must
// survive its own password change even though the accounts store keeps
// times in milliseconds.
func TestWithoutSessionIndex(t *testing.T) {
	mem := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	defer mem.Close()
	sessions, err := session.New(session.Config{Store: plainStore{mem}, Keys: [][]byte{key}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), sqlitestore.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lm, err := login.New(login.Config{Sessions: sessions, Users: db.Accounts(), Passwords: &password.Hasher{Params: cheap}, Policy: password.Policy{}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lm: lm, logs: &syncBuf{}}
	e.srv = httptest.NewServer(sessions.Middleware(lm.Middleware(e.mux())))
	defer e.srv.Close()
	u, err := lm.Register(context.Background(), "ada", "ada@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	here, other := e.browser(), e.browser()
	here.do("POST", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}})
	other.do("POST", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}})
	if r := here.do("POST", "/password", url.Values{"current": {"correct horse battery"}, "new": {"a new passphrase"}}); r.code != http.StatusOK {
		t.Fatalf("change password: %d %s", r.code, r.body)
	}
	if r := here.get("/me"); r.body != "ada session" {
		t.Errorf("the session that changed the password: /me = %d %q, want still logged in", r.code, r.body)
	}
	if r := other.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("another session after the password change: %d, want logged out", r.code)
	}
	// A role change reaches the session at its next request, which also
	// renews its token.
	before := here.cookie(sessCookie)
	if err := lm.SetRoles(context.Background(), "", u.ID, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	if r := here.get("/admin"); r.code != http.StatusOK {
		t.Errorf("/admin right after the role was granted: %d, want 200", r.code)
	}
	if after := here.cookie(sessCookie); after == before || after == "" {
		t.Error("session token after a role change without a session index: unchanged, want renewed")
	}
	lm.SetDisabled(context.Background(), "", u.ID, true)
	if r := here.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("after disable: %d, want logged out", r.code)
	}
}
