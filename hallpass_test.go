package hallpass_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
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

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// cheap argon2id parameters keep the tests fast.
var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1}

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

// newAuth builds an Auth on memory stores with a user "ada" (password
// "correct horse battery"), logging to the returned buffer; opts change
// the Config first.
func newAuth(t *testing.T, baseURL string, opts ...func(*hallpass.Config)) (*hallpass.Auth, *syncBuf) {
	t.Helper()
	logs := &syncBuf{}
	sessions := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { sessions.Close() })
	cfg := hallpass.Config{
		Keys:      [][]byte{testKey},
		Sessions:  sessions,
		Users:     memstore.NewAccountStore(),
		BaseURL:   baseURL,
		Passwords: &password.Hasher{Params: cheap},
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	auth, err := hallpass.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ada", "bob"} {
		if _, err := auth.LoginManager().Register(context.Background(), name, name+"@example.com", "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	return auth, logs
}

var pageTemplates = template.Must(template.New("").Funcs(hallpass.FuncMap()).Parse(`
{{define "form"}}<form method="post">{{csrfField}}</form> token={{csrfToken}} user={{with currentUser}}{{.Username}}{{end}}
{{range flashes}}[{{.Category}}: {{.Message}}]{{end}}{{end}}`))

// app is a small app on auth: a form page, a login, a protected page
// and a post.
func app(t *testing.T, auth *hallpass.Auth) http.Handler {
	pages := auth.MustTemplates(pageTemplates)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		pages.Render(w, r, http.StatusOK, "form", nil)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u, err := auth.Authenticate(r, r.PostFormValue("username"), r.PostFormValue("password"))
		if err == nil {
			err = auth.Login(w, r, u, r.PostFormValue("remember") == "on")
		}
		if err != nil {
			auth.Error(w, r, err)
			return
		}
		auth.Flash(w, r, "success", "Hello "+u.Username, "/form")
	})
	mux.Handle("POST /post", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "posted by %s", auth.CurrentUser(r).Username)
	})))
	mux.Handle("GET /admin", auth.RequireRole("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "admin")
	})))
	return auth.Handler(mux)
}

type client struct {
	t    *testing.T
	base string
	c    *http.Client
	body string
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	c := *srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, base: srv.URL, c: &c}
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *client) do(method, path string, form url.Values, header ...string) *http.Response {
	c.t.Helper()
	if form == nil {
		return c.send(method, path, nil, header...)
	}
	return c.send(method, path, strings.NewReader(form.Encode()), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
}

// send sends body with the header pairs and keeps the answer in c.body.
func (c *client) send(method, path string, body io.Reader, header ...string) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.body = string(b)
	return resp
}

// token loads the form page and returns its CSRF token.
func (c *client) token() string {
	c.t.Helper()
	c.do("GET", "/form", nil)
	m := tokenRE.FindStringSubmatch(c.body)
	if m == nil {
		c.t.Fatalf("the form has no csrf_token field: %s", c.body)
	}
	return m[1]
}

func (c *client) login(name string) *http.Response {
	c.t.Helper()
	resp := c.do("POST", "/login", url.Values{"username": {name}, "password": {"correct horse battery"}, "csrf_token": {c.token()}, "remember": {"on"}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s = %d %s", name, resp.StatusCode, c.body)
	}
	return resp
}

func TestNewRefusesBadConfig(t *testing.T) {
	store := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	users := memstore.NewAccountStore()
	good := hallpass.Config{Keys: [][]byte{testKey}, Sessions: store, Users: users, BaseURL: "http://localhost:8080"}
	tests := []struct {
		name   string
		change func(*hallpass.Config)
		want   string
	}{
		{"no keys", func(c *hallpass.Config) { c.Keys = nil }, "Keys, Sessions and Users are required"},
		{"no sessions", func(c *hallpass.Config) { c.Sessions = nil }, "Keys, Sessions and Users are required"},
		{"no users", func(c *hallpass.Config) { c.Users = nil }, "Keys, Sessions and Users are required"},
		{"no base URL", func(c *hallpass.Config) { c.BaseURL = "" }, "BaseURL is required"},
		{"base URL without scheme", func(c *hallpass.Config) { c.BaseURL = "localhost:8080" }, "not an http or https URL"},
		{"ftp base URL", func(c *hallpass.Config) { c.BaseURL = "ftp://example.com" }, "not an http or https URL"},
		{"short key", func(c *hallpass.Config) { c.Keys = [][]byte{[]byte("short")} }, "32"},
		{"bad trusted origin", func(c *hallpass.Config) { c.TrustedOrigins = []string{"example.com"} }, "TrustedOrigins"},
	}
	for _, tt := range tests {
		cfg := good
		tt.change(&cfg)
		if _, err := hallpass.New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := hallpass.New(good); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}

// TestCSRFIsOnByDefault is the first trap: a Config that says nothing
// about CSRF still refuses cross-site and token-less posts.
func TestCSRFIsOnByDefault(t *testing.T) {
	auth, _ := newAuth(t, "http://localhost")
	srv := httptest.NewServer(app(t, auth))
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	c.login("ada")
	tests := []struct {
		name   string
		form   url.Values
		header []string
		want   int
	}{
		{"no token", url.Values{}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf_token": {"AAAA"}}, nil, http.StatusForbidden},
		{"cross-site with token", url.Values{"csrf_token": {c.token()}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"other origin with token", url.Values{"csrf_token": {c.token()}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"same site with token", url.Values{"csrf_token": {c.token()}}, []string{"Sec-Fetch-Site", "same-origin"}, http.StatusOK},
		{"token in the header", url.Values{}, []string{"X-CSRF-Token", c.token()}, http.StatusOK},
	}
	for _, tt := range tests {
		if resp := c.do("POST", "/post", tt.form, tt.header...); resp.StatusCode != tt.want {
			t.Errorf("%s: POST /post = %d %q, want %d", tt.name, resp.StatusCode, c.body, tt.want)
		}
	}
	anon := newClient(t, srv)
	if resp := anon.do("POST", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("token-less login = %d, want 403", resp.StatusCode)
	}
}

func TestDangerouslyDisableCSRF(t *testing.T) {
	auth, logs := newAuth(t, "http://localhost", func(c *hallpass.Config) { c.DangerouslyDisableCSRF = true })
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "CSRF protection is OFF") {
		t.Errorf("no warning in the log:\n%s", logs)
	}
	if auth.CSRF() != nil {
		t.Error("CSRF() is not nil with CSRF disabled")
	}
	srv := httptest.NewServer(app(t, auth))
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	c.do("GET", "/form", nil)
	if strings.Contains(c.body, "csrf_token") {
		t.Errorf("the form has a token field with CSRF disabled: %s", c.body)
	}
	if resp := c.do("POST", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("token-less login with CSRF disabled = %d, want 303", resp.StatusCode)
	}
}

// TestWithoutHandler is the second trap: the app forgot auth.Handler (or
// mounted a route outside it). Every use answers 500 or returns
// ErrNoMiddleware, and the log says the fix once, at ERROR.
func TestWithoutHandler(t *testing.T) {
	auth, logs := newAuth(t, "http://localhost")
	pages := auth.MustTemplates(pageTemplates)
	mux := http.NewServeMux()
	mux.Handle("GET /private", auth.RequireLogin(http.NotFoundHandler()))
	mux.Handle("GET /admin", auth.RequireRole("admin")(http.NotFoundHandler()))
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		pages.Render(w, r, http.StatusOK, "form", nil)
	})
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		auth.Flash(w, r, "info", "hi", "/")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_, err := auth.Authenticate(r, "ada", "correct horse battery")
		if !errors.Is(err, hallpass.ErrNoMiddleware) {
			t.Errorf("Authenticate = %v, want ErrNoMiddleware", err)
		}
		if err := auth.Logout(w, r); !errors.Is(err, hallpass.ErrNoMiddleware) {
			t.Errorf("Logout = %v, want ErrNoMiddleware", err)
		}
		if u := auth.CurrentUser(r); u != nil {
			t.Errorf("CurrentUser = %v, want nil", u)
		}
		auth.Error(w, r, err)
	})
	for _, tt := range []struct{ method, path string }{{"GET", "/private"}, {"GET", "/admin"}, {"GET", "/form"}, {"POST", "/flash"}, {"POST", "/login"}} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "wrap the mux with auth.Handler") {
			t.Errorf("%s %s without Handler = %d %q, want 500 naming auth.Handler", tt.method, tt.path, w.Code, w.Body)
		}
	}
	log := logs.String()
	if n := strings.Count(log, "did not pass through auth.Handler"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, log)
	}
	if !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "wrap your mux with auth.Handler") {
		t.Errorf("the log line is not an ERROR naming the fix:\n%s", log)
	}
	// Wrapped, the same mux works.
	w := httptest.NewRecorder()
	auth.Handler(mux).ServeHTTP(w, httptest.NewRequest("GET", "/private", nil))
	if w.Code != http.StatusSeeOther {
		t.Errorf("GET /private behind Handler = %d, want 303", w.Code)
	}
}

// TestHandlerTwice checks that wrapping with Handler twice is harmless:
// one session, one CSRF check.
func TestHandlerTwice(t *testing.T) {
	auth, _ := newAuth(t, "http://localhost")
	srv := httptest.NewServer(auth.Handler(app(t, auth)))
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	c.login("ada")
	if resp := c.do("POST", "/post", url.Values{"csrf_token": {c.token()}}); resp.StatusCode != http.StatusOK || c.body != "posted by ada" {
		t.Errorf("POST /post = %d %q, want 200 posted by ada", resp.StatusCode, c.body)
	}
}

// TestSecureFromBaseURL is the third trap: one BaseURL decides Secure
// and __Host- for every cookie; http on localhost needs nothing more.
func TestSecureFromBaseURL(t *testing.T) {
	for _, tls := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(nil)
		if tls {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		auth, _ := newAuth(t, srv.URL)
		srv.Config.Handler = app(t, auth)
		if auth.Secure() != tls {
			t.Errorf("Secure() = %v for %s", auth.Secure(), srv.URL)
		}
		c := newClient(t, srv)
		var cookies []*http.Cookie
		cookies = append(cookies, c.do("GET", "/form", nil).Cookies()...)
		cookies = append(cookies, c.login("ada").Cookies()...)
		names := map[string]bool{}
		for _, ck := range cookies {
			if ck.MaxAge < 0 {
				continue // a deletion
			}
			names[ck.Name] = true
			if ck.Secure != tls || strings.HasPrefix(ck.Name, "__Host-") != tls || !ck.HttpOnly {
				t.Errorf("%s: cookie %s Secure=%v HttpOnly=%v, want Secure and __Host- exactly on https", srv.URL, ck.Name, ck.Secure, ck.HttpOnly)
			}
		}
		if len(names) < 4 { // csrf, session, device, remember
			t.Errorf("%s: cookies %v, want the CSRF, session, device and remember-me cookies", srv.URL, names)
		}
		if resp := c.do("POST", "/post", url.Values{"csrf_token": {c.token()}}); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: POST /post = %d %q, want 200", srv.URL, resp.StatusCode, c.body)
		}
		srv.Close()
	}
}

func TestPlainHTTPOnAPublicHostWarns(t *testing.T) {
	_, logs := newAuth(t, "http://notes.example.com")
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "without the Secure attribute") {
		t.Errorf("no warning for plain http on a public host:\n%s", logs)
	}
	for _, local := range []string{"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "https://notes.example.com"} {
		if _, logs := newAuth(t, local); strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("%s: unexpected warning:\n%s", local, logs)
		}
	}
}

func TestRequireRoleAndFlashes(t *testing.T) {
	auth, _ := newAuth(t, "http://localhost")
	srv := httptest.NewServer(app(t, auth))
	t.Cleanup(srv.Close)
	c := newClient(t, srv)
	if resp := c.do("GET", "/admin", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fadmin" {
		t.Errorf("anonymous GET /admin = %d %s, want 303 to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp := c.login("ada")
	if resp.Header.Get("Location") != "/form" {
		t.Errorf("Flash redirected to %q, want /form", resp.Header.Get("Location"))
	}
	c.do("GET", "/form", nil)
	if !strings.Contains(c.body, "[success: Hello ada]") || !strings.Contains(c.body, "user=ada") {
		t.Errorf("page after login lacks the flash or the user: %s", c.body)
	}
	c.do("GET", "/form", nil)
	if strings.Contains(c.body, "[success") {
		t.Errorf("the flash was shown twice: %s", c.body)
	}
	if resp := c.do("GET", "/admin", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /admin as a non-admin = %d, want 403", resp.StatusCode)
	}
}

// TestRenderConcurrently renders pages for two users at once: each page
// must show its own user and a token valid for its own session.
func TestRenderConcurrently(t *testing.T) {
	auth, _ := newAuth(t, "http://localhost")
	srv := httptest.NewServer(app(t, auth))
	t.Cleanup(srv.Close)
	var wg sync.WaitGroup
	for _, name := range []string{"ada", "bob"} {
		c := newClient(t, srv)
		c.login(name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				tok := c.token()
				if !strings.Contains(c.body, "user="+name) {
					t.Errorf("%s's page shows another user: %s", name, c.body)
					return
				}
				if resp := c.do("POST", "/post", url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusOK || c.body != "posted by "+name {
					t.Errorf("%s: POST with the page's token = %d %q", name, resp.StatusCode, c.body)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestTemplatesMisuse(t *testing.T) {
	auth, _ := newAuth(t, "http://localhost")
	tmpl := template.Must(template.New("").Funcs(hallpass.FuncMap()).Parse(`{{define "p"}}{{csrfField}}{{end}}`))
	err := tmpl.ExecuteTemplate(io.Discard, "p", nil)
	if err == nil || !strings.Contains(err.Error(), "Templates.Render") {
		t.Errorf("executing by hand = %v, want an error naming Templates.Render", err)
	}
	if _, err := auth.Templates(tmpl); err == nil || !strings.Contains(err.Error(), "before executing") {
		t.Errorf("Templates of an executed template = %v, want an error", err)
	}
	bad := template.Must(template.New("").Funcs(hallpass.FuncMap()).Parse(`{{define "p"}}{{.Missing.Field}}{{end}}`))
	pages := auth.MustTemplates(bad)
	w := httptest.NewRecorder()
	auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := pages.Render(w, r, http.StatusOK, "p", struct{ Missing *struct{ Field int } }{}); err == nil {
			t.Error("Render of a failing template returned nil")
		}
	})).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "Missing") {
		t.Errorf("failing template = %d %q, want a 500 that does not show the error", w.Code, w.Body)
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	k1, err := hallpass.KeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := hallpass.KeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) || len(k1) < 32 {
		t.Errorf("KeyFile twice = %q, %q, %v; want the same key of 32+ bytes", k1, k2, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	os.WriteFile(path, []byte("short\n"), 0o600)
	if _, err := hallpass.KeyFile(path); err == nil || !strings.Contains(err.Error(), "shorter than 32") {
		t.Errorf("KeyFile of a short key = %v, want an error", err)
	}
}

// Auth.APITokens issues a user's bearer tokens, which Handler then
// accepts; without Config.APITokens it is nil.
func TestAPITokensAccessor(t *testing.T) {
	if auth, _ := newAuth(t, "http://localhost"); auth.APITokens() != nil {
		t.Error("APITokens without Config.APITokens is not nil")
	}
	tokens := memstore.NewAccountStore()
	auth, _ := newAuth(t, "http://localhost", func(c *hallpass.Config) { c.APITokens = tokens })
	ada, err := auth.LoginManager().Config().Users.UserByUsername(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := auth.APITokens().Create(t.Context(), ada.ID, "ci", []string{"read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(auth.Handler(auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, auth.CurrentUser(r).Username)
	}))))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ada" {
		t.Errorf("a request with the token: %d %q, want 200 ada", resp.StatusCode, body)
	}
}
