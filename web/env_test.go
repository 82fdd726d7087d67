package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/mail/mailtest"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
	"github.com/hallpass/hallpass/web"
)

var key = []byte("0123456789abcdef0123456789abcdef")

// cheap argon2id parameters keep the tests fast.
var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1}

const (
	sessCookie     = "hallpass_session"
	rememberCookie = "hallpass_remember"
	goodPassword   = "correct horse battery"
)

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

// errDown is the error of a store that stopped answering.
var errDown = sessiontest.ErrDown

type env struct {
	t        testing.TB
	clock    *sessiontest.Clock
	store    *sessiontest.Flaky
	sessions *session.Manager
	accounts *memstore.AccountStore
	tokens   *apitoken.Service
	lm       *login.Manager
	web      *web.Server
	srv      *httptest.Server
	logs     *syncBuf
	health   atomic.Value // error
	hasher   *testHasher
	rec      *recovery.Service // with withMail
	mail     *mailtest.Server  // with withMail: where the server's mail goes
	recStore *memstore.RecoveryStore
}

// envOption changes the server's configuration before it is built.
type envOption func(*server.Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: sessiontest.NewClock(), logs: &syncBuf{}, hasher: &testHasher{Hasher: &password.Hasher{Params: cheap}}}
	logger := slog.New(web.LogHandler(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	mem := memstore.NewSessionStore(memstore.SessionOptions{Now: e.clock.Now, SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	e.store = &sessiontest.Flaky{IndexedStore: mem}
	e.accounts = memstore.NewAccountStore()
	cfg := server.Config{
		SessionStore: e.store,
		Accounts:     e.accounts,
		Keys:         [][]byte{key},
		Passwords:    e.hasher,
		Logger:       logger,
		Now:          e.clock.Now,
		Web: web.Config{
			Version: "test",
			Health: func(context.Context) error {
				if err, _ := e.health.Load().(error); err != nil {
					return err
				}
				return nil
			},
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	// The listener comes first, so that emailed links can name its URL.
	ts := httptest.NewUnstartedServer(nil)
	if cfg.Mailer != nil && cfg.Web.BaseURL == "" {
		cfg.Web.BaseURL = "http://" + ts.Listener.Addr().String()
	}
	if cfg.Passkeys != nil && cfg.Web.BaseURL == "" {
		// A relying party ID is a host name, never an IP address.
		_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
		cfg.Web.BaseURL = "http://localhost:" + port
	}
	srv, err := server.New(cfg)
	if err != nil {
		ts.Close()
		t.Fatal(err)
	}
	e.sessions, e.lm, e.tokens, e.web, e.rec = srv.Sessions, srv.Login, srv.Tokens, srv.Web, srv.Recovery
	if e.rec != nil {
		t.Cleanup(func() { e.rec.Close(context.Background()) })
	}
	ts.Config.Handler = e.web.Handler()
	ts.Start()
	e.srv = ts
	t.Cleanup(e.srv.Close)
	return e
}

// addUser creates an account with goodPassword.
func (e *env) addUser(name string, roles ...string) *account.User {
	e.t.Helper()
	u, err := e.lm.Register(context.Background(), name, name+"@example.com", goodPassword, roles...)
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

// location returns the response's redirect target.
func (r resp) location() string { return r.h.Get("Location") }

// send sends a request with body and headers (name, value pairs).
func (c *client) send(method, path string, body io.Reader, hdr ...string) resp {
	c.e.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
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

func (c *client) get(path string, hdr ...string) resp { return c.send("GET", path, nil, hdr...) }

// form posts form as-is (no CSRF token added).
func (c *client) form(path string, form url.Values, hdr ...string) resp {
	c.e.t.Helper()
	hdr = append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)
	return c.send("POST", path, strings.NewReader(form.Encode()), hdr...)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// csrfToken returns a CSRF token from the login page, which every
// visitor can load.
func (c *client) csrfToken() string {
	c.e.t.Helper()
	m := tokenRE.FindStringSubmatch(c.get("/login").body)
	if m == nil {
		c.e.t.Fatal("no CSRF token on /login")
	}
	return m[1]
}

// post posts form with a valid CSRF token.
func (c *client) post(path string, form url.Values) resp {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", c.csrfToken())
	return c.form(path, form)
}

// json sends a JSON body.
func (c *client) json(method, path, body string, hdr ...string) resp {
	c.e.t.Helper()
	hdr = append([]string{"Content-Type", "application/json"}, hdr...)
	return c.send(method, path, strings.NewReader(body), hdr...)
}

func (c *client) login(user, pw string) resp {
	c.e.t.Helper()
	return c.post("/login", url.Values{"username": {user}, "password": {pw}})
}

// loggedIn returns a browser logged in as user.
func (e *env) loggedIn(user string) *client {
	e.t.Helper()
	b := e.browser()
	if r := b.login(user, goodPassword); r.code != http.StatusSeeOther {
		e.t.Fatalf("login %s: %d %s", user, r.code, r.body)
	}
	return b
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

// mustContain fails the test unless body contains every want.
func mustContain(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, body)
		}
	}
}

// mustNotContain fails the test if body contains any of bad.
func mustNotContain(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("%s contains %q:\n%s", what, b, body)
		}
	}
}
