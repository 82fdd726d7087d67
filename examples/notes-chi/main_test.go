package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/password"
)

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// TestSmoke runs the chi app over HTTP: the routes, the login redirect
// with next, CSRF refusals, the admin role.
func TestSmoke(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()
	a, closeDB, err := newApp(context.Background(), t.TempDir(), srv.URL, "ada", func(c *hallpass.Config) {
		c.Passwords = &password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	srv.Config.Handler = a.routes()

	browser := func() (get func(string) (*http.Response, string), post func(path string, form url.Values, page string) (*http.Response, string)) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		do := func(req *http.Request) (*http.Response, string) {
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(b)
		}
		get = func(path string) (*http.Response, string) {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			return do(req)
		}
		post = func(path string, form url.Values, page string) (*http.Response, string) {
			if page != "" {
				_, body := get(page)
				m := tokenRE.FindStringSubmatch(body)
				if m == nil {
					t.Fatalf("GET %s has no token: %s", page, body)
				}
				form.Set("csrf_token", m[1])
			}
			req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return do(req)
		}
		return get, post
	}
	check := func(what string, resp *http.Response, body string, status int, location, text string) {
		t.Helper()
		if resp.StatusCode != status || resp.Header.Get("Location") != location || !strings.Contains(body, text) {
			t.Errorf("%s = %d %q, want %d %q with %q:\n%s", what, resp.StatusCode, resp.Header.Get("Location"), status, location, text, body)
		}
	}
	register := func(name string) url.Values {
		return url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {"correct horse battery"}}
	}

	get, post := browser()
	r, b := get("/notes")
	check("anonymous GET /notes", r, b, http.StatusSeeOther, "/login?next=%2Fnotes", "")
	r, b = post("/register", register("ada"), "")
	check("register without token", r, b, http.StatusForbidden, "", "")
	r, b = post("/register", register("ada"), "/register")
	check("register", r, b, http.StatusSeeOther, "/notes", "")
	r, b = post("/notes", url.Values{"text": {"buy milk"}}, "/notes")
	check("add a note", r, b, http.StatusSeeOther, "/notes", "")
	r, b = get("/notes")
	check("GET /notes", r, b, http.StatusOK, "", "<li>buy milk</li>")
	r, b = get("/admin")
	check("GET /admin as admin", r, b, http.StatusOK, "", "1 notes in all.")
	r, b = post("/logout", url.Values{}, "/notes")
	check("logout", r, b, http.StatusSeeOther, "/login", "")
	r, b = post("/login", url.Values{"username": {"ada"}, "password": {"wrong password"}}, "/login")
	check("wrong password", r, b, http.StatusUnauthorized, "", "Invalid username or password.")

	get, post = browser()
	post("/register", register("bob"), "/register")
	r, b = get("/admin")
	check("GET /admin as bob", r, b, http.StatusForbidden, "", "")
	r, b = get("/notes")
	check("bob's notes", r, b, http.StatusOK, "", "No notes yet.")
}
