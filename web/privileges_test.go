package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tokens get the scopes asked for (read when none are named), strictly
// parsed; the admin scope only for admins; the list shows them.
func TestAPITokenScopes(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	e.addUser("root", "admin")
	ada, root := e.browser(), e.browser()
	adaCSRF, rootCSRF := ada.apiLogin("ada"), root.apiLogin("root")
	type created struct {
		Scopes []string `json:"scopes"`
		Token  string   `json:"token"`
	}
	tests := []struct {
		name       string
		c          *client
		csrf, body string
		want       int
		code       string   // the error code, for a refusal
		scopes     []string // the token's scopes, for a success
	}{
		{"default", ada, adaCSRF, `{"name":"a"}`, 201, "", []string{"read"}},
		{"null", ada, adaCSRF, `{"name":"a","scopes":null}`, 201, "", []string{"read"}},
		{"read and write", ada, adaCSRF, `{"name":"a","scopes":["write","read"]}`, 201, "", []string{"read", "write"}},
		{"empty", ada, adaCSRF, `{"name":"a","scopes":[]}`, 422, "invalid", nil},
		{"unknown", ada, adaCSRF, `{"name":"a","scopes":["read","root"]}`, 422, "invalid", nil},
		{"wrong case", ada, adaCSRF, `{"name":"a","scopes":["READ"]}`, 422, "invalid", nil},
		{"string", ada, adaCSRF, `{"name":"a","scopes":"read"}`, 400, "bad_request", nil},
		{"number", ada, adaCSRF, `{"name":"a","scopes":[1]}`, 400, "bad_request", nil},
		{"admin by a non-admin", ada, adaCSRF, `{"name":"ci-readonly","scopes":["read","admin"]}`, 403, "forbidden", nil},
		{"admin by an admin", root, rootCSRF, `{"name":"ops","scopes":["read","admin"]}`, 201, "", []string{"read", "admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.json("POST", "/api/tokens", tt.body, "X-CSRF-Token", tt.csrf)
			if r.code != tt.want {
				t.Fatalf("POST /api/tokens %s: %d %s, want %d", tt.body, r.code, r.body, tt.want)
			}
			if tt.code != "" {
				if got := decode(t, r)["error"]; got != tt.code {
					t.Errorf("error = %v, want %q", got, tt.code)
				}
				return
			}
			var c created
			json.Unmarshal([]byte(r.body), &c)
			if !slices.Equal(c.Scopes, tt.scopes) {
				t.Errorf("scopes = %q, want %q", c.Scopes, tt.scopes)
			}
		})
	}
	r := ada.json("POST", "/api/tokens", `{"name":"x","scopes":["admin"]}`, "X-CSRF-Token", adaCSRF)
	if msg, _ := decode(t, r)["message"].(string); !strings.Contains(msg, "Only administrators") {
		t.Errorf("admin scope refused with message %q, want one saying only administrators may", msg)
	}
	var list struct {
		Tokens []struct {
			Name   string   `json:"name"`
			Scopes []string `json:"scopes"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(ada.get("/api/tokens").body), &list); err != nil || len(list.Tokens) != 3 {
		t.Fatalf("GET /api/tokens: %+v, %v; want ada's 3 tokens", list, err)
	}
	if got := list.Tokens[0].Scopes; !slices.Equal(got, []string{"read", "write"}) {
		t.Errorf("newest token in the list: scopes %q, want [read write]", got)
	}
}

// Every route checks the token's scopes; admin routes need the admin scope
// on top of the role; admin actions are never open to a token, since a
// token is not a fresh login.
func TestTokenScopesOnRoutes(t *testing.T) {
	e := newEnv(t)
	root := e.addUser("root", "admin")
	ada := e.addUser("ada")
	token := func(scopes ...string) []string {
		secret, _, err := e.tokens.Create(context.Background(), root.ID, "t", scopes, 0)
		if err != nil {
			t.Fatal(err)
		}
		return []string{"Authorization", "Bearer " + secret}
	}
	read, readWrite, all := token("read"), token("read", "write"), token("read", "write", "admin")
	c := e.browser()
	tests := []struct {
		name   string
		method string
		path   string
		auth   []string
		want   int
		code   string
	}{
		{"read token reads", "GET", "/api/me", read, 200, ""},
		{"read token cannot delete", "DELETE", "/api/tokens/1", read, 403, "insufficient_scope"},
		{"read token cannot log out", "DELETE", "/api/session", read, 403, "insufficient_scope"},
		{"write token deletes", "DELETE", "/api/tokens/999", readWrite, 404, "not_found"},
		{"admin page without the admin scope", "GET", "/admin", readWrite, 403, "insufficient_scope"},
		{"admin page with the admin scope", "GET", "/admin", all, 200, ""},
		{"admin action without the admin scope", "POST", "/admin/users/" + ada.ID + "/grant-admin", readWrite, 403, "insufficient_scope"},
		{"admin action with every scope", "POST", "/admin/users/" + ada.ID + "/grant-admin", all, 401, "fresh_login_required"},
		{"disable with every scope", "POST", "/admin/users/" + ada.ID + "/disable", all, 401, "fresh_login_required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.send(tt.method, tt.path, nil, tt.auth...)
			if r.code != tt.want {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, r.code, r.body, tt.want)
			}
			if tt.code != "" {
				if got := decode(t, r)["error"]; got != tt.code {
					t.Errorf("error = %v, want %q", got, tt.code)
				}
			}
		})
	}
	if u, _ := e.accounts.UserByID(context.Background(), ada.ID); u.HasRole("admin") || u.Disabled {
		t.Errorf("after token requests: ada roles %q disabled %v, want unchanged", u.Roles, u.Disabled)
	}
}

// Admin actions need a password entered within FreshFor: a stale login or
// a remember-me session is sent to log in again (browsers) or gets 401
// fresh_login_required (API clients), and nothing changes.
func TestAdminActionsNeedFreshLogin(t *testing.T) {
	e := newEnv(t)
	e.addUser("root", "admin")
	ada := e.addUser("ada")
	grant := "/admin/users/" + ada.ID + "/grant-admin"
	check := func(t *testing.T) {
		t.Helper()
		if u, _ := e.accounts.UserByID(context.Background(), ada.ID); u.HasRole("admin") {
			t.Fatal("ada was made an admin by a request without a fresh login")
		}
	}

	t.Run("remember-me session", func(t *testing.T) {
		b := e.browser()
		b.post("/login", url.Values{"username": {"root"}, "password": {goodPassword}, "remember": {"on"}})
		restored := b.withOnly(rememberCookie)
		if r := restored.get("/admin"); r.code != http.StatusOK {
			t.Fatalf("GET /admin restored by remember-me: %d, want 200", r.code)
		}
		r := restored.post(grant, nil)
		if r.code != http.StatusSeeOther || r.location() != "/login?next=%2Fadmin" {
			t.Errorf("grant-admin from a remember-me session: %d %q, want 303 /login?next=%%2Fadmin", r.code, r.location())
		}
		mustContain(t, "login page", restored.get(r.location()).body, "Please enter your password again to continue.")
		check(t)
	})
	t.Run("stale login, browser then API", func(t *testing.T) {
		b := e.loggedIn("root")
		e.clock.Advance(11 * time.Minute)
		if r := b.post(grant, nil); r.code != http.StatusSeeOther || r.location() != "/login?next=%2Fadmin" {
			t.Errorf("grant-admin 11 minutes after login: %d %q, want 303 /login?next=%%2Fadmin", r.code, r.location())
		}
		f := url.Values{"csrf_token": {b.csrfToken()}}
		r := b.form(grant, f, "Accept", "application/json")
		if r.code != http.StatusUnauthorized || decode(t, r)["error"] != "fresh_login_required" {
			t.Errorf("grant-admin from a JSON client 11 minutes after login: %d %s, want 401 fresh_login_required", r.code, r.body)
		}
		check(t)
		// Entering the password again allows it.
		if r := b.login("root", goodPassword); r.code != http.StatusSeeOther {
			t.Fatalf("log in again: %d", r.code)
		}
		if r := b.post(grant, nil); r.code != http.StatusSeeOther || r.location() != "/admin" {
			t.Errorf("grant-admin after logging in again: %d %q, want 303 /admin", r.code, r.location())
		}
		if u, _ := e.accounts.UserByID(context.Background(), ada.ID); !u.HasRole("admin") {
			t.Error("ada is not an admin after a fresh grant")
		}
	})
}

// The account page offers scope checkboxes (admin only to admins), shows
// each token's scopes, and refuses a forged admin scope.
func TestTokenScopesHTML(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	e.addUser("root", "admin")
	ada, root := e.loggedIn("ada"), e.loggedIn("root")

	page := ada.get("/account").body
	mustContain(t, "ada's account page", page, `name="scopes" value="read" checked`, `name="scopes" value="write">`)
	mustNotContain(t, "ada's account page", page, `value="admin"`)
	mustContain(t, "root's account page", root.get("/account").body, `name="scopes" value="admin">`)

	r := ada.post("/account/tokens", url.Values{"name": {"ci-readonly"}, "expires_in": {"0"}, "scopes": {"read", "admin"}})
	if r.code != http.StatusForbidden {
		t.Fatalf("non-admin creating an admin token: %d, want 403", r.code)
	}
	mustContain(t, "account page", r.body, "Only administrators can give a token the admin scope.")
	r = ada.post("/account/tokens", url.Values{"name": {"none"}, "expires_in": {"0"}})
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("token without scopes: %d, want 422", r.code)
	}
	mustContain(t, "account page", r.body, "Choose at least one scope")
	r = ada.post("/account/tokens", url.Values{"name": {"deploy"}, "expires_in": {"0"}, "scopes": {"read", "write"}})
	if r.code != http.StatusCreated {
		t.Fatalf("create a read+write token: %d", r.code)
	}
	mustContain(t, "account page", ada.get("/account").body, "<td>deploy</td>\n<td>read, write</td>")
	if r := root.post("/account/tokens", url.Values{"name": {"ops"}, "expires_in": {"0"}, "scopes": {"read", "admin"}}); r.code != http.StatusCreated {
		t.Errorf("admin creating an admin token: %d, want 201", r.code)
	}
}
