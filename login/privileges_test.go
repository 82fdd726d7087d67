package login_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/login"
)

// Grüße with a composed ü (NFC) and with u + combining diaeresis (NFD).
const (
	grusseNFC = "Gr\u00fc\u00dfe und Ku\u00dfe"
	grusseNFD = "Gru\u0308\u00dfe und Ku\u00dfe"
)

// rawArgon2id hashes pw's bytes as given with the env's cheap parameters,
// as a system that does not normalize passwords would have stored it.
func rawArgon2id(pw string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, cheap.Iterations, cheap.Memory, cheap.Parallelism, 32)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", cheap.Memory, cheap.Iterations, cheap.Parallelism, b64(salt), b64(key))
}

// A password typed in NFD logs in to an account whose password was set in
// NFC, and the reverse; an imported hash of unnormalized bytes still
// verifies and is replaced by an NFC argon2id hash at that login.
func TestLoginUnicodeNormalization(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", grusseNFC)
	e.addUser("bob", grusseNFD)
	imported := &account.User{Username: "cyd", Email: "cyd@example.com", PasswordHash: rawArgon2id(grusseNFD)}
	if err := e.accounts.CreateUser(context.Background(), imported); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ user, pw string }{
		{"ada", grusseNFC}, {"ada", grusseNFD},
		{"bob", grusseNFC}, {"bob", grusseNFD},
		{"cyd", grusseNFD}, // the imported hash matches the raw bytes: rehashed
		{"cyd", grusseNFC}, // which now verifies the NFC spelling too
	} {
		form := "NFC"
		if tt.pw == grusseNFD {
			form = "NFD"
		}
		if r := e.browser().login(tt.user, tt.pw, false); r.code != http.StatusSeeOther {
			t.Errorf("login %s with the password typed in %s: %d %q, want 303", tt.user, form, r.code, r.body)
		}
	}
	got, err := e.accounts.UserByID(context.Background(), imported.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash == imported.PasswordHash || !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
		t.Errorf("imported hash after an unnormalized login = %q, want a new argon2id hash", got.PasswordHash)
	}
	if ok, err := e.hasher.Verify(context.Background(), grusseNFC, got.PasswordHash); !ok || err != nil {
		t.Errorf("rehashed hash does not verify the NFC password: %v, %v", ok, err)
	}
}

// gatedHasher stops the first password check it is asked for until the
// test lets it go, so a change can land deterministically while a login
// is checking the password.
type gatedHasher struct {
	login.Hasher
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedHasher) VerifyRehash(ctx context.Context, pw, encoded string) (bool, bool, error) {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.Hasher.VerifyRehash(ctx, pw, encoded)
}

// hookedUsers runs a hook once, right after the first UserByID it answers
// once armed: the read returns the account as it was, and the hook changes
// it before the caller goes on.
type hookedUsers struct {
	account.Store
	hook atomic.Pointer[func()]
}

func (h *hookedUsers) UserByID(ctx context.Context, id string) (*account.User, error) {
	u, err := h.Store.UserByID(ctx, id)
	if f := h.hook.Swap(nil); f != nil {
		(*f)()
	}
	return u, err
}

// loginAsync logs b in on another goroutine and returns the status code.
func loginAsync(b *client, user, pw string) <-chan int {
	done := make(chan int, 1)
	go func() { done <- b.login(user, pw, false).code }()
	return done
}

// An admin demoted while their login checks the password does not get a
// session with the admin role: the session's user is read after the check.
func TestDemotedDuringPasswordCheck(t *testing.T) {
	g := &gatedHasher{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(c *login.Config) { g.Hasher = c.Passwords; c.Passwords = g })
	ada := e.addUser("ada", "correct horse battery", "admin")
	b := e.browser()
	g.armed.Store(true)
	done := loginAsync(b, "ada", "correct horse battery")
	<-g.entered
	if err := e.lm.SetRoles(context.Background(), "root", ada.ID, nil); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	if code := <-done; code != http.StatusSeeOther {
		t.Fatalf("login: %d, want 303", code)
	}
	if r := b.get("/me"); r.body != "ada session" {
		t.Fatalf("/me after login = %d %q, want ada logged in", r.code, r.body)
	}
	if r := b.get("/admin"); r.code != http.StatusForbidden {
		t.Errorf("/admin for an admin demoted during the password check: %d, want 403", r.code)
	}
}

// A change that lands after login read the user but before its session
// exists (so SetRoles cannot find the session to rewrite) is caught by the
// read made after the session is stored.
func TestDemotedWhileSessionStarts(t *testing.T) {
	var users *hookedUsers
	e := newEnv(t, func(c *login.Config) { users = &hookedUsers{Store: c.Users.(account.Store)}; c.Users = users })
	ada := e.addUser("ada", "correct horse battery", "admin")
	demote := func() {
		if err := e.lm.SetRoles(context.Background(), "root", ada.ID, nil); err != nil {
			t.Error(err)
		}
	}
	b := e.browser()
	users.hook.Store(&demote) // fires after the login's first read of ada
	if r := b.login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Fatalf("login: %d %q, want 303", r.code, r.body)
	}
	if users.hook.Load() != nil {
		t.Fatal("the hook never ran: the login did not read the user by ID")
	}
	if r := b.get("/admin"); r.code != http.StatusForbidden {
		t.Errorf("/admin for an admin demoted while the session started: %d, want 403", r.code)
	}
}

// A role change rewrites the user's sessions and renews their tokens: the
// browser keeps its login under a new cookie, and the old token is dead.
func TestRoleChangeRenewsSessionTokens(t *testing.T) {
	e := newEnv(t)
	ada := e.addUser("ada", "correct horse battery", "admin")
	b := e.browser()
	if r := b.login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Fatalf("login: %d", r.code)
	}
	before := b.cookie(sessCookie)
	if err := e.lm.SetRoles(context.Background(), "root", ada.ID, nil); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/admin"); r.code != http.StatusForbidden {
		t.Errorf("/admin after the role was revoked: %d, want 403", r.code)
	}
	after := b.cookie(sessCookie)
	if after == "" || after == before {
		t.Fatalf("session cookie after a role change: unchanged, want a renewed token")
	}
	if r := b.get("/me"); r.body != "ada session" {
		t.Errorf("/me with the renewed token = %d %q, want ada still logged in", r.code, r.body)
	}
	if b.cookie(sessCookie) != after {
		t.Error("token renewed a second time: the renewal should happen once per change")
	}
	old := e.browser()
	old.setCookie(sessCookie, before)
	if r := old.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("token from before the role change: /me = %d %q, want 303 to the login page", r.code, r.body)
	}
}

// A token may do only what its scopes allow, on every route: read for
// GET, write for POST, admin (besides the role) for admin routes.
// Sessions are not limited by scopes.
func TestTokenScopesEnforced(t *testing.T) {
	e := newEnv(t)
	ada := e.addUser("ada", "correct horse battery", "admin")
	tokenWith := func(scopes ...string) []string {
		secret, _, err := e.tokens.Create(context.Background(), ada.ID, strings.Join(scopes, "+"), scopes, 0)
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + secret}
	}
	type want struct{ get, post, admin int }
	tests := []struct {
		scopes []string
		want   want
	}{
		{[]string{"read"}, want{200, 403, 403}},
		{[]string{"write"}, want{403, 200, 403}},
		{[]string{"read", "write"}, want{200, 200, 403}},
		{[]string{"admin"}, want{403, 403, 403}},
		{[]string{"read", "admin"}, want{200, 403, 200}},
	}
	api := e.browser()
	for _, tt := range tests {
		bearer := tokenWith(tt.scopes...)
		got := want{
			get:   api.get("/me", bearer...).code,
			post:  api.do("POST", "/action", url.Values{}, bearer...).code,
			admin: api.get("/admin/scoped", bearer...).code,
		}
		if got != tt.want {
			t.Errorf("token with scopes %q: GET /me, POST /action, GET /admin/scoped = %v, want %v", tt.scopes, got, tt.want)
		}
	}
	r := api.do("POST", "/action", url.Values{}, tokenWith("read")...)
	if ch := r.h.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="write"`) ||
		!strings.Contains(r.body, `"insufficient_scope"`) {
		t.Errorf("read-only token POSTing: WWW-Authenticate %q body %q, want insufficient_scope naming write", ch, r.body)
	}
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	if r := b.get("/admin/scoped"); r.code != http.StatusOK {
		t.Errorf("session on an admin route with RequireScope: %d, want 200 (sessions have no scopes)", r.code)
	}
	if r := b.post("/action", nil); r.code != http.StatusOK {
		t.Errorf("session POST: %d, want 200", r.code)
	}
}
