package login_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
	"github.com/hallpass/hallpass/throttle"
)

// failingUsers fails every lookup of the user "boom", as a store outage.
type failingUsers struct{ *memstore.AccountStore }

func (f failingUsers) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	if name == "boom" {
		return nil, errors.New("connection refused")
	}
	return f.AccountStore.UserByUsername(ctx, name)
}

// hookCounts records what the Hooks were told.
type hookCounts struct {
	mu      sync.Mutex
	results map[login.Result]int
	used    int
	thefts  int
}

func (h *hookCounts) hooks() login.Hooks {
	return login.Hooks{
		Authenticated: func(_ context.Context, r login.Result) { h.mu.Lock(); h.results[r]++; h.mu.Unlock() },
		RememberUsed:  func(context.Context) { h.mu.Lock(); h.used++; h.mu.Unlock() },
		RememberTheft: func(context.Context) { h.mu.Lock(); h.thefts++; h.mu.Unlock() },
	}
}

func TestHooks(t *testing.T) {
	clock := sessiontest.NewClock()
	mem := memstore.NewSessionStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	sessions, err := session.New(session.Config{Store: mem, Keys: [][]byte{key}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	accounts := memstore.NewAccountStore()
	got := &hookCounts{results: map[login.Result]int{}}
	lm, err := login.New(login.Config{
		Sessions:  sessions,
		Users:     failingUsers{accounts},
		Passwords: &password.Hasher{Params: cheap},
		Remember:  accounts,
		Throttle:  throttle.New(nil, throttle.Config{PerAccount: 2, PerIP: 3, Now: clock.Now}),
		Now:       clock.Now,
		Hooks:     got.hooks(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"ada", "bob"} {
		if _, err := lm.Register(ctx, name, name+"@example.com", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}

	for _, a := range []struct{ ip, user, pw string }{
		{"192.0.2.1", "ada", "wrong"},                    // wrong_password
		{"192.0.2.1", "ada", "wrong"},                    // wrong_password; ada is at her limit
		{"192.0.2.2", "ada", "correct horse battery"},    // locked
		{"192.0.2.1", "bob", "wrong"},                    // wrong_password; the address is at its limit
		{"192.0.2.1", "carol", "wrong"},                  // throttled
		{"192.0.2.3", "bob", "correct horse battery"},    // success
		{"192.0.2.4", "boom", "correct horse battery"},   // error
		{"192.0.2.5", "nobody", "correct horse battery"}, // wrong_password
	} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = a.ip + ":1234"
		lm.Authenticate(r, a.user, a.pw)
	}
	want := map[login.Result]int{login.ResultWrongPassword: 4, login.ResultLocked: 1, login.ResultThrottled: 1, login.ResultSuccess: 1, login.ResultError: 1}
	for _, res := range login.Results {
		if got.results[res] != want[res] {
			t.Errorf("Authenticated(%s) called %d times, want %d (all: %v)", res, got.results[res], want[res], got.results)
		}
	}

	// Remember-me: a login with remember, a use, then the first cookie
	// replayed after the rotation: a theft.
	h := sessions.Middleware(lm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			u, err := lm.Authenticate(r, "bob", "correct horse battery")
			if err == nil {
				err = lm.Login(w, r, u, true)
			}
			if err != nil {
				t.Errorf("log in: %v", err)
			}
		}
	})))
	send := func(path string, c *http.Cookie) *http.Cookie {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "192.0.2.9:1234"
		if c != nil {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			if c.Name == "hallpass_remember" && c.MaxAge > 0 {
				return c
			}
		}
		return nil
	}
	first := send("/login", nil)
	if first == nil {
		t.Fatal("no remember-me cookie after a login with remember")
	}
	if send("/", first) == nil {
		t.Fatal("remember-me cookie not rotated on use")
	}
	clock.Advance(time.Minute)
	send("/", first)
	if got.used != 1 || got.thefts != 1 {
		t.Errorf("RememberUsed called %d times and RememberTheft %d, want 1 and 1", got.used, got.thefts)
	}
}
