package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/oidc"
)

// withOIDC offers one provider, "corp", whose issuer does not answer:
// the flow itself is tested against a real provider in e2e/.
func withOIDC(ids identity.Store) envOption {
	return func(c *server.Config) {
		c.Web.BaseURL = "http://hallpass.test"
		c.Web.OIDC = &oidc.Config{Identities: ids, RetryEvery: time.Hour,
			Providers: []oidc.Provider{{ID: "corp", Label: "Corp SSO", Issuer: "http://127.0.0.1:1", ClientID: "app"}}}
	}
}

// A provider whose discovery failed has disabled buttons and answers 503;
// the pages say which providers exist and which are connected.
func TestOIDCPages(t *testing.T) {
	ids := memstore.NewIdentityStore()
	e := newEnv(t, withOIDC(ids))
	t.Cleanup(e.web.OIDC().Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.web.OIDC().WaitDiscovery(ctx)

	b := e.browser()
	r := b.get("/login?next=%2Faccount")
	mustContain(t, "login page", r.body, `action="/login/oidc/corp"`, `disabled`, `>Sign in with Corp SSO</button>`,
		`<input type="hidden" name="next" value="/account">`)
	if csp := r.h.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Errorf("CSP %q names origins of a provider that never answered", csp)
	}
	if r := b.post("/login/oidc/corp", nil); r.code != http.StatusServiceUnavailable {
		t.Errorf("start with a provider that is down: %d, want 503", r.code)
	}
	if r := b.post("/login/oidc/nope", nil); r.code != http.StatusNotFound {
		t.Errorf("start with an unknown provider: %d, want 404", r.code)
	}
	if r := b.form("/login/oidc/corp", url.Values{}); r.code != http.StatusForbidden {
		t.Errorf("start without a CSRF token: %d, want 403", r.code)
	}
	if r := b.get("/login/oidc/corp/callback?code=x&state=y"); r.code != http.StatusUnauthorized {
		t.Errorf("callback with a state this browser never had: %d, want 401", r.code)
	}

	u := e.addUser("ada")
	now := time.Now()
	if err := ids.LinkIdentity(context.Background(), &identity.Identity{Issuer: "http://127.0.0.1:1", Subject: "s1",
		Provider: "corp", UserID: u.ID, Email: "ada@corp.example", CreatedAt: now, LastUsedAt: now}); err != nil {
		t.Fatal(err)
	}
	a := e.loggedIn("ada")
	r = a.get("/account")
	mustContain(t, "account page", r.body, "Sign-in providers", "Corp SSO", "ada@corp.example", ">Disconnect</button>", "Connect Corp SSO")
	// Connecting needs a fresh login: a stale session is sent to log in
	// again, and comes back to the account page.
	if r := a.post("/login/oidc/corp", url.Values{"connect": {"1"}}); r.code != http.StatusServiceUnavailable {
		t.Errorf("connect right after login, provider down: %d, want 503", r.code)
	}
	e.clock.Advance(11 * time.Minute)
	if r := a.post("/login/oidc/corp", url.Values{"connect": {"1"}}); r.code != http.StatusSeeOther || r.location() != "/login?next=%2Faccount" {
		t.Errorf("connect 11 minutes after login: %d %q, want 303 /login?next=%%2Faccount", r.code, r.location())
	}
	if r := e.browser().post("/login/oidc/corp", url.Values{"connect": {"1"}}); r.code != http.StatusUnauthorized {
		t.Errorf("connect without a login: %d, want 401", r.code)
	}
	// Disconnecting needs a fresh login too.
	if r := a.post("/login/oidc/corp/disconnect", nil); r.code != http.StatusSeeOther || r.location() != "/login?next=%2Faccount" {
		t.Errorf("disconnect 11 minutes after login: %d %q, want 303 /login?next=%%2Faccount", r.code, r.location())
	}
	if list, _ := ids.IdentitiesByUser(context.Background(), u.ID); len(list) != 1 {
		t.Errorf("a stale session disconnected: %d identities left, want 1", len(list))
	}
	// ada has a password: fresh, she may disconnect; then there is
	// nothing left.
	a = e.loggedIn("ada")
	if r := a.post("/login/oidc/corp/disconnect", nil); r.code != http.StatusSeeOther || r.location() != "/account" {
		t.Errorf("disconnect: %d %q, want 303 /account", r.code, r.location())
	}
	if list, _ := ids.IdentitiesByUser(context.Background(), u.ID); len(list) != 0 {
		t.Errorf("after disconnect, %d identities left", len(list))
	}
	if r := a.post("/login/oidc/corp/disconnect", nil); r.code != http.StatusNotFound {
		t.Errorf("disconnect of nothing: %d, want 404", r.code)
	}
	if r := e.browser().post("/login/oidc/corp/disconnect", nil); r.code != http.StatusUnauthorized {
		t.Errorf("disconnect without a login: %d, want 401", r.code)
	}
	mustContain(t, "audit log", e.logs.String(), `"msg":"oidc.unlink"`, `"provider":"corp"`)
}

// Without providers the pages offer none and the policy is unchanged.
func TestNoOIDC(t *testing.T) {
	e := newEnv(t)
	if e.web.OIDC() != nil {
		t.Fatal("OIDC() without providers is not nil")
	}
	r := e.browser().get("/login")
	mustNotContain(t, "login page", r.body, "Sign in with")
	if r := e.browser().get("/login/oidc/corp/callback"); r.code != http.StatusNotFound {
		t.Errorf("callback without providers: %d, want 404", r.code)
	}
}
