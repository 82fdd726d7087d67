package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestErrorsByAccept checks that an error is answered as JSON or as a
// page by what the client accepts, on any route: the API's routes default
// to JSON, the pages' to HTML.
func TestErrorsByAccept(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	anon := e.browser()
	ada := e.loggedIn("ada")
	const html = "text/html,application/xhtml+xml,*/*;q=0.8" // a browser's navigation
	tests := []struct {
		name     string
		c        *client
		method   string
		path     string
		accept   string
		status   int
		wantJSON bool
		location string
	}{
		{"page, browser", anon, "GET", "/account", html, http.StatusSeeOther, false, "/login?next=%2Faccount"},
		{"page, no Accept", anon, "GET", "/account", "", http.StatusSeeOther, false, "/login?next=%2Faccount"},
		{"page, JSON client", anon, "GET", "/account", "application/json", http.StatusUnauthorized, true, ""},
		{"API, no Accept", anon, "GET", "/api/me", "", http.StatusUnauthorized, true, ""},
		{"API, JSON client", anon, "GET", "/api/me", "application/json", http.StatusUnauthorized, true, ""},
		{"API, browser", anon, "GET", "/api/me", html, http.StatusSeeOther, false, "/login?next=%2Fapi%2Fme"},
		{"page 404, JSON client", anon, "GET", "/nothing", "application/json", http.StatusNotFound, true, ""},
		{"API 404, browser", anon, "GET", "/api/nothing", html, http.StatusNotFound, false, ""},
		{"forbidden page, JSON client", ada, "GET", "/admin", "application/json", http.StatusForbidden, true, ""},
		{"forbidden page, browser", ada, "GET", "/admin", html, http.StatusForbidden, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.accept != "" {
				hdr = []string{"Accept", tt.accept}
			}
			r := tt.c.send(tt.method, tt.path, nil, hdr...)
			if r.code != tt.status || r.location() != tt.location {
				t.Fatalf("%s %s Accept %q = %d Location %q, want %d %q", tt.method, tt.path, tt.accept, r.code, r.location(), tt.status, tt.location)
			}
			if tt.location != "" {
				return
			}
			isJSON := strings.HasPrefix(r.h.Get("Content-Type"), "application/json")
			if isJSON != tt.wantJSON {
				t.Errorf("%s %s Accept %q: Content-Type %q, want JSON %v", tt.method, tt.path, tt.accept, r.h.Get("Content-Type"), tt.wantJSON)
			}
			if !isJSON && !strings.Contains(r.body, "<!doctype html>") {
				t.Errorf("%s %s: not a page: %s", tt.method, tt.path, r.body)
			}
		})
	}

}
