package login_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
	"github.com/hallpass/hallpass/throttle"
)

var key = []byte("0123456789abcdef0123456789abcdef")

// countingUsers counts user lookups, to prove the per-request path makes
// none.
type countingUsers struct {
	*memstore.AccountStore
	byID      atomic.Int64
	afterByID func() // run once, after the next UserByID
}

func (c *countingUsers) UserByID(ctx context.Context, id string) (*account.User, error) {
	c.byID.Add(1)
	u, err := c.AccountStore.UserByID(ctx, id)
	if f := c.afterByID; f != nil {
		c.afterByID = nil
		f()
	}
	return u, err
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	t        *testing.T
	clock    *sessiontest.Clock
	sessions *session.Manager
	mem      *memstore.SessionStore
	down     *sessiontest.Flaky // e.mem, as the session middleware sees it
	accounts *memstore.AccountStore
	users    *countingUsers
	hasher   *password.Hasher
	tokens   *apitoken.Service
	lm       *login.Manager
	srv      *httptest.Server
	logs     *syncBuf
}

// cheap argon2id parameters keep the tests fast; production uses the
// defaults.
var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1}

// newEnv starts a test server; opts may change the login Config (wrap
// its Users or Passwords) before the Manager is built.
func newEnv(t *testing.T, opts ...func(*login.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: sessiontest.NewClock(), logs: &syncBuf{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	e.mem = memstore.NewSessionStore(memstore.SessionOptions{Now: e.clock.Now, SweepInterval: -1})
	t.Cleanup(func() { e.mem.Close() })
	var err error
	e.down = &sessiontest.Flaky{IndexedStore: e.mem}
	e.sessions, err = session.New(session.Config{Store: e.down, Keys: [][]byte{key}, Now: e.clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.accounts = memstore.NewAccountStore()
	e.users = &countingUsers{AccountStore: e.accounts}
	e.hasher = &password.Hasher{Params: cheap}
	e.tokens = &apitoken.Service{Store: e.accounts, Now: e.clock.Now}
	protector, err := csrf.New(csrf.Config{Keys: [][]byte{key}, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := login.Config{
		Sessions:  e.sessions,
		Users:     e.users,
		Passwords: e.hasher,
		Policy:    password.Policy{},
		Remember:  e.accounts,
		Tokens:    e.tokens,
		Throttle:  throttle.New(nil, throttle.Config{Now: e.clock.Now}),
		CSRF:      protector,
		Audit:     audit.New(logger),
		Logger:    logger,
		Now:       e.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.lm, err = login.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.sessions.Middleware(e.lm.Middleware(e.lm.CSRF(e.mux()))))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) mux() http.Handler {
	lm := e.lm
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, lm.CSRFToken(w, r))
	})
	mux.HandleFunc("POST /visit", func(w http.ResponseWriter, r *http.Request) {
		session.FromRequest(r).Put("visited", true)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u, err := lm.Authenticate(r, r.PostFormValue("username"), r.PostFormValue("password"))
		var te *throttle.ThrottledError
		switch {
		case errors.As(err, &te):
			w.Header().Set("Retry-After", fmt.Sprint(te.RetryAfterSeconds()))
			http.Error(w, te.Error(), http.StatusTooManyRequests)
			return
		case errors.Is(err, login.ErrInvalidCredentials):
			http.Error(w, "Invalid username or password.", http.StatusUnauthorized)
			return
		case err != nil:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		if err := lm.Login(w, r, u, r.PostFormValue("remember") == "on"); err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		http.Redirect(w, r, "/me", http.StatusSeeOther)
	})
	mux.Handle("POST /revoke-others", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := lm.RevokeOtherSessions(r)
		fmt.Fprint(w, n, err)
	})))
	mux.Handle("GET /still", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := lm.StillLoggedIn(r); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "still logged in")
	})))
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		lm.Logout(w, r)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.Handle("GET /me", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", login.CurrentUser(r.Context()).Username, login.HowAuthenticated(r.Context()))
	})))
	mux.Handle("GET /api/me", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, login.CurrentUser(r.Context()).Username)
	})))
	mux.Handle("GET /admin", lm.RequireRole("admin", nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "admin area")
	})))
	mux.Handle("GET /admin/scoped", lm.RequireRole("admin", nil)(lm.RequireScope(apitoken.ScopeAdmin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "admin area")
	}))))
	mux.Handle("GET /fresh", lm.RequireFresh(5*time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "fresh")
	})))
	mux.Handle("POST /action", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "done")
	})))
	mux.Handle("POST /password", lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := lm.ChangePassword(w, r, r.PostFormValue("current"), r.PostFormValue("new"))
		switch {
		case errors.Is(err, login.ErrWrongPassword):
			http.Error(w, "wrong", http.StatusForbidden)
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		default:
			io.WriteString(w, "changed")
		}
	})))
	return mux
}

// addUser creates an account with a password hashed by the env's hasher.
func (e *env) addUser(name, pw string, roles ...string) *account.User {
	e.t.Helper()
	u, err := e.lm.Register(context.Background(), name, name+"@example.com", pw, roles...)
	if err != nil {
		e.t.Fatalf("Register(%q): %v", name, err)
	}
	return u
}

// client is a browser: a cookie jar that does not follow redirects.
type client struct {
	e   *env
	c   *http.Client
	jar *cookiejar.Jar
}

func (e *env) browser() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	code int
	body string
	h    http.Header
}

func (c *client) do(method, path string, form url.Values, hdr ...string) resp {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r.StatusCode, string(b), r.Header}
}

func (c *client) get(path string, hdr ...string) resp { return c.do("GET", path, nil, hdr...) }

// post sends a form with a CSRF token fetched from /form.
func (c *client) post(path string, form url.Values) resp {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", c.get("/form").body)
	return c.do("POST", path, form)
}

func (c *client) login(user, pw string, remember bool) resp {
	c.e.t.Helper()
	f := url.Values{"username": {user}, "password": {pw}}
	if remember {
		f.Set("remember", "on")
	}
	return c.post("/login", f)
}

func (c *client) cookie(name string) string {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func (c *client) setCookie(name, value string) {
	u, _ := url.Parse(c.e.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// withOnly returns a new browser holding only the named cookie of c.
func (c *client) withOnly(name string) *client {
	b := c.e.browser()
	b.setCookie(name, c.cookie(name))
	return b
}

const sessCookie = "hallpass_session"
const rememberCookie = "hallpass_remember"

func TestLoginRenewsSessionAndOldTokenDies(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.post("/visit", nil)
	before := b.cookie(sessCookie)
	if before == "" {
		t.Fatal("no anonymous session before login")
	}
	if r := b.login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	after := b.cookie(sessCookie)
	if after == "" || after == before {
		t.Fatalf("session cookie not renewed at login")
	}
	if r := b.get("/me"); r.body != "ada session" {
		t.Errorf("/me after login = %d %q", r.code, r.body)
	}
	old := e.browser()
	old.setCookie(sessCookie, before)
	if r := old.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("pre-login token after login: /me = %d %q, want 303 to the login page", r.code, r.body)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", true)
	cookie := b.cookie(sessCookie)
	remember := b.cookie(rememberCookie)
	b.post("/logout", nil)
	if b.cookie(sessCookie) != "" || b.cookie(rememberCookie) != "" {
		t.Errorf("cookies left after logout: session %q remember %q", b.cookie(sessCookie), b.cookie(rememberCookie))
	}
	r := b.get("/me")
	if r.code != http.StatusSeeOther || r.h.Get("Location") != "/login?next=%2Fme" {
		t.Errorf("/me after logout: %d Location %q, want 303 /login?next=%%2Fme", r.code, r.h.Get("Location"))
	}
	replay := e.browser()
	replay.setCookie(sessCookie, cookie)
	replay.setCookie(rememberCookie, remember)
	if r := replay.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("replayed cookies after logout: /me = %d %q", r.code, r.body)
	}
	if !strings.Contains(e.logs.String(), `"msg":"logout"`) {
		t.Error("logout not audited")
	}
}

func TestFailedLoginsSameAnswerSameWork(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	dis := e.addUser("bob", "correct horse battery")
	e.lm.SetDisabled(context.Background(), "", dis.ID, true)
	cases := []struct{ name, user, pw string }{
		{"wrong password", "ada", "wrong password!"},
		{"unknown user", "nobody", "wrong password!"},
		{"disabled account", "bob", "correct horse battery"},
	}
	var bodies []string
	for _, tc := range cases {
		before := e.hasher.Stats().Computations
		r := e.browser().login(tc.user, tc.pw, false)
		work := e.hasher.Stats().Computations - before
		if r.code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.name, r.code)
		}
		if work != 1 {
			t.Errorf("%s: %d hash computations, want 1 (the same work for every failure)", tc.name, work)
		}
		bodies = append(bodies, r.body)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("failure answers differ: %q vs %q", b, bodies[0])
		}
	}
	if strings.Contains(e.logs.String(), "wrong password!") {
		t.Error("a password reached the log")
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	fail := func() resp {
		e.clock.Advance(65 * time.Second) // past the growing delay, inside the window
		return b.login("ada", "nope nope nope", false)
	}
	for i := range 10 {
		if r := fail(); r.code != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, r.code)
		}
	}
	r := fail()
	if r.code != http.StatusTooManyRequests || r.h.Get("Retry-After") == "" {
		t.Fatalf("11th attempt: %d Retry-After %q, want 429 with Retry-After", r.code, r.h.Get("Retry-After"))
	}
	if r := b.login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Errorf("right password while throttled: %d, want 429", r.code)
	}
	if !strings.Contains(e.logs.String(), audit.Lockout) {
		t.Error("lockout not audited")
	}
	// After the window, a success resets the account's count.
	e.clock.Advance(16 * time.Minute)
	for range 9 {
		fail()
	}
	e.clock.Advance(65 * time.Second)
	if r := b.login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Fatalf("login after 9 failures: %d", r.code)
	}
	for i := range 9 {
		if r := fail(); r.code != http.StatusUnauthorized {
			t.Fatalf("failure %d after a success: %d, want 401 (count reset)", i+1, r.code)
		}
	}
}

func TestRememberMe(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", true)
	first := b.cookie(rememberCookie)
	if first == "" || !strings.Contains(first, ":") {
		t.Fatalf("remember cookie = %q, want selector:validator", first)
	}
	// The browser restarts: only the persistent remember cookie survives.
	r1 := b.withOnly(rememberCookie)
	if r := r1.get("/me"); r.body != "ada remember" {
		t.Fatalf("restored /me = %d %q, want ada remember", r.code, r.body)
	}
	second := r1.cookie(rememberCookie)
	if second == first || second == "" {
		t.Fatalf("remember validator not rotated on use")
	}
	if sel := strings.Split(first, ":")[0]; !strings.HasPrefix(second, sel+":") {
		t.Errorf("rotation changed the selector")
	}
	// The restored session works on its own, and is not fresh.
	if r := r1.get("/fresh"); r.code != http.StatusSeeOther {
		t.Errorf("/fresh after remember-me: %d, want 303 to the login form", r.code)
	}
	// Someone replays the first cookie later: theft.
	e.clock.Advance(time.Minute)
	thief := e.browser()
	thief.setCookie(rememberCookie, first)
	if r := thief.get("/me"); r.code != http.StatusSeeOther {
		t.Fatalf("stolen cookie: /me = %d %q, want refused", r.code, r.body)
	}
	if !strings.Contains(e.logs.String(), audit.RememberTheft) {
		t.Error("theft not audited")
	}
	for name, c := range map[string]*client{"original browser": b, "restored browser": r1} {
		if r := c.get("/me"); r.code != http.StatusSeeOther {
			t.Errorf("%s after theft: /me = %d, want its session ended", name, r.code)
		}
	}
	if r := r1.withOnly(rememberCookie).get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("rotated remember cookie after theft: %d, want revoked", r.code)
	}
}

// A remember-me cookie has exactly one valid spelling: a validator whose
// last character differs only in the spare bits a lenient base64 decoder
// ignores is refused (and, refused as malformed, rotates nothing).
func TestRememberCookieHasOneSpelling(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", true)
	cookie := b.cookie(rememberCookie)
	want, err := base64.RawURLEncoding.DecodeString(cookie[strings.IndexByte(cookie, ':')+1:])
	if err != nil {
		t.Fatalf("remember cookie %q: %v", cookie, err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	variants := 0
	for _, c := range alphabet {
		v := cookie[:len(cookie)-1] + string(c)
		got, err := base64.RawURLEncoding.DecodeString(v[strings.IndexByte(v, ':')+1:])
		if v == cookie || err != nil || !bytes.Equal(got, want) {
			continue // not another spelling of the same validator
		}
		variants++
		other := e.browser()
		other.setCookie(rememberCookie, v)
		if r := other.get("/me"); r.code != http.StatusSeeOther {
			t.Errorf("remember cookie %q (another spelling of %q): /me = %d %q, want refused", v, cookie, r.code, r.body)
		}
	}
	if variants != 3 {
		t.Fatalf("found %d other spellings of a 32-byte validator, want 3", variants)
	}
	if r := b.withOnly(rememberCookie).get("/me"); r.body != "ada remember" {
		t.Errorf("the cookie as issued: /me = %d %q, want ada remember", r.code, r.body)
	}
}

// Tabs restored together present the same cookie at once: every tab is
// logged in, one of them rotates the cookie, and none is taken for a
// thief. Later, the replaced validator restores no one: within the race
// window it is ignored, and after it, it is a theft.
func TestRememberParallelRace(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", true)
	cookie := b.cookie(rememberCookie)

	const tabs = 20
	results := make([]resp, tabs)
	var wg sync.WaitGroup
	for i := range tabs {
		tab := e.browser()
		tab.setCookie(rememberCookie, cookie)
		wg.Go(func() { results[i] = tab.get("/me") })
	}
	wg.Wait()
	rotated := 0
	for i, r := range results {
		if r.body != "ada remember" {
			t.Errorf("tab %d: /me = %d %q, want ada remember", i+1, r.code, r.body)
		}
		for _, c := range (&http.Response{Header: r.h}).Cookies() {
			if c.Name == rememberCookie && c.Value != "" {
				rotated++
			}
		}
	}
	if rotated != 1 {
		t.Errorf("%d responses set a new remember-me cookie, want exactly 1 (the rotation)", rotated)
	}
	if strings.Contains(e.logs.String(), audit.RememberTheft) {
		t.Fatalf("a parallel use within the race window was taken for theft")
	}

	// The replaced validator, a little later: no login, no alarm.
	e.clock.Advance(login.RaceGrace + time.Second)
	late := e.browser()
	late.setCookie(rememberCookie, cookie)
	if r := late.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("replaced validator after the grace: /me = %d %q, want refused", r.code, r.body)
	}
	if strings.Contains(e.logs.String(), audit.RememberTheft) {
		t.Fatalf("the replaced validator within the race window was taken for theft")
	}
	// After the race window, it is a copy used by someone else.
	e.clock.Advance(time.Minute)
	thief := e.browser()
	thief.setCookie(rememberCookie, cookie)
	thief.get("/me")
	if !strings.Contains(e.logs.String(), audit.RememberTheft) {
		t.Error("the replaced validator after the race window was not taken for theft")
	}
}

// A session store that fails while a remember-me cookie is used answers
// 503 and leaves the cookie as it was: once the store is back, even after
// the race window, the browser's cookie logs it in, with no theft alarm
// (the rotation had committed before the session failed, so the cookie
// the browser kept looked stolen and every session of the user ended).
func TestRememberDuringSessionStoreOutage(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", true)
	restored := b.withOnly(rememberCookie)
	cookie := restored.cookie(rememberCookie)

	e.down.Down.Store(true)
	if r := restored.get("/me"); r.code != http.StatusServiceUnavailable {
		t.Fatalf("remember-me with the session store down: %d %q, want 503", r.code, r.body)
	}
	if got := restored.cookie(rememberCookie); got != cookie {
		t.Fatalf("the failed request changed the remember-me cookie to %q", got)
	}
	e.down.Down.Store(false)
	e.clock.Advance(time.Minute) // past the race window

	if r := restored.get("/me"); r.body != "ada remember" {
		t.Errorf("remember-me after the outage: %d %q, want ada remember", r.code, r.body)
	}
	if strings.Contains(e.logs.String(), audit.RememberTheft) {
		t.Error("the cookie kept through an outage was taken for a theft")
	}
	if r := b.get("/me"); r.body != "ada session" {
		t.Errorf("the browser that logged in, after the outage: %d %q, want its session alive", r.code, r.body)
	}
}

// Without Config.Remember, "remember me" sets no cookie, and the first
// login that asks for it says so in the log, once: an app whose own users
// keep no remember-me tokens would otherwise offer a checkbox that does
// nothing, silently.
func TestRememberOffSaysSo(t *testing.T) {
	e := newEnv(t, func(c *login.Config) { c.Remember = nil })
	e.addUser("ada", "correct horse battery")
	for range 2 {
		b := e.browser()
		if r := b.login("ada", "correct horse battery", true); r.code != http.StatusSeeOther {
			t.Fatalf("login: %d %q", r.code, r.body)
		}
		if b.cookie(rememberCookie) != "" {
			t.Error("a remember-me cookie without Config.Remember")
		}
	}
	if n := strings.Count(e.logs.String(), "remember-me was asked for, but it is off"); n != 1 {
		t.Errorf("%d warnings for two logins asking for remember-me without Config.Remember, want 1:\n%s", n, e.logs.String())
	}
}

func TestRememberExpires(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", true)
	e.clock.Advance(30*24*time.Hour + time.Minute)
	if r := b.withOnly(rememberCookie).get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("remember cookie after 30 days: %d %q, want refused", r.code, r.body)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	e.addUser("bob", "correct horse battery")
	alice, bob := e.browser(), e.browser()
	alice.login("ada", "correct horse battery", false)
	bob.login("bob", "correct horse battery", false)
	aliceToken := alice.get("/form").body
	bobToken := bob.get("/form").body
	tests := []struct {
		name  string
		token string
		hdr   []string
		want  int
	}{
		{"missing", "", nil, http.StatusForbidden},
		{"garbage", "not-a-token", nil, http.StatusForbidden},
		{"other session's token", bobToken, nil, http.StatusForbidden},
		{"valid form field", aliceToken, nil, http.StatusOK},
		{"valid header", "", []string{"X-CSRF-Token", aliceToken}, http.StatusOK},
		{"cross-site", aliceToken, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"foreign origin", aliceToken, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{}
			if tt.token != "" {
				f.Set("csrf_token", tt.token)
			}
			if r := alice.do("POST", "/action", f, tt.hdr...); r.code != tt.want {
				t.Errorf("POST /action: %d %q, want %d", r.code, r.body, tt.want)
			}
		})
	}
	// A masked token differs on each page but stays valid.
	if t2 := alice.get("/form").body; t2 == aliceToken {
		t.Error("CSRF token not masked per response")
	}
	// The login form of an anonymous visitor needs the pre-session token.
	anon := e.browser()
	if r := anon.do("POST", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}}); r.code != http.StatusForbidden {
		t.Errorf("login without a CSRF token: %d, want 403", r.code)
	}
	// Login drops the pre-session cookie; the new session has its own token.
	anon.login("ada", "correct horse battery", false)
	if c := anon.cookie("hallpass_csrf"); c != "" {
		t.Errorf("pre-session CSRF cookie survived login: %q", c)
	}
}

func TestBearerTokens(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ada", "correct horse battery")
	secret, tok, err := e.tokens.Create(context.Background(), u.ID, "script", []string{"read", "write"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "hp_") {
		t.Errorf("token %q lacks the hp_ prefix", secret)
	}
	api := e.browser()
	bearer := []string{"Authorization", "Bearer " + secret}
	if r := api.get("/me", bearer...); r.body != "ada bearer" {
		t.Errorf("/me with a bearer token: %d %q", r.code, r.body)
	}
	// Bearer requests need no CSRF token.
	if r := api.do("POST", "/action", url.Values{}, bearer...); r.code != http.StatusOK {
		t.Errorf("bearer POST without CSRF token: %d %q, want 200", r.code, r.body)
	}
	for _, bad := range []string{"Bearer hp_nope", "Bearer " + secret + "x", "Basic " + secret} {
		r := api.get("/api/me", "Authorization", bad)
		if r.code != http.StatusUnauthorized || r.h.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d WWW-Authenticate %q, want 401 with a challenge", bad, r.code, r.h.Get("WWW-Authenticate"))
		}
	}
	e.tokens.Revoke(context.Background(), u.ID, tok.ID)
	if r := api.get("/api/me", bearer...); r.code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", r.code)
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("a token reached the log")
	}
}

func TestRequireLoginJSON(t *testing.T) {
	e := newEnv(t)
	r := e.browser().get("/api/me", "Accept", "application/json")
	var body map[string]string
	json.Unmarshal([]byte(r.body), &body)
	if r.code != http.StatusUnauthorized || body["error"] != "unauthenticated" || !strings.HasPrefix(r.h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("anonymous API call: %d %q WWW-Authenticate %q", r.code, r.body, r.h.Get("WWW-Authenticate"))
	}
}

func TestRequireRoleAndRoleChange(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	if r := b.get("/admin"); r.code != http.StatusForbidden {
		t.Errorf("/admin without the role: %d, want 403", r.code)
	}
	ctx := context.Background()
	if err := e.lm.SetRoles(ctx, "", u.ID, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/admin"); r.code != http.StatusOK {
		t.Errorf("/admin right after the role was granted: %d, want 200 without logging in again", r.code)
	}
	e.lm.SetRoles(ctx, "", u.ID, nil)
	if r := b.get("/admin"); r.code != http.StatusForbidden {
		t.Errorf("/admin right after the role was revoked: %d, want 403", r.code)
	}
}

func TestDisableEndsEverything(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ada", "correct horse battery")
	b1, b2 := e.browser(), e.browser()
	b1.login("ada", "correct horse battery", true)
	b2.login("ada", "correct horse battery", false)
	secret, _, _ := e.tokens.Create(context.Background(), u.ID, "ci", []string{"read", "write"}, 0)
	if err := e.lm.SetDisabled(context.Background(), "admin-1", u.ID, true); err != nil {
		t.Fatal(err)
	}
	for i, b := range []*client{b1, b2, b1.withOnly(rememberCookie)} {
		if r := b.get("/me"); r.code != http.StatusSeeOther {
			t.Errorf("browser %d after disable: /me = %d %q, want logged out", i, r.code, r.body)
		}
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusUnauthorized {
		t.Errorf("API token after disable: %d, want 401", r.code)
	}
}

// An administrator's DeleteUser ends every session, remember-me token and
// API token before the account goes, and is audited with the actor.
func TestDeleteUserEndsEverything(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.addUser("ada", "correct horse battery")
	other := e.addUser("bob", "another fine passphrase")
	b1, b2, b3 := e.browser(), e.browser(), e.browser()
	b1.login("ada", "correct horse battery", true)
	b2.login("ada", "correct horse battery", false)
	b3.login("bob", "another fine passphrase", false)
	secret, _, _ := e.tokens.Create(ctx, u.ID, "ci", []string{apitoken.ScopeRead}, 0)
	if err := e.lm.DeleteUser(ctx, "admin-1", u.ID); err != nil {
		t.Fatal(err)
	}
	for i, b := range []*client{b1, b2, b1.withOnly(rememberCookie)} {
		if r := b.get("/me"); r.code != http.StatusSeeOther {
			t.Errorf("browser %d after delete: /me = %d %q, want logged out", i, r.code, r.body)
		}
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusUnauthorized {
		t.Errorf("API token after delete: %d, want 401", r.code)
	}
	if r := b3.get("/me"); r.code != http.StatusOK {
		t.Errorf("another user's session after delete: /me = %d, want 200", r.code)
	}
	if _, err := e.accounts.UserByID(ctx, u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("UserByID after DeleteUser = %v, want ErrNotFound", err)
	}
	if err := e.lm.DeleteUser(ctx, "admin-1", u.ID); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("DeleteUser of a deleted user = %v, want ErrNotFound", err)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"msg":"user.delete"`) || !strings.Contains(logs, `"actor":"admin-1"`) {
		t.Errorf("no user.delete audit record with the actor in:\n%s", logs)
	}

	// EndSession ends one session of a user, and only theirs.
	list, err := e.sessions.ListByUser(ctx, other.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListByUser(bob) = %d sessions, %v; want 1", len(list), err)
	}
	if err := e.lm.EndSession(ctx, "admin-1", u.ID, list[0].ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("EndSession of bob's session as ada's = %v, want session.ErrNotFound", err)
	}
	if err := e.lm.EndSession(ctx, "admin-1", other.ID, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if r := b3.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("bob's session after EndSession: /me = %d, want logged out", r.code)
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ada", "correct horse battery")
	here, other := e.browser(), e.browser()
	here.login("ada", "correct horse battery", true)
	other.login("ada", "correct horse battery", true)
	secret, _, _ := e.tokens.Create(context.Background(), u.ID, "ci", []string{"read", "write"}, 0)
	before := here.cookie(sessCookie)

	if r := here.post("/password", url.Values{"current": {"wrong wrong"}, "new": {"a new passphrase"}}); r.code != http.StatusForbidden {
		t.Fatalf("wrong current password: %d %q, want 403", r.code, r.body)
	}
	if r := here.post("/password", url.Values{"current": {"correct horse battery"}, "new": {"a new passphrase"}}); r.code != http.StatusOK {
		t.Fatalf("change password: %d %q", r.code, r.body)
	}
	if here.cookie(sessCookie) == before {
		t.Error("the session that changed the password was not renewed")
	}
	if r := here.get("/me"); r.body != "ada session" {
		t.Errorf("this session after the change: %d %q, want still logged in", r.code, r.body)
	}
	if r := other.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("other session after the change: %d, want ended", r.code)
	}
	if r := other.withOnly(rememberCookie).get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("remember token after the change: %d, want revoked", r.code)
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusUnauthorized {
		t.Errorf("API token after the change: %d, want revoked", r.code)
	}
	if r := e.browser().login("ada", "a new passphrase", false); r.code != http.StatusSeeOther {
		t.Errorf("login with the new password: %d", r.code)
	}
	if r := here.post("/password", url.Values{"current": {"a new passphrase"}, "new": {"password"}}); r.code != http.StatusUnprocessableEntity {
		t.Errorf("common new password: %d %q, want 422", r.code, r.body)
	}
}

// gateHasher holds every password check of a login (VerifyRehash) until
// open is closed, telling entered of each.
type gateHasher struct {
	login.Hasher
	entered chan struct{}
	open    chan struct{}
}

func (g *gateHasher) VerifyRehash(ctx context.Context, pw, encoded string) (ok, rehash bool, err error) {
	g.entered <- struct{}{}
	<-g.open
	return g.Hasher.VerifyRehash(ctx, pw, encoded)
}

// A client that logs in to one account from many requests at once, all
// with the right password: the account's limit of attempts in flight
// holds (10 checks), and the others are told to come back in a second,
// not that attempts failed, nor to wait for the window's end.
func TestParallelCorrectLogins(t *testing.T) {
	gate := &gateHasher{entered: make(chan struct{}, 100), open: make(chan struct{})}
	e := newEnv(t, func(c *login.Config) { gate.Hasher = c.Passwords; c.Passwords = gate })
	e.addUser("ada", "correct horse battery")
	const n = 30
	results := make(chan resp, n)
	for range n {
		b := e.browser()
		go func() { results <- b.login("ada", "correct horse battery", false) }()
	}
	// The checks that got a place are held at the gate: every answer
	// before it opens is a refusal.
	for i := range n - throttle.DefaultPerAccount {
		r := <-results
		if r.code != http.StatusTooManyRequests || r.h.Get("Retry-After") != "1" ||
			!strings.Contains(r.body, "Too many login attempts at once. Try again in 1 second.") {
			t.Errorf("refusal %d: %d Retry-After %q %q; want 429, Retry-After 1, attempts at once",
				i+1, r.code, r.h.Get("Retry-After"), r.body)
		}
	}
	if got := len(gate.entered); got != throttle.DefaultPerAccount {
		t.Errorf("%d password checks started, want the account's limit, %d", got, throttle.DefaultPerAccount)
	}
	close(gate.open)
	for i := range throttle.DefaultPerAccount {
		if r := <-results; r.code != http.StatusSeeOther {
			t.Errorf("login %d with a place: %d %q, want 303", i+1, r.code, r.body)
		}
	}
	if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Errorf("a login after the burst: %d %q, want 303", r.code, r.body)
	}
}

// barrierHasher holds each Verify, once armed for n, until n have
// started: n requests then check the same current password before any
// of them saves a new one.
type barrierHasher struct {
	login.Hasher
	mu      sync.Mutex
	waiting int
	all     chan struct{}
}

func (b *barrierHasher) arm(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting, b.all = n, make(chan struct{})
}

func (b *barrierHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	b.mu.Lock()
	all := b.all
	if all != nil {
		if b.waiting--; b.waiting == 0 {
			close(all)
		}
	}
	b.mu.Unlock()
	if all != nil {
		select {
		case <-all:
		case <-time.After(10 * time.Second):
		}
	}
	return b.Hasher.Verify(ctx, pw, encoded)
}

// Concurrent password changes made with the same current password: one
// wins, the others are refused as a wrong current password (it no longer
// is the password), and only the winner's new password logs in. Before,
// all of them answered "changed" and every new password but the last was
// lost.
func TestConcurrentChangePassword(t *testing.T) {
	const n = 5
	bh := &barrierHasher{}
	e := newEnv(t, func(c *login.Config) { bh.Hasher, c.Passwords = c.Passwords, bh })
	e.addUser("ada", "correct horse battery")
	browsers := make([]*client, n)
	for i := range browsers {
		browsers[i] = e.browser()
		if r := browsers[i].login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
			t.Fatalf("login %d: %d", i, r.code)
		}
	}
	bh.arm(n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i, b := range browsers {
		wg.Go(func() {
			codes[i] = b.post("/password", url.Values{"current": {"correct horse battery"}, "new": {fmt.Sprintf("new passphrase %d", i)}}).code
		})
	}
	wg.Wait()
	winner := -1
	for i, code := range codes {
		switch {
		case code == http.StatusOK && winner < 0:
			winner = i
		case code != http.StatusForbidden:
			t.Errorf("change %d: %d, want one 200 and 403 (wrong current password) for the rest; all: %v", i, code, codes)
		}
	}
	if winner < 0 {
		t.Fatalf("no change won: %v", codes)
	}
	// The changes that lost changed nothing: the winner's session, renewed,
	// is still logged in.
	if r := browsers[winner].get("/me"); r.body != "ada session" {
		t.Errorf("the session that changed the password, after the others lost: %d %q, want still logged in", r.code, r.body)
	}
	for i := range n {
		e.clock.Advance(time.Minute)
		r := e.browser().login("ada", fmt.Sprintf("new passphrase %d", i), false)
		if want := i == winner; (r.code == http.StatusSeeOther) != want {
			t.Errorf("login with new passphrase %d: %d, want success only for the winner's (%d)", i, r.code, winner)
		}
	}
}

// Wrong current passwords on the account page are counted like failed
// logins, judged as logins are: the owner's known browser by its own
// failures. A stranger's failed logins do not lock the owner out of the
// account page, and a session that guesses the current password is
// stopped after the limit.
// A password change whose sessions cannot be ended (the session store
// takes no writes) is not made: the old password still works, the other
// browser is still logged in (it would have stayed so with the new
// password in place), and the change succeeds once the store is back.
func TestChangePasswordWithSessionWritesDown(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b, other := e.browser(), e.browser()
	b.login("ada", "correct horse battery", false)
	other.login("ada", "correct horse battery", false)

	e.down.WritesDown.Store(true)
	if r := b.post("/password", url.Values{"current": {"correct horse battery"}, "new": {"a new passphrase"}}); r.code == http.StatusOK {
		t.Fatalf("password change with the session store taking no writes: %d %q, want refused", r.code, r.body)
	}
	e.down.WritesDown.Store(false)
	if r := e.browser().login("ada", "a new passphrase", false); r.code != http.StatusUnauthorized {
		t.Errorf("the new password after the refused change: %d, want 401 (not changed)", r.code)
	}
	if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Errorf("the old password after the refused change: %d, want 303", r.code)
	}

	if r := b.post("/password", url.Values{"current": {"correct horse battery"}, "new": {"a new passphrase"}}); r.code != http.StatusOK {
		t.Fatalf("password change with the store back: %d %q", r.code, r.body)
	}
	if r := other.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("the other browser after the change: %d, want logged out", r.code)
	}
}

// Likewise for a password set without the current one (a reset): nothing
// changes while its sessions cannot be ended.
func TestSetPasswordAndDisableWithSessionWritesDown(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	ctx := context.Background()

	e.down.WritesDown.Store(true)
	if err := e.lm.SetPassword(ctx, "", u.ID, "a new passphrase"); err == nil {
		t.Error("SetPassword with the session store taking no writes succeeded")
	}
	e.down.WritesDown.Store(false)
	got, err := e.accounts.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != u.PasswordHash {
		t.Error("the password changed, though its sessions could not be ended")
	}
	if r := b.get("/me"); r.body != "ada session" {
		t.Errorf("the session after the refused change: %d %q", r.code, r.body)
	}

	// Disabling saves the flag first, which on its own refuses every way
	// in, and says what it could not end; disabling again ends it.
	secret, _, err := e.tokens.Create(ctx, u.ID, "ci", []string{"read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.down.WritesDown.Store(true)
	if err := e.lm.SetDisabled(ctx, "", u.ID, true); err == nil || !strings.Contains(err.Error(), "the account is disabled, but") {
		t.Errorf("SetDisabled with the session store taking no writes: %v, want an error saying the account is disabled", err)
	}
	e.down.WritesDown.Store(false)
	if got, _ := e.accounts.UserByID(ctx, u.ID); !got.Disabled {
		t.Error("the account is not disabled")
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusUnauthorized {
		t.Errorf("the API token of the disabled account: %d, want 401", r.code)
	}
	if r := e.browser().login("ada", "correct horse battery", false); r.code == http.StatusSeeOther {
		t.Errorf("a password login of the disabled account: %d, want refused", r.code)
	}
	if err := e.lm.SetDisabled(ctx, "", u.ID, true); err != nil {
		t.Fatalf("disabling again with the store back: %v", err)
	}
	if r := b.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("the session once disabled again: %d %q, want logged out", r.code, r.body)
	}
}

func TestWrongCurrentPasswordCountsTowardThrottle(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	for range 10 {
		e.clock.Advance(65 * time.Second)
		e.browser().login("ada", "wrong wrong", false)
	}
	if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Fatalf("a stranger's login after 10 failures: %d, want 429", r.code)
	}
	if r := b.post("/password", url.Values{"current": {"correct horse battery"}, "new": {"a new passphrase"}}); r.code != http.StatusOK {
		t.Errorf("the owner's password change after a stranger's 10 failures: %d %q, want 200", r.code, r.body)
	}
	for range 10 {
		e.clock.Advance(65 * time.Second)
		b.post("/password", url.Values{"current": {"wrong wrong"}, "new": {"another passphrase"}})
	}
	e.clock.Advance(65 * time.Second)
	if r := b.post("/password", url.Values{"current": {"a new passphrase"}, "new": {"another passphrase"}}); !strings.Contains(r.body, "Too many failed login attempts") {
		t.Errorf("the right current password after 10 wrong ones in this browser: %d %q, want throttled", r.code, r.body)
	}
}

// A form or a script's POST from a page whose session has ended since
// is answered as a request without a login (a browser to the login page,
// a script 401 "session_ended"), not as a forged one; a token that is
// simply wrong, or a foreign origin, is still a 403.
func TestCSRFWithSessionEnded(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	token := b.get("/form").body
	if r := b.do("POST", "/action", url.Values{"csrf_token": {"wrong"}}); r.code != http.StatusForbidden {
		t.Errorf("a wrong token with a live session: %d, want 403", r.code)
	}
	e.clock.Advance(31 * time.Minute) // past the idle timeout
	r := b.do("POST", "/action", url.Values{"csrf_token": {token}})
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/login") {
		t.Errorf("a form posted after its session ended: %d %q, want 303 to the login page", r.code, r.h.Get("Location"))
	}
	b = e.browser()
	b.login("ada", "correct horse battery", false)
	token = b.get("/form").body
	e.clock.Advance(31 * time.Minute)
	r = b.do("POST", "/action", url.Values{"csrf_token": {token}}, "Accept", "application/json")
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, `"session_ended"`) {
		t.Errorf("a script's POST after its session ended: %d %s, want 401 session_ended", r.code, r.body)
	}
	r = b.do("POST", "/action", url.Values{"csrf_token": {token}}, "Accept", "application/json", "Origin", "https://evil.example")
	if r.code != http.StatusForbidden {
		t.Errorf("a foreign origin after the session ended: %d %s, want 403", r.code, r.body)
	}
}

// Two role changes at once leave the user's sessions with the roles the
// account ends with: a grant that read the user just before a revoke
// committed wrote its stale copy into the sessions last, and the session
// kept a revoked admin role.
func TestSetRolesRace(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	ctx := context.Background()
	// The grant reads the user (admin); the revoke then runs whole.
	e.users.afterByID = func() {
		if err := e.lm.SetRoles(ctx, "", u.ID, nil); err != nil {
			t.Error(err)
		}
	}
	if err := e.lm.SetRoles(ctx, "", u.ID, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.accounts.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	r := b.get("/admin")
	if admin := r.code == http.StatusOK; admin != got.HasRole("admin") {
		t.Errorf("the account's roles are %v, and its session's GET /admin is %d", got.Roles, r.code)
	}
}

func TestRequireFresh(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	if r := b.get("/fresh"); r.code != http.StatusOK {
		t.Errorf("/fresh right after login: %d", r.code)
	}
	e.clock.Advance(6 * time.Minute)
	r := b.get("/fresh")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.h.Get("Location"), "/login?next=%2Ffresh") {
		t.Errorf("/fresh 6 minutes later: %d %q, want 303 to the login form", r.code, r.h.Get("Location"))
	}
}

// The current user comes from the session: an authenticated request makes
// no account-store query.
func TestNoUserQueryPerRequest(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	b.login("ada", "correct horse battery", false)
	before := e.users.byID.Load()
	for range 10 {
		if r := b.get("/me"); r.body != "ada session" {
			t.Fatalf("/me = %q", r.body)
		}
	}
	if n := e.users.byID.Load() - before; n != 0 {
		t.Errorf("account lookups for 10 authenticated requests = %d, want 0", n)
	}
}

// Crawlers fetching the login form leave the session store empty.
func TestBotsCreateNoSessions(t *testing.T) {
	e := newEnv(t)
	for range 200 {
		if r := e.browser().get("/form"); r.code != http.StatusOK || r.body == "" {
			t.Fatalf("GET /form: %d %q", r.code, r.body)
		}
	}
	if n := e.mem.Len(); n != 0 {
		t.Errorf("session store holds %d sessions after anonymous form views, want 0", n)
	}
}

type vector struct {
	Password, Hash string
	Want           bool
}

// Every legacy format verifies at login and is rehashed to argon2id.
func TestLegacyHashesUpgradedAtLogin(t *testing.T) {
	var vectors []vector
	for _, f := range []string{"../password/testdata/werkzeug_vectors.json", "../password/testdata/other_vectors.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Vectors []vector }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		vectors = append(vectors, doc.Vectors...)
	}
	e := newEnv(t)
	seen := map[string]bool{}
	n := 0
	for _, v := range vectors {
		format := formatOf(v.Hash)
		if !v.Want || v.Password == "" || seen[format] || strings.HasPrefix(v.Hash, "$argon2id$") {
			continue
		}
		seen[format] = true
		n++
		t.Run(format, func(t *testing.T) {
			name := fmt.Sprintf("legacy%d", n)
			u := &account.User{Username: name, Email: name + "@example.com", PasswordHash: v.Hash}
			if err := e.accounts.CreateUser(context.Background(), u); err != nil {
				t.Fatal(err)
			}
			if r := e.browser().login(name, v.Password, false); r.code != http.StatusSeeOther {
				t.Fatalf("login with a %s hash: %d %q", format, r.code, r.body)
			}
			got, _ := e.accounts.UserByID(context.Background(), u.ID)
			if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
				t.Errorf("hash after login = %q, want argon2id", got.PasswordHash)
			}
			if r := e.browser().login(name, v.Password, false); r.code != http.StatusSeeOther {
				t.Errorf("login with the upgraded hash: %d", r.code)
			}
		})
	}
	for _, want := range []string{"pbkdf2:sha256", "scrypt", "$2b$", "pbkdf2_sha256", "$argon2i$"} {
		if !seen[want] {
			t.Errorf("no test vector of format %s", want)
		}
	}
}

func formatOf(h string) string {
	switch {
	case strings.HasPrefix(h, "$2"):
		return h[:4]
	case strings.HasPrefix(h, "$argon2i$"):
		return "$argon2i$"
	case strings.HasPrefix(h, "pbkdf2_sha256$"):
		return "pbkdf2_sha256"
	}
	method, _, _ := strings.Cut(h, "$")
	parts := strings.Split(method, ":")
	if len(parts) > 2 {
		parts = parts[:2]
	}
	if parts[0] == "scrypt" {
		return "scrypt"
	}
	return strings.Join(parts, ":")
}

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/dashboard", "/dashboard"},
		{"/account?tab=sessions", "/account?tab=sessions"},
		{"", ""},
		{"//evil.example", ""},
		{"/\\evil.example", ""},
		{"https://evil.example/", ""},
		{"javascript:alert(1)", ""},
		{"dashboard", ""},
		{"/\t/evil.example", ""},
		{"/%0a", "/%0a"},
		{"/a\nb", ""},
		{strings.Repeat("/a", 2000), ""},
	}
	for _, tt := range tests {
		if got := login.SafeNext(tt.in); got != tt.want {
			t.Errorf("SafeNext(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRegisterValidation(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	ctx := context.Background()
	_, err := e.lm.Register(ctx, "x", "not-an-email", "short")
	var fe account.FieldErrors
	if !errors.As(err, &fe) || fe.For("username") == "" || fe.For("email") == "" || fe.For("password") == "" {
		t.Errorf("Register with three bad fields: %v, want a message for each", err)
	}
	if _, err := e.lm.Register(ctx, "ADA", "a@example.com", "correct horse battery"); !errors.Is(err, account.ErrUsernameTaken) {
		t.Errorf("Register(ADA) = %v, want ErrUsernameTaken", err)
	}
}

// memSessions returns a session manager on a memory store, closed with
// the test.
func memSessions(t *testing.T) *session.Manager {
	t.Helper()
	mem := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	sessions, err := session.New(session.Config{Store: mem, Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	return sessions
}

// TestNewValidatesCookieNames checks that New refuses a remember-me or
// device cookie name net/http would drop, and accepts a valid one.
func TestNewValidatesCookieNames(t *testing.T) {
	sessions := memSessions(t)
	for _, tt := range []struct {
		remember, device string
		ok               bool
	}{
		{"", "", true},
		{"app.remember", "app-device_1", true},
		{"remember me", "", false},
		{"", "device=1", false},
		{"a;b", "", false},
		{"", "appareil-é", false},
	} {
		_, err := login.New(login.Config{Sessions: sessions, Users: memstore.NewAccountStore(), Passwords: &password.Hasher{},
			RememberCookie: tt.remember, DeviceCookie: tt.device})
		if (err == nil) != tt.ok {
			t.Errorf("New with cookies %q and %q: err = %v, want ok %v", tt.remember, tt.device, err, tt.ok)
		}
	}
}
