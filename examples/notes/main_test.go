package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/password"
)

// cheap argon2id parameters keep the tests fast; the app uses the
// defaults.
var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1}

// start serves the app from a fresh data directory, on https when tls is
// set, and returns its URL.
func start(t *testing.T, tls bool) *httptest.Server {
	t.Helper()
	return startWith(t, tls, options{})
}

// startWith is start with o's TOTP setting and Mailer.
func startWith(t *testing.T, tls bool, o options) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	a, err := open(context.Background(), options{
		Dir: t.TempDir(), BaseURL: srv.URL, Admin: "ada", TOTP: o.TOTP, Mailer: o.Mailer,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Configure: func(c *hallpass.Config) { c.Passwords = &password.Hasher{Params: cheap} },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv.Config.Handler = a.Handler()
	return srv
}

// browser is a client with a cookie jar that does not follow redirects,
// so the tests see each 303.
type browser struct {
	t    *testing.T
	srv  *httptest.Server
	c    *http.Client
	last string // the body of the last page
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	c := *srv.Client() // a copy: each browser has its own jar
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, srv: srv, c: &c}
}

func (b *browser) do(req *http.Request) *http.Response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.last = string(body)
	// Every form that posts carries the CSRF token.
	if forms, tokens := strings.Count(b.last, `<form method="post"`), strings.Count(b.last, `<input type="hidden" name="csrf_token"`); forms != tokens {
		b.t.Errorf("%s %s: %d forms that post, %d csrf_token fields:\n%s", req.Method, req.URL.Path, forms, tokens, b.last)
	}
	return resp
}

func (b *browser) get(path string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	return b.do(req)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token loads page and returns the CSRF token of its first form.
func (b *browser) token(page string) string {
	b.t.Helper()
	b.get(page)
	m := tokenRE.FindStringSubmatch(b.last)
	if m == nil {
		b.t.Fatalf("GET %s has no csrf_token field:\n%s", page, b.last)
	}
	return m[1]
}

// post posts form to path as a browser on the page would, with the
// token of the form on page ("" for none) and the extra headers.
func (b *browser) post(path string, form url.Values, page string, header ...string) *http.Response {
	b.t.Helper()
	if page != "" {
		form.Set("csrf_token", b.token(page))
	}
	req, _ := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

func (b *browser) register(name string) {
	b.t.Helper()
	resp := b.post("/register", url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {"correct horse battery"}}, "/register")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/notes" {
		b.t.Fatalf("register %s = %d %s, want 303 to /notes\n%s", name, resp.StatusCode, resp.Header.Get("Location"), b.last)
	}
}

// want checks a response's status, Location (for redirects) and that the
// page contains each of texts.
func (b *browser) want(what string, resp *http.Response, status int, location string, texts ...string) {
	b.t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Location") != location {
		b.t.Errorf("%s = %d Location %q, want %d %q\n%s", what, resp.StatusCode, resp.Header.Get("Location"), status, location, b.last)
	}
	for _, s := range texts {
		if !strings.Contains(b.last, s) {
			b.t.Errorf("%s: page lacks %q:\n%s", what, s, b.last)
		}
	}
}

func TestAnonymousRoutes(t *testing.T) {
	srv := start(t, false)
	b := newBrowser(t, srv)
	tests := []struct {
		path     string
		status   int
		location string
		text     string
	}{
		{"/", http.StatusSeeOther, "/notes", ""},
		{"/notes", http.StatusSeeOther, "/login?next=%2Fnotes", ""},
		{"/admin", http.StatusSeeOther, "/login?next=%2Fadmin", ""},
		{"/login", http.StatusOK, "", `name="csrf_token"`},
		{"/login?next=%2Fnotes", http.StatusOK, "", `name="next" value="/notes"`},
		{"/register", http.StatusOK, "", `name="csrf_token"`},
		{"/nowhere", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		b.want("GET "+tt.path, b.get(tt.path), tt.status, tt.location, tt.text)
	}
}

func TestRegisterNotesLogout(t *testing.T) {
	srv := start(t, false)
	b := newBrowser(t, srv)
	b.register("ada")
	b.want("GET /notes after register", b.get("/notes"), http.StatusOK, "", "Welcome, ada!", "Hello, ada", "No notes yet.")

	resp := b.post("/notes", url.Values{"text": {"<b>buy milk</b>"}}, "/notes")
	b.want("POST /notes", resp, http.StatusSeeOther, "/notes")
	b.want("GET /notes after a note", b.get("/notes"), http.StatusOK, "", "Saved.", "&lt;b&gt;buy milk&lt;/b&gt;")
	b.want("POST /notes empty", b.post("/notes", url.Values{"text": {"  "}}, "/notes"), http.StatusSeeOther, "/notes")
	b.want("GET /notes after an empty note", b.get("/notes"), http.StatusOK, "", "A note is 1 to 1000 characters long.")

	b.want("GET /admin as admin", b.get("/admin"), http.StatusOK, "", "<td>1</td>")

	b.want("POST /logout", b.post("/logout", url.Values{}, "/notes"), http.StatusSeeOther, "/login")
	b.want("GET /login after logout", b.get("/login"), http.StatusOK, "", "You are logged out.")
	b.want("GET /notes after logout", b.get("/notes"), http.StatusSeeOther, "/login?next=%2Fnotes")
}

func TestNotesArePerUser(t *testing.T) {
	srv := start(t, false)
	ada, bob := newBrowser(t, srv), newBrowser(t, srv)
	ada.register("ada")
	bob.register("bob")
	ada.post("/notes", url.Values{"text": {"ada's secret"}}, "/notes")
	bob.want("GET /notes as bob", bob.get("/notes"), http.StatusOK, "", "No notes yet.")
	if strings.Contains(bob.last, "ada&#39;s secret") {
		t.Error("bob sees ada's note")
	}
	bob.want("GET /admin as bob", bob.get("/admin"), http.StatusForbidden, "")
}

func TestRegisterErrors(t *testing.T) {
	srv := start(t, false)
	b := newBrowser(t, srv)
	b.register("ada")
	other := newBrowser(t, srv)
	tests := []struct {
		name   string
		form   url.Values
		status int
		text   string
	}{
		{"bad fields", url.Values{"username": {"a"}, "email": {"nope"}, "password": {"short"}}, http.StatusUnprocessableEntity, "Please enter a valid email address"},
		{"taken", url.Values{"username": {"ADA"}, "email": {"a@example.com"}, "password": {"correct horse battery"}}, http.StatusConflict, "That username is taken."},
	}
	for _, tt := range tests {
		other.want("POST /register "+tt.name, other.post("/register", tt.form, "/register"), tt.status, "", tt.text)
	}
}

func TestLogin(t *testing.T) {
	srv := start(t, false)
	newBrowser(t, srv).register("carol")
	b := newBrowser(t, srv)
	form := func(pw, next string) url.Values {
		return url.Values{"username": {"carol"}, "password": {pw}, "next": {next}}
	}
	b.want("wrong password", b.post("/login", form("wrong password!", ""), "/login"), http.StatusUnauthorized, "", "Invalid username or password.", `value="carol"`)
	b.want("unknown user", b.post("/login", url.Values{"username": {"nobody"}, "password": {"x"}}, "/login"), http.StatusUnauthorized, "", "Invalid username or password.")
	b.want("offsite next", b.post("/login", form("correct horse battery", "//evil.example/"), "/login"), http.StatusSeeOther, "/notes")
	b.want("logout", b.post("/logout", url.Values{}, "/notes"), http.StatusSeeOther, "/login")
	b.want("login with next", b.post("/login", form("correct horse battery", "/admin"), "/login"), http.StatusSeeOther, "/admin")
	b.want("GET /admin as carol", b.get("/admin"), http.StatusForbidden, "")
}

// TestCSRF checks that every form post needs the page's token and a
// same-origin browser: a token-less or cross-site POST gets 403 and
// changes nothing.
func TestCSRF(t *testing.T) {
	srv := start(t, false)
	b := newBrowser(t, srv)
	b.register("ada")
	note := func() url.Values { return url.Values{"text": {"forged"}} }
	tests := []struct {
		name   string
		path   string
		form   url.Values
		page   string // where the token comes from; "" for none
		header []string
	}{
		{"note without token", "/notes", note(), "", nil},
		{"note with a forged token", "/notes", url.Values{"text": {"forged"}, "csrf_token": {"AAAA"}}, "", nil},
		{"note from another site (Sec-Fetch-Site)", "/notes", note(), "/notes", []string{"Sec-Fetch-Site", "cross-site"}},
		{"note from another site (Origin)", "/notes", note(), "/notes", []string{"Origin", "https://evil.example"}},
		{"logout without token", "/logout", url.Values{}, "", nil},
	}
	for _, tt := range tests {
		b.want(tt.name, b.post(tt.path, tt.form, tt.page, tt.header...), http.StatusForbidden, "")
	}
	b.want("GET /notes", b.get("/notes"), http.StatusOK, "", "Hello, ada", "No notes yet.")

	anon := newBrowser(t, srv)
	login := url.Values{"username": {"ada"}, "password": {"correct horse battery"}}
	anon.want("login without token", anon.post("/login", login, ""), http.StatusForbidden, "")
	anon.want("register without token", anon.post("/register", url.Values{"username": {"eve"}, "email": {"eve@example.com"}, "password": {"correct horse battery"}}, ""), http.StatusForbidden, "")
	anon.want("login from another site", anon.post("/login", login, "/login", "Origin", "https://evil.example"), http.StatusForbidden, "")
}

func TestRememberMe(t *testing.T) {
	srv := start(t, false)
	newBrowser(t, srv).register("dora")
	b := newBrowser(t, srv)
	resp := b.post("/login", url.Values{"username": {"dora"}, "password": {"correct horse battery"}, "remember": {"on"}}, "/login")
	b.want("login with remember", resp, http.StatusSeeOther, "/notes")
	var remember *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "hallpass_remember" {
			remember = c
		}
	}
	if remember == nil || remember.MaxAge <= 0 || !remember.HttpOnly {
		t.Fatalf("no lasting HttpOnly remember-me cookie in %v", resp.Cookies())
	}
	// A browser restarted: the session cookie is gone, the remember-me
	// cookie stays.
	again := newBrowser(t, srv)
	u, _ := url.Parse(srv.URL)
	again.c.Jar.SetCookies(u, []*http.Cookie{{Name: remember.Name, Value: remember.Value}})
	again.want("GET /notes remembered", again.get("/notes"), http.StatusOK, "", "Hello, dora")

	c := newBrowser(t, srv)
	resp = c.post("/login", url.Values{"username": {"dora"}, "password": {"correct horse battery"}}, "/login")
	for _, ck := range resp.Cookies() {
		if ck.Name == "hallpass_remember" {
			t.Errorf("remember-me cookie set without remember: %v", ck)
		}
	}
}

// TestServedOverHTTPS checks that an https BaseURL makes every cookie
// Secure and __Host- prefixed, and that the forms work there as they do
// on plain http.
func TestServedOverHTTPS(t *testing.T) {
	for _, secure := range []bool{false, true} {
		srv := start(t, secure)
		b := newBrowser(t, srv)
		b.get("/register")
		resp := b.post("/register", url.Values{"username": {"erin"}, "email": {"erin@example.com"}, "password": {"correct horse battery"}}, "/register")
		b.want("register", resp, http.StatusSeeOther, "/notes")
		cookies := resp.Cookies()
		if len(cookies) == 0 {
			t.Fatal("no cookies at registration")
		}
		for _, c := range cookies {
			if c.Secure != secure || strings.HasPrefix(c.Name, "__Host-") != secure {
				t.Errorf("https=%v: cookie %s Secure=%v, want Secure and __Host- prefix exactly on https", secure, c.Name, c.Secure)
			}
		}
		b.want("POST /notes", b.post("/notes", url.Values{"text": {"hello"}}, "/notes"), http.StatusSeeOther, "/notes")
		b.want("GET /notes", b.get("/notes"), http.StatusOK, "", "hello")
	}
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

// TestRun runs the program as go run would, on a free port, and checks
// it serves, keeps its files private and stops cleanly.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuf{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", dir}, logs) }()
	urlRE := regexp.MustCompile(`url=(http://\S+)`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := urlRE.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("the app logged no URL:\n%s", logs)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(base + "/notes")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fnotes" {
		t.Errorf("GET /notes = %d %s, want 303 to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, name := range []string{"notes.db", "secret.key"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v, want nil after the context ends", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
	if !strings.Contains(logs.String(), "development mailer") {
		t.Errorf("without -smtp the app does not say where the mail goes:\n%s", logs)
	}
	for _, args := range [][]string{{"-nope"}, {"-smtp", "ftp://mail.example.com"}, {"-smtp", "smtp://mail.example.com:587", "-mail-from", "not an address"}} {
		if err := run(context.Background(), append(args, "-addr", "127.0.0.1:0", "-data", t.TempDir()), io.Discard); err == nil {
			t.Errorf("run %q = nil, want an error", args)
		}
	}
}
