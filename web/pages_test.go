package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/memstore"
)

func TestHome(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	anon := e.browser().get("/")
	if anon.code != http.StatusOK {
		t.Fatalf("GET / anonymous: %d", anon.code)
	}
	mustContain(t, "anonymous home", anon.body, "Hello, Unknown", `href="/login"`, `href="/register"`, "<footer")
	mustNotContain(t, "anonymous home", anon.body, "Log out", "csrf_token")
	if c := anon.h.Get("Set-Cookie"); c != "" {
		t.Errorf("anonymous home page set a cookie: %q", c)
	}

	b := e.loggedIn("ada")
	r := b.get("/")
	mustContain(t, "home for ada", r.body, "Hello, ada", `action="/logout"`, `name="csrf_token"`, "Log out")
	mustNotContain(t, "home for ada", r.body, "Hello, Unknown", `href="/register"`)
}

func TestRegister(t *testing.T) {
	long := strings.Repeat("a", 10_000)
	tests := []struct {
		name       string
		form       url.Values
		want       int
		wantBody   []string
		unwantBody []string
	}{
		{"taken username", url.Values{"username": {"ADA"}, "email": {"x@example.com"}, "password": {goodPassword}},
			http.StatusConflict, []string{"That username is taken.", `value="ADA"`, `value="x@example.com"`}, []string{goodPassword}},
		{"every field bad", url.Values{"username": {"x!"}, "email": {"not-an-email"}, "password": {"short"}},
			http.StatusUnprocessableEntity,
			[]string{"A username is 3 to 64 characters long.", "Please enter a valid email address", "Password must be at least 8 characters.", `value="x!"`, `value="not-an-email"`},
			[]string{`value="short"`}},
		{"missing fields", url.Values{}, http.StatusUnprocessableEntity,
			[]string{"Please choose a username.", "Please enter your email address.", "Password must be at least"}, nil},
		{"10 KB username", url.Values{"username": {long}, "email": {"x@example.com"}, "password": {goodPassword}},
			http.StatusUnprocessableEntity, []string{"A username is 3 to 64 characters long."}, []string{long}},
		{"10 KB password", url.Values{"username": {"bob"}, "email": {"bob@example.com"}, "password": {long}},
			http.StatusUnprocessableEntity, []string{"Password must be at most"}, nil},
		{"invalid UTF-8", url.Values{"username": {"b\xffob"}, "email": {"b\xff@example.com"}, "password": {"pass\xffword long"}},
			http.StatusUnprocessableEntity, []string{"A username may contain only", "Please enter a valid email address", "could not be read"}, nil},
		{"common password", url.Values{"username": {"bob"}, "email": {"bob@example.com"}, "password": {"password"}},
			http.StatusUnprocessableEntity, []string{"too common"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.addUser("ada")
			r := e.browser().post("/register", tt.form)
			if r.code != tt.want {
				t.Fatalf("POST /register: %d, want %d\n%s", r.code, tt.want, r.body)
			}
			mustContain(t, "register page", r.body, append(tt.wantBody, `<form method="post" action="/register"`)...)
			mustNotContain(t, "register page", r.body, tt.unwantBody...)
		})
	}
}

func TestRegisterSuccess(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	r := b.post("/register", url.Values{"username": {"grace"}, "email": {"grace@example.com"}, "password": {goodPassword}, "role": {"admin"}})
	if r.code != http.StatusSeeOther || r.location() != "/login" {
		t.Fatalf("register: %d Location %q, want 303 /login", r.code, r.location())
	}
	page := b.get("/login")
	mustContain(t, "login page after registering", page.body, "Account created. Please log in.")
	if again := b.get("/login"); strings.Contains(again.body, "Account created") {
		t.Error("the flash was shown twice")
	}
	u, err := e.accounts.UserByUsername(context.Background(), "grace")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Roles) != 0 {
		t.Errorf("roles after registering with role=admin: %v, want none", u.Roles)
	}
	if r := b.login("grace", goodPassword); r.code != http.StatusSeeOther {
		t.Errorf("login after registering: %d", r.code)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	dis := e.addUser("bob")
	e.lm.SetDisabled(context.Background(), "", dis.ID, true)

	t.Run("success", func(t *testing.T) {
		b := e.browser()
		r := b.login("ada", goodPassword)
		if r.code != http.StatusSeeOther || r.location() != "/dashboard" {
			t.Fatalf("login: %d %q, want 303 /dashboard", r.code, r.location())
		}
		if b.cookie(rememberCookie) != "" {
			t.Error("remember cookie without remember")
		}
		if r := b.get("/dashboard"); !strings.Contains(r.body, "Welcome ada! This is your dashboard.") {
			t.Errorf("dashboard: %d %s", r.code, r.body)
		}
	})
	t.Run("remember", func(t *testing.T) {
		b := e.browser()
		b.post("/login", url.Values{"username": {"ada"}, "password": {goodPassword}, "remember": {"on"}})
		if b.cookie(rememberCookie) == "" {
			t.Fatal("no remember cookie")
		}
		if r := b.withOnly(rememberCookie).get("/dashboard"); r.code != http.StatusOK {
			t.Errorf("dashboard with only the remember cookie: %d", r.code)
		}
	})

	var bodies []string
	for _, tc := range []struct{ name, user, pw string }{
		{"wrong password", "ada", "wrong password!"},
		{"unknown user", "nobody", "wrong password!"},
		{"disabled account", "bob", goodPassword},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.browser().login(tc.user, tc.pw)
			if r.code != http.StatusUnauthorized {
				t.Fatalf("%d, want 401", r.code)
			}
			mustContain(t, "login page", r.body, "Invalid username or password.", `value="`+tc.user+`"`)
			mustNotContain(t, "login page", r.body, tc.pw)
			bodies = append(bodies, strings.ReplaceAll(normalize(r.body), tc.user, "USER"))
		})
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("failure pages differ:\n%s\nvs\n%s", b, bodies[0])
		}
	}

	for _, tc := range []struct {
		name string
		form url.Values
		want []string
	}{
		{"missing fields", url.Values{}, []string{"Please enter your username.", "Please enter your password."}},
		{"invalid UTF-8", url.Values{"username": {"a\xffda"}, "password": {"x\xff"}}, []string{"could not be read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.browser().post("/login", tc.form)
			if r.code != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422", r.code)
			}
			mustContain(t, "login page", r.body, tc.want...)
		})
	}
	t.Run("10 KB username", func(t *testing.T) {
		r := e.browser().login(strings.Repeat("u", 10_000), "whatever")
		if r.code != http.StatusUnauthorized {
			t.Errorf("%d, want 401", r.code)
		}
	})
}

func TestLoginThrottled(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.browser()
	for range 10 {
		e.clock.Advance(65 * time.Second)
		b.login("ada", "wrong wrong wrong")
	}
	e.clock.Advance(65 * time.Second)
	r := b.login("ada", goodPassword)
	if r.code != http.StatusTooManyRequests || r.h.Get("Retry-After") == "" {
		t.Fatalf("11th attempt: %d Retry-After %q, want 429 with Retry-After", r.code, r.h.Get("Retry-After"))
	}
	mustContain(t, "throttled page", r.body, "Too many failed login attempts. Try again in", `value="ada"`)
}

func TestLoginNext(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	tests := []struct{ next, want string }{
		{"/account", "/account"},
		{"/account?tab=sessions", "/account?tab=sessions"},
		{"", "/dashboard"},
		{"//evil.example", "/dashboard"},
		{"/\\evil.example", "/dashboard"},
		{"https://evil.example/", "/dashboard"},
		{"http:/evil.example", "/dashboard"},
		{"javascript:alert(1)", "/dashboard"},
		{"dashboard", "/dashboard"},
		{"/\t/evil.example", "/dashboard"},
		{"/a\r\nSet-Cookie: x=1", "/dashboard"},
		{"\\\\evil.example", "/dashboard"},
		{strings.Repeat("/a", 2000), "/dashboard"},
	}
	for _, tt := range tests {
		r := e.browser().post("/login", url.Values{"username": {"ada"}, "password": {goodPassword}, "next": {tt.next}})
		if r.code != http.StatusSeeOther || r.location() != tt.want {
			t.Errorf("login with next=%q: %d Location %q, want 303 %q", tt.next, r.code, r.location(), tt.want)
		}
	}
	// The form carries a safe next from the query, and drops an unsafe one.
	if r := e.browser().get("/login?next=%2Faccount"); !strings.Contains(r.body, `name="next" value="/account"`) {
		t.Errorf("login form lost next=/account:\n%s", r.body)
	}
	if r := e.browser().get("/login?next=https://evil.example"); strings.Contains(r.body, "evil.example") {
		t.Errorf("login form kept an unsafe next:\n%s", r.body)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	r := b.post("/logout", nil)
	if r.code != http.StatusSeeOther || r.location() != "/" {
		t.Fatalf("logout: %d %q, want 303 /", r.code, r.location())
	}
	home := b.get("/")
	mustContain(t, "home after logout", home.body, "You have been logged out.", "Hello, Unknown")
	if r := b.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("dashboard after logout: %d", r.code)
	}

	get := e.loggedIn("ada").get("/logout")
	if get.code != http.StatusMethodNotAllowed || get.h.Get("Allow") != "POST" {
		t.Errorf("GET /logout: %d Allow %q, want 405 Allow: POST", get.code, get.h.Get("Allow"))
	}
	mustContain(t, "405 page", get.body, "<!doctype html>", "Method not allowed", "hallpass")
	if r := e.browser().form("/logout", url.Values{}); r.code != http.StatusForbidden {
		t.Errorf("logout without a CSRF token: %d, want 403", r.code)
	}
}

func TestDashboardAndAnonymousRedirects(t *testing.T) {
	e := newEnv(t)
	anon := e.browser()
	for path, want := range map[string]string{
		"/dashboard": "/login?next=%2Fdashboard",
		"/account":   "/login?next=%2Faccount",
		"/admin":     "/login?next=%2Fadmin",
	} {
		r := anon.get(path)
		if r.code != http.StatusSeeOther || r.location() != want {
			t.Errorf("anonymous GET %s: %d %q, want 303 %q", path, r.code, r.location(), want)
		}
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	r := b.get("/no/such/page")
	if r.code != http.StatusNotFound {
		t.Fatalf("GET /no/such/page: %d", r.code)
	}
	mustContain(t, "404 page", r.body, "<!doctype html>", "<title>Page not found · hallpass</title>", "ada", "Log out")
	if r := e.browser().get("/api/nothing"); r.code != http.StatusNotFound || !strings.Contains(r.body, `"error":"not_found"`) {
		t.Errorf("GET /api/nothing: %d %s, want 404 JSON", r.code, r.body)
	}
	r = e.browser().send("PUT", "/api/me", nil, "Authorization", "Bearer x")
	if r.code != http.StatusMethodNotAllowed || !strings.Contains(r.body, `"error":"method_not_allowed"`) || r.h.Get("Allow") == "" {
		t.Errorf("PUT /api/me: %d %s Allow %q, want 405 JSON with Allow", r.code, r.body, r.h.Get("Allow"))
	}
}

// sessionIDs returns the session IDs in the revoke forms of an account page.
func sessionIDs(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`/account/sessions/([^/"]+)/revoke`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestAccountPage(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "editor")
	firefox := e.browser()
	firefox.c.Transport = uaTransport("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	firefox.login("ada", goodPassword)
	iphone := e.browser()
	iphone.c.Transport = uaTransport("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
	iphone.login("ada", goodPassword)

	r := firefox.get("/account")
	if r.code != http.StatusOK {
		t.Fatalf("GET /account: %d", r.code)
	}
	if cc := r.h.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("account page Cache-Control %q, want no-store", cc)
	}
	mustContain(t, "account page", r.body, "ada@example.com", "editor", "Member since",
		"Firefox on Linux", "Safari on iPhone", "this device", "Log out all other sessions",
		`action="/account/password"`, `action="/account/tokens"`, "30 days", "90 days", "1 year", "Never",
		`<label for="current_password">`, `<label for="new_password">`, `<label for="token_name">`, `<label for="expires_in">`)
	if n := strings.Count(r.body, "this device"); n != 1 {
		t.Errorf("%d sessions marked as this device, want 1", n)
	}
	if ids := sessionIDs(r.body); len(ids) != 2 {
		t.Errorf("%d sessions listed, want 2", len(ids))
	}
}

type uaTransport string

func (ua uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", string(ua))
	return http.DefaultTransport.RoundTrip(r)
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	u := e.addUser("ada")
	here, other := e.loggedIn("ada"), e.loggedIn("ada")
	secret, _, _ := e.tokens.Create(context.Background(), u.ID, "ci", []string{"read", "write"}, 0)

	r := here.post("/account/password", url.Values{"current_password": {"wrong wrong"}, "new_password": {"a new passphrase"}})
	if r.code != http.StatusForbidden {
		t.Fatalf("wrong current password: %d, want 403", r.code)
	}
	mustContain(t, "account page", r.body, "Your current password is not correct.", "Change your password")
	mustNotContain(t, "account page", r.body, "wrong wrong", "a new passphrase")

	r = here.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {"password"}})
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("common new password: %d, want 422", r.code)
	}
	mustContain(t, "account page", r.body, `id="new_password-error"`, "too common")

	r = here.post("/account/password", url.Values{"new_password": {"a new passphrase"}})
	if r.code != http.StatusUnprocessableEntity {
		t.Errorf("missing current password: %d, want 422", r.code)
	}

	r = here.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {"a new passphrase"}})
	if r.code != http.StatusSeeOther || r.location() != "/account" {
		t.Fatalf("change password: %d %q, want 303 /account", r.code, r.location())
	}
	mustContain(t, "account page", here.get("/account").body, "Your password has been changed.")
	if r := other.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("other session after the change: %d, want logged out", r.code)
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusUnauthorized {
		t.Errorf("API token after the change: %d, want 401", r.code)
	}
}

func TestChangePasswordThrottled(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	for range 10 {
		e.clock.Advance(65 * time.Second)
		b.post("/account/password", url.Values{"current_password": {"wrong wrong"}, "new_password": {"a new passphrase"}})
	}
	e.clock.Advance(65 * time.Second)
	r := b.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {"a new passphrase"}})
	if r.code != http.StatusTooManyRequests || r.h.Get("Retry-After") == "" {
		t.Fatalf("after 10 wrong current passwords: %d Retry-After %q, want 429", r.code, r.h.Get("Retry-After"))
	}
	mustContain(t, "account page", r.body, "Too many failed login attempts.")
}

func TestRevokeSessions(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	e.addUser("bob")
	here, other, third := e.loggedIn("ada"), e.loggedIn("ada"), e.loggedIn("ada")
	bob := e.loggedIn("bob")
	otherID := currentID(t, other)
	bobID := currentID(t, bob)

	for _, id := range []string{"nope", bobID, strings.Repeat("x", 300)} {
		r := here.post("/account/sessions/"+id+"/revoke", nil)
		if r.code != http.StatusNotFound {
			t.Errorf("revoke session %.20q: %d, want 404", id, r.code)
		}
		mustContain(t, "404 page", r.body, "<!doctype html>", "We could not find what you asked for.")
	}
	if r := bob.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("bob after ada tried to revoke his session: %d", r.code)
	}

	r := here.post("/account/sessions/"+otherID+"/revoke", nil)
	if r.code != http.StatusSeeOther || r.location() != "/account" {
		t.Fatalf("revoke: %d %q", r.code, r.location())
	}
	if r := other.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("revoked session: %d, want logged out", r.code)
	}
	if r := third.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("untouched session: %d, want logged in", r.code)
	}

	r = here.post("/account/sessions/revoke-others", nil)
	if r.code != http.StatusSeeOther || r.location() != "/account" {
		t.Fatalf("revoke others: %d %q", r.code, r.location())
	}
	mustContain(t, "account page", here.get("/account").body, "1 other session has been logged out.")
	if r := third.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("other session after revoke-others: %d", r.code)
	}
	if r := here.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("this session after revoke-others: %d", r.code)
	}

	// Revoking this device's own session is a log-out.
	r = here.post("/account/sessions/"+currentID(t, here)+"/revoke", nil)
	if r.code != http.StatusSeeOther || r.location() != "/" {
		t.Errorf("revoke own session: %d %q, want 303 /", r.code, r.location())
	}
	if r := here.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("after revoking its own session: %d", r.code)
	}
}

// currentID returns the ID of c's session from GET /api/sessions.
func currentID(t *testing.T, c *client) string {
	t.Helper()
	r := c.get("/api/sessions")
	m := regexp.MustCompile(`"id":"([^"]+)"[^}]*"current":true`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no current session in %s", r.body)
	}
	return m[1]
}

func TestTokensHTML(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")

	r := b.post("/account/tokens", url.Values{"name": {"deploy script"}, "expires_in": {"2592000"}, "scopes": {"read"}})
	if r.code != http.StatusCreated {
		t.Fatalf("create token: %d\n%s", r.code, r.body)
	}
	secret := regexp.MustCompile(`hp_[A-Za-z0-9_-]{43}`).FindString(r.body)
	if secret == "" {
		t.Fatalf("no token on the page:\n%s", r.body)
	}
	mustContain(t, "account page", r.body, "deploy script", "shown only this once")
	if page := b.get("/account").body; strings.Contains(page, secret) {
		t.Error("the token secret was shown a second time")
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusOK {
		t.Errorf("new token: %d", r.code)
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("the token reached the log")
	}

	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"empty name", url.Values{"name": {""}, "expires_in": {"0"}, "scopes": {"read"}}, "A token name is 1 to 100 characters long."},
		{"long name", url.Values{"name": {strings.Repeat("n", 10_000)}, "expires_in": {"0"}, "scopes": {"read"}}, "A token name is 1 to 100 characters long."},
		{"bad expiry", url.Values{"name": {"x"}, "expires_in": {"-5"}, "scopes": {"read"}}, "Please choose when the token expires."},
		{"invalid UTF-8", url.Values{"name": {"\xff\xfe"}, "expires_in": {"0"}, "scopes": {"read"}}, "could not be read"},
		{"NUL", url.Values{"name": {"a\x00b"}, "expires_in": {"0"}, "scopes": {"read"}}, "A token name may not contain control characters."},
		{"bidi override", url.Values{"name": {"evil\u202egnp.exe"}, "expires_in": {"0"}, "scopes": {"read"}}, "A token name may not contain characters that change the direction of text."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.post("/account/tokens", tc.form)
			if r.code != http.StatusUnprocessableEntity {
				t.Fatalf("%d, want 422", r.code)
			}
			mustContain(t, "account page", r.body, tc.want)
		})
	}

	id := regexp.MustCompile(`/account/tokens/([^/]+)/revoke`).FindStringSubmatch(b.get("/account").body)
	if id == nil {
		t.Fatal("no revoke button for the token")
	}
	if r := b.post("/account/tokens/"+id[1]+"/revoke", nil); r.code != http.StatusSeeOther {
		t.Errorf("revoke token: %d", r.code)
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", r.code)
	}
	if r := b.post("/account/tokens/"+id[1]+"/revoke", nil); r.code != http.StatusNotFound {
		t.Errorf("revoke a revoked token: %d, want 404", r.code)
	}

	// Ten minutes later the password must be entered again.
	e.clock.Advance(11 * time.Minute)
	r = b.post("/account/tokens", url.Values{"name": {"late"}, "expires_in": {"0"}})
	if r.code != http.StatusSeeOther || r.location() != "/login?next=%2Faccount" {
		t.Fatalf("create token with a stale login: %d %q, want 303 /login?next=%%2Faccount", r.code, r.location())
	}
	mustContain(t, "login page", b.get("/login?next=%2Faccount").body, "Please enter your password again to continue.")
}

func TestAdmin(t *testing.T) {
	e := newEnv(t)
	root := e.addUser("root", "admin")
	ada := e.addUser("ada")
	admin := e.loggedIn("root")
	user := e.loggedIn("ada")

	r := user.get("/admin")
	if r.code != http.StatusForbidden {
		t.Fatalf("non-admin GET /admin: %d, want 403", r.code)
	}
	mustContain(t, "403 page", r.body, "<!doctype html>", "Forbidden", "ada")

	r = admin.get("/admin")
	if r.code != http.StatusOK {
		t.Fatalf("GET /admin: %d", r.code)
	}
	mustContain(t, "admin page", r.body, "root", "ada", "/admin/users/"+ada.ID+"/disable", "/admin/users/"+ada.ID+"/grant-admin")
	mustNotContain(t, "admin page", r.body, "/admin/users/"+root.ID+"/disable", "/admin/users/"+root.ID+"/revoke-admin")

	steps := []struct {
		path  string
		want  int
		flash string
	}{
		{"/admin/users/" + ada.ID + "/disable", http.StatusSeeOther, "ada has been disabled"},
		{"/admin/users/" + ada.ID + "/enable", http.StatusSeeOther, "ada has been enabled"},
		{"/admin/users/" + ada.ID + "/grant-admin", http.StatusSeeOther, "ada is now an admin"},
		{"/admin/users/" + ada.ID + "/revoke-admin", http.StatusSeeOther, "ada is no longer an admin"},
		{"/admin/users/" + root.ID + "/disable", http.StatusBadRequest, "You cannot disable your own account."},
		{"/admin/users/" + root.ID + "/revoke-admin", http.StatusBadRequest, "You cannot remove your own admin role."},
		{"/admin/users/999/disable", http.StatusNotFound, "We could not find what you asked for."},
		{"/admin/users/" + ada.ID + "/delete", http.StatusNotFound, "Page not found"},
	}
	for _, s := range steps {
		r := admin.post(s.path, nil)
		if r.code != s.want {
			t.Errorf("POST %s: %d, want %d", s.path, r.code, s.want)
			continue
		}
		body := r.body
		if r.code == http.StatusSeeOther {
			if r.location() != "/admin" {
				t.Errorf("POST %s: Location %q, want /admin", s.path, r.location())
			}
			body = admin.get("/admin").body
		}
		mustContain(t, "POST "+s.path, body, s.flash)
	}
	user = e.loggedIn("ada") // the disable step above logged ada out
	if r := user.post("/admin/users/"+ada.ID+"/grant-admin", nil); r.code != http.StatusForbidden {
		t.Errorf("non-admin granting itself admin: %d, want 403", r.code)
	}

	// Disabling ends the user's sessions at once.
	if r := user.get("/dashboard"); r.code != http.StatusOK {
		t.Fatalf("ada before being disabled: %d", r.code)
	}
	admin.post("/admin/users/"+ada.ID+"/disable", nil)
	if r := user.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("ada after being disabled: %d, want logged out", r.code)
	}
	if r := e.browser().login("ada", goodPassword); r.code != http.StatusUnauthorized {
		t.Errorf("disabled ada logs in: %d, want 401", r.code)
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	r := e.browser().get("/healthz")
	if r.code != http.StatusOK || r.body != "ok" || !strings.HasPrefix(r.h.Get("Content-Type"), "text/plain") {
		t.Errorf("healthz: %d %q %q, want 200 ok text/plain", r.code, r.body, r.h.Get("Content-Type"))
	}
	e.health.Store(errDown)
	r = e.browser().get("/healthz")
	if r.code != http.StatusServiceUnavailable || r.body != "unavailable" {
		t.Errorf("healthz with a store down: %d %q, want 503 unavailable", r.code, r.body)
	}
	if strings.Contains(r.body, "refused") {
		t.Error("healthz shows the cause")
	}
}

func TestStatic(t *testing.T) {
	e := newEnv(t)
	page := e.browser().get("/").body
	css := regexp.MustCompile(`href="(/static/style\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if css == nil {
		t.Fatalf("no versioned stylesheet link in %s", page)
	}
	r := e.browser().get(css[1])
	if r.code != http.StatusOK || !strings.HasPrefix(r.h.Get("Content-Type"), "text/css") || !strings.Contains(r.h.Get("Cache-Control"), "max-age=") {
		t.Errorf("stylesheet: %d %q Cache-Control %q", r.code, r.h.Get("Content-Type"), r.h.Get("Cache-Control"))
	}
	if r := e.browser().get(css[1], "If-None-Match", r.h.Get("ETag")); r.code != http.StatusNotModified {
		t.Errorf("stylesheet with a matching ETag: %d, want 304", r.code)
	}
	if r := e.browser().get("/static/nope.css"); r.code != http.StatusNotFound {
		t.Errorf("missing static file: %d", r.code)
	}
}

func TestTamperedCookiesAreAnonymous(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	good := e.loggedIn("ada")
	real := good.cookie(sessCookie)
	tampered := []string{
		"garbage",
		real[:len(real)-2] + "xx",
		"x" + real,
		strings.Repeat("A", 4000),
		"%00%ff",
	}
	for _, v := range tampered {
		b := e.browser()
		b.setCookie(sessCookie, v)
		b.setCookie(rememberCookie, v)
		if r := b.get("/"); r.code != http.StatusOK || !strings.Contains(r.body, "Hello, Unknown") {
			t.Errorf("home with cookie %.20q: %d, want anonymous", v, r.code)
		}
		if r := b.get("/dashboard"); r.code != http.StatusSeeOther {
			t.Errorf("dashboard with cookie %.20q: %d, want 303", v, r.code)
		}
	}
}

func TestStoreDown(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	e.store.Down.Store(true)
	r := b.get("/dashboard")
	if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") == "" {
		t.Fatalf("dashboard with the store down: %d, want 503 with Retry-After", r.code)
	}
	mustContain(t, "503 page", r.body, "<!doctype html>", "temporarily unavailable")
	mustNotContain(t, "503 page", r.body, "refused", "10.0.0.1")
	r = b.get("/api/me")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, `"error":"unavailable"`) {
		t.Errorf("/api/me with the store down: %d %s", r.code, r.body)
	}
	if n := strings.Count(e.logs.String(), `"msg":"web: request failed"`); n != 2 {
		t.Errorf("%d failure records for 2 failed requests, want one each", n)
	}
	e.store.Down.Store(false)
	if r := b.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("dashboard after the store recovered: %d", r.code)
	}
}

func TestCSRFRejectedPage(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	r := b.form("/account/sessions/revoke-others", url.Values{"csrf_token": {"forged"}})
	if r.code != http.StatusForbidden {
		t.Fatalf("forged token: %d, want 403", r.code)
	}
	mustContain(t, "CSRF page", r.body, "<!doctype html>", "The form has expired", "ada")
	r = b.form("/account/sessions/revoke-others", url.Values{"csrf_token": {b.csrfToken()}}, "Origin", "https://evil.example")
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "came from another site") {
		t.Errorf("cross-origin form: %d %s", r.code, r.body)
	}
}

// A method no route takes is answered 405 with Allow before the CSRF
// check: a request that can do nothing is not a forgery (403) but a wrong
// method. Unknown paths are 404 the same way.
func TestMethodNotAllowedBeforeCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	for _, who := range []struct {
		name string
		b    *client
	}{{"anonymous", e.browser()}, {"logged in", e.loggedIn("ada")}} {
		for _, tt := range []struct {
			method, path string
			want         int
			allow        string
		}{
			{"PUT", "/login", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
			{"DELETE", "/login", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
			{"PATCH", "/register", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
			{"PUT", "/logout", http.StatusMethodNotAllowed, "POST"},
			{"DELETE", "/account/password", http.StatusMethodNotAllowed, "POST"},
			{"PUT", "/api/session", http.StatusMethodNotAllowed, "DELETE, GET, HEAD, POST"},
			{"POST", "/api/me", http.StatusMethodNotAllowed, "GET, HEAD"},
			{"POST", "/no/such/page", http.StatusNotFound, ""},
		} {
			r := who.b.send(tt.method, tt.path, strings.NewReader("x=1"), "Content-Type", "application/x-www-form-urlencoded")
			if r.code != tt.want || r.h.Get("Allow") != tt.allow {
				t.Errorf("%s %s %s: %d Allow %q, want %d Allow %q", who.name, tt.method, tt.path, r.code, r.h.Get("Allow"), tt.want, tt.allow)
			}
			if strings.HasPrefix(tt.path, "/api/") {
				mustContain(t, tt.method+" "+tt.path, r.body, `"error":`)
			} else {
				mustContain(t, tt.method+" "+tt.path, r.body, "<!doctype html>")
			}
		}
	}
	// A route that takes the method still checks the token.
	if r := e.browser().form("/login", url.Values{"username": {"ada"}, "password": {goodPassword}}); r.code != http.StatusForbidden {
		t.Errorf("POST /login without a CSRF token: %d, want 403", r.code)
	}
}

// Every response carries Vary: Cookie at most once, however many layers
// (session, CSRF, page rendering) depend on the cookie.
func TestVaryCookieOnce(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "admin")
	anon := e.browser()
	ada := e.loggedIn("ada")
	for _, tt := range []struct {
		name string
		b    *client
		path string
	}{
		{"anonymous", anon, "/"},
		{"anonymous", anon, "/login"},
		{"anonymous", anon, "/register"},
		{"logged in", ada, "/"},
		{"logged in", ada, "/dashboard"},
		{"logged in", ada, "/account"},
		{"logged in", ada, "/admin"},
		{"logged in", ada, "/api/me"},
		{"logged in", ada, "/no/such/page"},
	} {
		r := tt.b.get(tt.path)
		n := 0
		for _, line := range r.h.Values("Vary") {
			for v := range strings.SplitSeq(line, ",") {
				if strings.EqualFold(strings.TrimSpace(v), "Cookie") {
					n++
				}
			}
		}
		if n != 1 {
			t.Errorf("%s GET %s: Vary %q names Cookie %d times, want once", tt.name, tt.path, r.h.Values("Vary"), n)
		}
	}
}

// Ending another session ends the remember-me tokens of the user's other
// browsers too, or the browser would come right back through its cookie;
// this browser's own token keeps working.
func TestRevokeEndsRememberMe(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	login := func() *client {
		b := e.browser()
		b.post("/login", url.Values{"username": {"ada"}, "password": {goodPassword}, "remember": {"on"}})
		if b.cookie(rememberCookie) == "" {
			t.Fatal("no remember-me cookie")
		}
		return b
	}
	here, other, third := login(), login(), login()

	// A session that is not the user's changes nothing.
	if r := here.post("/account/sessions/nope/revoke", nil); r.code != http.StatusNotFound {
		t.Fatalf("revoke an unknown session: %d, want 404", r.code)
	}
	if r := other.withOnly(rememberCookie).get("/dashboard"); r.code != http.StatusOK {
		t.Fatalf("another browser's remember-me cookie after a revoke that found nothing: %d, want it kept", r.code)
	}
	other = login() // the restore above rotated other's cookie in a browser of its own

	if r := here.post("/account/sessions/"+currentID(t, other)+"/revoke", nil); r.code != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r := other.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("the revoked browser, with its remember-me cookie: %d, want logged out", r.code)
	}
	if r := here.post("/account/sessions/revoke-others", nil); r.code != http.StatusSeeOther {
		t.Fatalf("revoke others: %d %s", r.code, r.body)
	}
	if r := third.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("another browser after revoke-others, with its remember-me cookie: %d, want logged out", r.code)
	}
	if r := here.withOnly(rememberCookie).get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("this browser's remember-me cookie after revoke-others: %d, want it kept", r.code)
	}
}

// hookedAccounts runs beforeWrite once, just before the next SetRoles or
// SetDisabled: another request's change that commits first.
type hookedAccounts struct {
	*memstore.AccountStore
	beforeWrite func()
}

func (h *hookedAccounts) hook() {
	if f := h.beforeWrite; f != nil {
		h.beforeWrite = nil
		f()
	}
}

func (h *hookedAccounts) SetRoles(ctx context.Context, id string, roles []string) error {
	h.hook()
	return h.AccountStore.SetRoles(ctx, id, roles)
}

func (h *hookedAccounts) SetDisabled(ctx context.Context, id string, disabled bool) error {
	h.hook()
	return h.AccountStore.SetDisabled(ctx, id, disabled)
}

func (h *hookedAccounts) CreateToken(ctx context.Context, t *account.APIToken) error {
	h.hook()
	return h.AccountStore.CreateToken(ctx, t)
}

// A token created by a request already under way when the password
// changed, the account was disabled or the session was revoked does not
// outlive that change: the request is answered 401 and the token is
// taken back.
func TestTokenCreatedDuringRevocation(t *testing.T) {
	for _, change := range []string{"password", "disable", "revoke-others"} {
		t.Run(change, func(t *testing.T) {
			var hooked *hookedAccounts
			e := newEnv(t, func(c *server.Config) {
				hooked = &hookedAccounts{AccountStore: c.Accounts.(*memstore.AccountStore)}
				c.Accounts = hooked
			})
			ada := e.addUser("ada")
			b, other := e.loggedIn("ada"), e.loggedIn("ada")
			token := b.csrfToken()
			// The change commits while b's request is on its way.
			hooked.beforeWrite = func() {
				var err error
				switch change {
				case "password":
					err = e.lm.SetPassword(t.Context(), "", ada.ID, "a brand new passphrase")
				case "disable":
					err = e.lm.SetDisabled(t.Context(), "", ada.ID, true)
				case "revoke-others":
					if r := other.post("/account/sessions/revoke-others", nil); r.code != http.StatusSeeOther {
						err = fmt.Errorf("revoke others: %d", r.code)
					}
				}
				if err != nil {
					t.Error(err)
				}
			}
			r := b.send("POST", "/api/tokens", strings.NewReader(`{"name":"ci"}`),
				"Content-Type", "application/json", "X-CSRF-Token", token)
			if r.code != http.StatusUnauthorized {
				t.Errorf("a token created as the user was logged out: %d %s, want 401", r.code, r.body)
			}
			list, err := e.accounts.ListTokens(t.Context(), ada.ID)
			if err != nil || len(list) != 0 {
				t.Errorf("tokens left: %d (%v), want none", len(list), err)
			}
		})
	}
}

// Two admins who take each other's rights at the same moment do not leave
// the site without one: the action whose actor lost its rights meanwhile
// is undone and answered 409.
func TestAdminsTakingEachOthersRights(t *testing.T) {
	for _, action := range []string{"revoke-admin", "disable"} {
		t.Run(action, func(t *testing.T) {
			var hooked *hookedAccounts
			e := newEnv(t, func(c *server.Config) {
				hooked = &hookedAccounts{AccountStore: c.Accounts.(*memstore.AccountStore)}
				c.Accounts = hooked
			})
			root := e.addUser("root", "admin")
			bob := e.addUser("bob", "admin")
			admin := e.loggedIn("root")
			// bob's own request, taking root's rights, commits while
			// root's is on its way.
			hooked.beforeWrite = func() {
				var err error
				if action == "disable" {
					err = e.lm.SetDisabled(t.Context(), bob.ID, root.ID, true)
				} else {
					err = e.lm.SetRoles(t.Context(), bob.ID, root.ID, nil)
				}
				if err != nil {
					t.Error(err)
				}
			}
			r := admin.post("/admin/users/"+bob.ID+"/"+action, nil)
			if r.code != http.StatusConflict {
				t.Errorf("root's %s of bob, while bob took root's rights: %d, want 409", action, r.code)
			}
			got, err := e.accounts.UserByID(t.Context(), bob.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Disabled || !got.HasRole("admin") {
				t.Errorf("bob after both actions: disabled %v, roles %v; want an enabled admin (the site keeps one)", got.Disabled, got.Roles)
			}
		})
	}
}
