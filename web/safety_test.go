package web_test

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/server"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func TestSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, baseURL string
		hsts          bool
	}{
		{"http", "http://localhost:8080", false},
		{"none", "", false},
		{"https", "https://auth.example.com", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *server.Config) { c.Web.BaseURL = tc.baseURL })
			e.addUser("ada")
			b := e.loggedIn("ada")
			for _, path := range []string{"/", "/login", "/dashboard", "/account", "/nope", "/healthz", "/api/me", "/static/style.css"} {
				r := b.get(path)
				h := r.h
				if h.Get("Content-Security-Policy") != csp {
					t.Errorf("%s: CSP %q", path, h.Get("Content-Security-Policy"))
				}
				for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"} {
					if got := h.Get(k); got != want {
						t.Errorf("%s: %s = %q, want %q", path, k, got, want)
					}
				}
				wantHSTS := ""
				if tc.hsts {
					wantHSTS = "max-age=63072000; includeSubDomains"
				}
				if got := h.Get("Strict-Transport-Security"); got != wantHSTS {
					t.Errorf("%s: Strict-Transport-Security %q, want %q", path, got, wantHSTS)
				}
				cc := h.Get("Cache-Control")
				if path == "/static/style.css" {
					if strings.Contains(cc, "no-store") {
						t.Errorf("stylesheet is no-store")
					}
				} else if cc != "no-store" {
					t.Errorf("%s: Cache-Control %q, want no-store", path, cc)
				}
			}
		})
	}
}

// A login that issues a session cookie stays no-store, although the
// session layer marks cookie responses no-cache="Set-Cookie".
func TestPrivatePagesStayNoStoreWhenCookiesChange(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.browser()
	b.post("/login", url.Values{"username": {"ada"}, "password": {goodPassword}, "remember": {"on"}})
	restored := b.withOnly(rememberCookie)
	r := restored.get("/account")
	if r.code != http.StatusOK || r.h.Get("Set-Cookie") == "" {
		t.Fatalf("account via remember-me: %d, Set-Cookie %q", r.code, r.h.Get("Set-Cookie"))
	}
	if cc := r.h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("account page issuing a cookie: Cache-Control %q, want no-store", cc)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	big := strings.Repeat("a", 2<<20)
	b := e.browser()
	token := b.csrfToken()
	tests := []struct {
		name   string
		path   string
		ctype  string
		body   func() io.Reader
		chunk  bool
		wantJS bool
	}{
		{"form with Content-Length", "/register", "application/x-www-form-urlencoded", func() io.Reader {
			return strings.NewReader("csrf_token=" + token + "&username=" + big)
		}, false, false},
		{"chunked form", "/register", "application/x-www-form-urlencoded", func() io.Reader {
			return strings.NewReader("csrf_token=" + token + "&username=" + big)
		}, true, false},
		{"JSON with Content-Length", "/api/session", "application/json", func() io.Reader {
			return strings.NewReader(`{"username":"` + big + `"}`)
		}, false, true},
		{"chunked JSON", "/api/session", "application/json", func() io.Reader {
			return strings.NewReader(`{"username":"` + big + `"}`)
		}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body()
			if tt.chunk {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest("POST", e.srv.URL+tt.path, body)
			req.Header.Set("Content-Type", tt.ctype)
			res, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			out, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d %s, want 413", res.StatusCode, out)
			}
			if got := strings.Contains(string(out), `"error":"too_large"`); got != tt.wantJS {
				t.Errorf("JSON body = %v, want %v: %s", got, tt.wantJS, out)
			}
		})
	}
}

// Many requests, good and bad: none is a 500, and no response shows a Go
// error, a stack or SQL.
func TestNoLeaks(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "admin")
	anon := e.browser()
	user := e.loggedIn("ada")
	tok := user.csrfToken()
	type req struct {
		c            *client
		method, path string
		ctype, body  string
		hdr          []string
	}
	form := func(c *client, path string, kv ...string) req {
		v := url.Values{"csrf_token": {tok}}
		if c == anon {
			v.Set("csrf_token", anon.csrfToken())
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return req{c, "POST", path, "application/x-www-form-urlencoded", v.Encode(), nil}
	}
	get := func(c *client, path string, hdr ...string) req { return req{c, "GET", path, "", "", hdr} }
	js := func(c *client, method, path, body string) req {
		return req{c, method, path, "application/json", body, []string{"X-CSRF-Token", tok}}
	}
	reqs := []req{
		get(anon, "/"), get(anon, "/login?next=%00%ff"), get(anon, "/register"), get(anon, "/dashboard"),
		get(anon, "/admin?after=%ff"), get(anon, "/%ff"), get(anon, "/../../etc/passwd"), get(anon, "/static/../web.go"),
		get(anon, "/api/me", "Authorization", "Bearer hp_"+strings.Repeat("A", 43)), get(anon, "/api/me", "Authorization", "Basic Zm9vOmJhcg=="),
		get(anon, "/api/me", "Authorization", "Bearer "+strings.Repeat("x", 5000)),
		get(anon, "/", "Cookie", sessCookie+"=%ff%00; "+rememberCookie+"=a:b"),
		get(anon, "/", "Cookie", rememberCookie+"="+strings.Repeat("A", 43)+":"+strings.Repeat("B", 43)),
		form(anon, "/login", "username", "ada", "password", strings.Repeat("x", 100_000)),
		form(anon, "/login", "username", "%s %v %d", "password", "x"),
		form(anon, "/register", "username", "{{.}}<script>", "email", "<b>@x", "password", "x"),
		form(anon, "/register", "username", "ada", "email", "a@b.c", "password", strings.Repeat("é", 5000)),
		{anon, "POST", "/login", "application/x-www-form-urlencoded", "csrf_token=%zz&username=%", nil},
		{anon, "POST", "/login", "multipart/form-data; boundary=x", "--x\r\nbroken", nil},
		{anon, "POST", "/login", "", "", nil},
		js(anon, "POST", "/api/session", `{"username":{"$ne":1},"password":[]}`),
		js(anon, "POST", "/api/session", strings.Repeat("[", 10000)),
		js(anon, "POST", "/api/session", `{"username":"ada","password":"x"`+strings.Repeat(" ", 1000)+`,}`),
		get(user, "/account"), get(user, "/admin"), get(user, "/admin?after="+strings.Repeat("9", 500)),
		form(user, "/account/password", "current_password", strings.Repeat("x", 100_000), "new_password", "y"),
		form(user, "/account/password", "current_password", goodPassword, "new_password", strings.Repeat("\xff", 300)),
		form(user, "/account/tokens", "name", "%d%s", "expires_in", "99999999999999999999"),
		form(user, "/account/sessions/%2e%2e/revoke"), form(user, "/account/tokens/%ff/revoke"),
		form(user, "/admin/users/%ff/disable"), form(user, "/admin/users/"+strings.Repeat("1", 1000)+"/enable"),
		js(user, "POST", "/api/tokens", `{"name":"\ud800","expires_in":1e400}`),
		js(user, "DELETE", "/api/sessions/"+strings.Repeat("a", 1000), ""),
		js(user, "DELETE", "/api/tokens/'; DROP TABLE users; --", ""),
		{user, "PATCH", "/account", "", "", nil}, {user, "OPTIONS", "/api/me", "", "", nil},
		{user, "TRACE", "/", "", "", nil}, {user, "HEAD", "/dashboard", "", "", nil},
		js(user, "DELETE", "/api/session", ""),
	}
	bad := []string{"goroutine", "runtime.", "sql:", "%!", "panic", ".go:", "connection refused"}
	for _, rq := range reqs {
		var body io.Reader
		if rq.body != "" {
			body = strings.NewReader(rq.body)
		}
		hdr := rq.hdr
		if rq.ctype != "" {
			hdr = append([]string{"Content-Type", rq.ctype}, hdr...)
		}
		r := rq.c.send(rq.method, rq.path, body, hdr...)
		what := rq.method + " " + rq.path
		if len(what) > 60 {
			what = what[:60]
		}
		if r.code >= 500 {
			t.Errorf("%s: %d %s", what, r.code, r.body)
		}
		mustNotContain(t, what, r.body, bad...)
		if strings.Contains(r.body, "<script>") {
			t.Errorf("%s: unescaped input in the page", what)
		}
	}
	if strings.Contains(e.logs.String(), strings.Repeat("x", 1000)) || strings.Contains(e.logs.String(), goodPassword) {
		t.Error("a password reached the log")
	}
}

// normalize replaces what differs between two renderings of one page: the
// masked CSRF token, random per response.
func normalize(body string) string {
	return tokenRE.ReplaceAllString(body, `name="csrf_token" value="CSRF"`)
}

var cssRE = regexp.MustCompile(`style\.css\?v=[0-9a-f]+`)

func TestGolden(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	tests := []struct {
		name string
		do   func(b *client) resp
	}{
		{"home_anonymous", func(b *client) resp { return b.get("/") }},
		{"login_error", func(b *client) resp {
			return b.post("/login", url.Values{"username": {"ada"}, "password": {"wrong wrong"}, "next": {"/account"}, "remember": {"on"}})
		}},
		{"register_errors", func(b *client) resp {
			return b.post("/register", url.Values{"username": {"a"}, "email": {"ada@"}, "password": {"short"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do(e.browser())
			got := []byte(cssRE.ReplaceAllString(normalize(r.body), "style.css?v=VERSION"))
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("page differs from %s (run go test -update if the change is intended):\n%s", path, diff(string(want), string(got)))
			}
		})
	}
}

// diff returns the first differing lines of want and got.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return ""
}
