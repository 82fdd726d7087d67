package web_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardFromCache checks that the dashboard, kept rendered between
// requests, still shows each user their own page, with a CSRF token
// masked afresh on every response that works for the log-out form, the
// admin link as soon as the role is granted, and a flash when there is
// one.
func TestDashboardFromCache(t *testing.T) {
	e := newEnv(t)
	ada := e.addUser("ada")
	e.addUser("bob")
	a, b := e.loggedIn("ada"), e.loggedIn("bob")

	tokenRE := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	first, second := a.get("/dashboard"), a.get("/dashboard")
	t1, t2 := tokenRE.FindStringSubmatch(first.body), tokenRE.FindStringSubmatch(second.body)
	if t1 == nil || t2 == nil || t1[1] == t2[1] {
		t.Fatalf("tokens %q and %q: want a token on each page, masked afresh", t1, t2)
	}
	if strings.Replace(first.body, t1[1], "", 1) != strings.Replace(second.body, t2[1], "", 1) {
		t.Errorf("two dashboards of one user differ beyond their tokens:\n%s\n%s", first.body, second.body)
	}
	mustContain(t, "ada's dashboard", second.body, "Welcome ada!")
	bob := b.get("/dashboard")
	mustContain(t, "bob's dashboard", bob.body, "Welcome bob!")
	if strings.Contains(bob.body, "ada") || strings.Contains(bob.body, `href="/admin"`) {
		t.Errorf("bob's dashboard shows another user's page:\n%s", bob.body)
	}

	// A role change reaches the cached page at once.
	if err := e.lm.SetRoles(context.Background(), "", ada.ID, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "ada's dashboard as admin", a.get("/dashboard").body, `href="/admin"`, "Welcome ada!")

	// The token of a cached page logs out.
	page := a.get("/dashboard")
	tok := tokenRE.FindStringSubmatch(page.body)
	if tok == nil {
		t.Fatalf("no token on the dashboard:\n%s", page.body)
	}
	r := a.form("/logout", url.Values{"csrf_token": {tok[1]}})
	if r.code != 303 || r.location() != "/" {
		t.Fatalf("log out with the dashboard's token: %d %q %s", r.code, r.location(), r.body)
	}
	// The home page after it shows the flash (a page with flashes is
	// rendered, not taken from the cache), and the next one does not.
	home := a.get("/")
	mustContain(t, "home after log out", home.body, `class="flash`, "logged out")
	if again := a.get("/"); strings.Contains(again.body, `class="flash`) {
		t.Errorf("the flash is shown twice:\n%s", again.body)
	}
}
