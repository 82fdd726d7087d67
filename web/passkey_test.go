package web_test

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/passkey/passkeytest"
)

// withPasskeys turns passkeys (and TOTP) on, on a store the test can
// write to.
func withPasskeys(store *memstore.PasskeyStore) envOption {
	return func(c *server.Config) {
		c.Passkeys = store
		c.TwoFA = memstore.NewTwoFAStore()
	}
}

// options posts to a ceremony's options endpoint and returns the
// publicKey object.
func (c *client) passkeyOptions(t *testing.T, path string, hdr ...string) map[string]any {
	t.Helper()
	r := c.json("POST", path, `{}`, hdr...)
	var body struct {
		PublicKey map[string]any `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); r.code != http.StatusOK || err != nil || body.PublicKey["challenge"] == nil {
		t.Fatalf("POST %s: %d %s", path, r.code, r.body)
	}
	return body.PublicKey
}

func TestPasskeyPagesAndScript(t *testing.T) {
	e := newEnv(t, withPasskeys(memstore.NewPasskeyStore()))
	e.addUser("ada")
	b := e.browser()
	r := b.get("/login")
	mustContain(t, "login page", r.body, `id="passkey-login"`, `<script src="/static/passkey.js?v=`)
	if csp := r.h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q, want script-src 'self' and nothing inline", csp)
	}
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " onclick=") {
		t.Error("the login page has inline script")
	}
	js := b.get("/static/passkey.js")
	if js.code != http.StatusOK || !strings.Contains(js.h.Get("Content-Type"), "javascript") || !strings.Contains(js.body, "navigator.credentials.get") {
		t.Errorf("GET /static/passkey.js: %d %q", js.code, js.h.Get("Content-Type"))
	}
	mustContain(t, "account page", e.loggedIn("ada").get("/account").body, `id="passkey-add"`, "You have no passkeys yet.")
	if r := e.browser().get("/account"); strings.Contains(r.body, "passkey.js") {
		t.Error("an anonymous redirect carries the script")
	}
}

func TestPasskeyRegistrationOptions(t *testing.T) {
	e := newEnv(t, withPasskeys(memstore.NewPasskeyStore()))
	u := e.addUser("ada")
	anon := e.browser()
	if r := anon.json("POST", "/account/passkeys/options", `{}`, "X-CSRF-Token", anon.csrfToken(), "Accept", "application/json"); r.code != http.StatusUnauthorized {
		t.Errorf("options anonymously: %d, want 401", r.code)
	}
	b := e.loggedIn("ada")
	if r := b.json("POST", "/account/passkeys/options", `{}`, "Accept", "application/json"); r.code != http.StatusForbidden {
		t.Errorf("options without a CSRF token: %d, want 403", r.code)
	}
	pk := b.passkeyOptions(t, "/account/passkeys/options", "X-CSRF-Token", b.csrfToken(), "Accept", "application/json")
	if rp, _ := pk["rp"].(map[string]any); rp["id"] != "localhost" {
		t.Errorf("rp = %v, want id localhost (the base URL's host)", pk["rp"])
	}
	sel, _ := pk["authenticatorSelection"].(map[string]any)
	if sel["residentKey"] != "required" {
		t.Errorf("authenticatorSelection = %v, want a discoverable credential", sel)
	}
	if ua, _ := pk["user"].(map[string]any); ua["name"] != "ada" {
		t.Errorf("user = %v, want ada", pk["user"])
	}
	_ = u
	// Fresh login required.
	e.clock.Advance(11 * time.Minute)
	if r := b.json("POST", "/account/passkeys/options", `{}`, "X-CSRF-Token", b.csrfToken(), "Accept", "application/json"); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "fresh_login_required") {
		t.Errorf("options without a fresh login: %d %s", r.code, r.body)
	}
}

// The challenge lives in the session that asked for it, and is taken
// by the first answer, right or wrong.
func TestPasskeyChallengeSingleUseAndBound(t *testing.T) {
	e := newEnv(t, withPasskeys(memstore.NewPasskeyStore()))
	e.addUser("ada")
	a := e.browser()
	if r := a.json("POST", "/api/passkey/login", `{"id":"x"}`); r.code == http.StatusOK || !strings.Contains(r.body, "no_challenge") {
		t.Errorf("finish without begin: %d %s, want no_challenge", r.code, r.body)
	}
	a.passkeyOptions(t, "/api/passkey/login/options")
	other := e.browser()
	if r := other.json("POST", "/api/passkey/login", `{"id":"x"}`); !strings.Contains(r.body, "no_challenge") {
		t.Errorf("another session finishing a's ceremony: %d %s, want no_challenge", r.code, r.body)
	}
	r := a.json("POST", "/api/passkey/login", `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`)
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "invalid_passkey") {
		t.Errorf("a forged assertion: %d %s, want 401 invalid_passkey", r.code, r.body)
	}
	if r := a.json("POST", "/api/passkey/login", `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`); !strings.Contains(r.body, "no_challenge") {
		t.Errorf("a second answer to one challenge: %d %s, want no_challenge", r.code, r.body)
	}
	if r := a.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("dashboard after failed passkey sign-ins: %d, want 303", r.code)
	}
	if r := a.send("POST", "/api/passkey/login/options", strings.NewReader(`{}`), "Content-Type", "text/plain"); r.code != http.StatusUnsupportedMediaType {
		t.Errorf("options as text/plain: %d, want 415", r.code)
	}
	if r := a.json("POST", "/api/passkey/login/options", `{}`, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.code != http.StatusForbidden {
		t.Errorf("options from another site: %d, want 403", r.code)
	}
}

func TestPasskeyAsSecondFactor(t *testing.T) {
	store := memstore.NewPasskeyStore()
	e := newEnv(t, withPasskeys(store))
	u := e.addUser("ada")
	if r := e.browser().json("POST", "/api/passkey/2fa/options", `{}`); r.code != http.StatusUnauthorized || !strings.Contains(r.body, "login_expired") {
		t.Errorf("2fa options without a pending login: %d %s", r.code, r.body)
	}
	store.AddCredential(t.Context(), &passkey.Credential{ID: []byte("cred-1"), UserID: u.ID, Name: "Laptop", CreatedAt: e.clock.Now(), Data: []byte(`{"id":"Y3JlZC0x","publicKey":"AA=="}`)})
	b := e.browser()
	b.password(t, "ada", nil)
	r := b.get("/login/2fa")
	mustContain(t, "second step", r.body, `id="passkey-2fa"`, "Confirm it is you", "passkey.js")
	mustNotContain(t, "second step", r.body, `name="code"`)
	pk := b.passkeyOptions(t, "/api/passkey/2fa/options")
	allow, _ := pk["allowCredentials"].([]any)
	if len(allow) != 1 {
		t.Errorf("allowCredentials = %v, want the user's one passkey", pk["allowCredentials"])
	}
	if r := b.json("POST", "/api/passkey/2fa", `{"id":"Y3JlZC0x","rawId":"Y3JlZC0x","type":"public-key","response":{}}`); r.code != http.StatusUnauthorized {
		t.Errorf("a forged assertion as second factor: %d %s, want 401", r.code, r.body)
	}
	if r := b.post("/login/2fa", url.Values{"code": {"123456"}}); r.code != http.StatusUnauthorized {
		t.Errorf("a code for a user with only a passkey: %d, want 401", r.code)
	}
	if r := b.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("dashboard: %d, want 303 (still pending)", r.code)
	}
	// Only the owner removes a passkey.
	e.addUser("bob")
	bob := e.loggedIn("bob")
	for _, id := range []string{"Y3JlZC0x", "bm9uZQ", "!!"} {
		if r := bob.post("/account/passkeys/"+id+"/remove", nil); r.code != http.StatusNotFound {
			t.Errorf("bob removes passkey %s: %d, want 404", id, r.code)
		}
	}
	if _, err := store.CredentialByID(t.Context(), []byte("cred-1")); err != nil {
		t.Errorf("ada's passkey after bob's attempts: %v", err)
	}
	mustContain(t, "audit log", e.logs.String(), `"2fa.failure"`)
}

// passkeyCeremony runs one ceremony as a browser does: it posts to the
// options endpoint, lets authenticator answer (create or get), and posts
// the answer to finish, returning the finish's response.
func (c *client) passkeyCeremony(t *testing.T, options, finish string, answer func([]byte) ([]byte, error), hdr ...string) resp {
	t.Helper()
	r := c.json("POST", options, `{}`, hdr...)
	if r.code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", options, r.code, r.body)
	}
	body, err := answer([]byte(r.body))
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	return c.json("POST", finish, string(body), hdr...)
}

// A passkey registered on the account page signs in alone (new session
// token), serves as the second factor after the password, and is refused
// when its counter goes back or the answer names another origin. The
// authenticator is passkeytest's software one (ES256, attestation none);
// Chromium's virtual authenticator does the same in e2e.
func TestPasskeyRoundTrip(t *testing.T) {
	store := memstore.NewPasskeyStore()
	e := newEnv(t, withPasskeys(store))
	e.addUser("ada")
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	auth := passkeytest.NewAuthenticator("http://localhost:" + port) // the base URL newEnv gives passkeys

	b := e.loggedIn("ada")
	csrf := func(c *client) []string { return []string{"X-CSRF-Token", c.csrfToken(), "Accept", "application/json"} }
	r := b.passkeyCeremony(t, "/account/passkeys/options", "/account/passkeys?name=Laptop", auth.Create, csrf(b)...)
	if r.code != http.StatusCreated || !strings.Contains(r.body, `"name":"Laptop"`) {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	mustContain(t, "account page", b.get("/account").body, "Laptop")

	// Sign in with the passkey alone, in a new browser.
	c := e.browser()
	r = c.passkeyCeremony(t, "/api/passkey/login/options", "/api/passkey/login?next=%2Faccount", auth.Get)
	if r.code != http.StatusOK || !strings.Contains(r.body, `"redirect":"/account"`) {
		t.Fatalf("sign in with the passkey: %d %s", r.code, r.body)
	}
	if r := c.get("/dashboard"); r.code != http.StatusOK || !strings.Contains(r.body, "Welcome ada!") {
		t.Fatalf("dashboard after a passkey sign-in: %d", r.code)
	}

	// The passkey is the second factor after the password.
	d := e.browser()
	d.password(t, "ada", nil)
	if r := d.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Fatalf("dashboard before the second factor: %d, want 303", r.code)
	}
	r = d.passkeyCeremony(t, "/api/passkey/2fa/options", "/api/passkey/2fa", auth.Get)
	if r.code != http.StatusOK {
		t.Fatalf("passkey as second factor: %d %s", r.code, r.body)
	}
	if r := d.get("/dashboard"); r.code != http.StatusOK {
		t.Fatalf("dashboard after the second factor: %d, want 200", r.code)
	}

	// A counter that goes back (a cloned key) is refused, and audited.
	auth.Credentials()[0].Counter = 0
	r = e.browser().passkeyCeremony(t, "/api/passkey/login/options", "/api/passkey/login", auth.Get)
	if r.code != http.StatusUnauthorized {
		t.Errorf("a counter gone back: %d %s, want 401", r.code, r.body)
	}
	mustContain(t, "audit log", e.logs.String(), `"passkey.clone"`)

	// An answer made for another origin (a phishing page) is refused.
	auth.Credentials()[0].Counter = 100
	auth.Origin = "https://evil.example"
	r = e.browser().passkeyCeremony(t, "/api/passkey/login/options", "/api/passkey/login", auth.Get)
	if r.code != http.StatusUnauthorized {
		t.Errorf("an answer for another origin: %d %s, want 401", r.code, r.body)
	}
}

// Removing a passkey can switch the second factor off, so it needs the
// password entered within FreshFor, as turning TOTP off does: an API
// token (even with the write scope) gets 401 fresh_login_required, a
// stale session is sent to log in again (or gets the 401 as JSON), and
// only a fresh session removes it.
func TestPasskeyRemoveNeedsFreshLogin(t *testing.T) {
	store := memstore.NewPasskeyStore()
	e := newEnv(t, withPasskeys(store))
	ada := e.addUser("ada")
	stale := e.loggedIn("ada")
	e.clock.Advance(11 * time.Minute)
	fresh := e.loggedIn("ada")
	// Added to the store behind the sessions' back, so both stay logged in.
	store.AddCredential(t.Context(), &passkey.Credential{ID: []byte("cred-1"), UserID: ada.ID, Name: "Laptop", CreatedAt: e.clock.Now(), Data: []byte(`{"id":"Y3JlZC0x","publicKey":"AA=="}`)})
	const remove = "/account/passkeys/Y3JlZC0x/remove"
	stillThere := func(t *testing.T, after string) {
		t.Helper()
		if _, err := store.CredentialByID(t.Context(), []byte("cred-1")); err != nil {
			t.Fatalf("ada's passkey after %s: %v, want it kept", after, err)
		}
	}

	t.Run("API token with the write scope", func(t *testing.T) {
		secret, _, err := e.tokens.Create(t.Context(), ada.ID, "deploy", []string{"read", "write"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		auth := []string{"Authorization", "Bearer " + secret}
		bearer := e.browser()
		mustContain(t, "GET /account with the token", bearer.get("/account", auth...).body, remove)
		r := bearer.send("POST", remove, nil, auth...)
		if r.code != http.StatusUnauthorized || decode(t, r)["error"] != "fresh_login_required" {
			t.Errorf("POST %s with a bearer token: %d %s, want 401 fresh_login_required", remove, r.code, r.body)
		}
		stillThere(t, "the token's request")
	})
	t.Run("stale session, browser then JSON", func(t *testing.T) {
		r := stale.post(remove, nil)
		if r.code != http.StatusSeeOther || r.location() != "/login?next=%2Faccount" {
			t.Errorf("POST %s 11 minutes after login: %d %q, want 303 /login?next=%%2Faccount", remove, r.code, r.location())
		}
		mustContain(t, "login page", stale.get(r.location()).body, "Please enter your password again to continue.")
		r = stale.form(remove, url.Values{"csrf_token": {stale.csrfToken()}}, "Accept", "application/json")
		if r.code != http.StatusUnauthorized || decode(t, r)["error"] != "fresh_login_required" {
			t.Errorf("POST %s from a JSON client 11 minutes after login: %d %s, want 401 fresh_login_required", remove, r.code, r.body)
		}
		stillThere(t, "the stale session's requests")
	})
	t.Run("fresh session", func(t *testing.T) {
		if r := fresh.post(remove, nil); r.code != http.StatusSeeOther || r.location() != "/account" {
			t.Fatalf("POST %s from a fresh login: %d %q, want 303 /account", remove, r.code, r.location())
		}
		if _, err := store.CredentialByID(t.Context(), []byte("cred-1")); err == nil {
			t.Error("ada's passkey is still there after a fresh removal")
		}
		mustContain(t, "audit log", e.logs.String(), `"passkey.remove"`)
	})
}

// A passkey is a second factor, so registering one ends the user's other
// sessions and remember-me tokens, as turning TOTP on does; the session
// that registered it stays logged in, under a new token.
func TestPasskeyRegistrationEndsOtherSessions(t *testing.T) {
	e := newEnv(t, withPasskeys(memstore.NewPasskeyStore()))
	e.addUser("ada")
	_, port, _ := net.SplitHostPort(e.srv.Listener.Addr().String())
	auth := passkeytest.NewAuthenticator("http://localhost:" + port)

	other := e.loggedIn("ada")
	remembered := e.browser()
	if r := remembered.post("/login", url.Values{"username": {"ada"}, "password": {goodPassword}, "remember": {"on"}}); r.code != http.StatusSeeOther {
		t.Fatalf("log in with remember-me: %d", r.code)
	}
	restored := remembered.withOnly(rememberCookie)
	b := e.loggedIn("ada")
	before := b.cookie(sessCookie)
	r := b.passkeyCeremony(t, "/account/passkeys/options", "/account/passkeys?name=Laptop", auth.Create,
		"X-CSRF-Token", b.csrfToken(), "Accept", "application/json")
	if r.code != http.StatusCreated {
		t.Fatalf("register: %d %s", r.code, r.body)
	}
	if r := other.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("another session after the passkey was added: %d, want 303 (ended)", r.code)
	}
	if r := restored.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("a remember-me cookie from before the passkey: %d, want 303 (ended)", r.code)
	}
	if got := b.cookie(sessCookie); got == "" || got == before {
		t.Errorf("the registering session's cookie %q, want a new token", got)
	}
	mustContain(t, "flash", b.flashes(), "Your other sessions have ended.")
	if r := b.get("/dashboard"); r.code != http.StatusOK {
		t.Errorf("the registering session: %d, want 200", r.code)
	}
	mustContain(t, "audit log", e.logs.String(), `"session.revoke"`, `"second_factor"`)
}

// The passkey of an account with no other way in (no password, no other
// passkey, no identity at a provider) is not removed: the account could
// only be recovered by mail, if at all.
func TestPasskeyRemoveKeepsLastWayIn(t *testing.T) {
	store := memstore.NewPasskeyStore()
	e := newEnv(t, withPasskeys(store))
	ada := e.addUser("ada")
	b := e.loggedIn("ada")
	add := func(id string) {
		store.AddCredential(t.Context(), &passkey.Credential{ID: []byte(id), UserID: ada.ID, Name: id, CreatedAt: e.clock.Now(),
			Data: []byte(`{"id":"` + base64.RawURLEncoding.EncodeToString([]byte(id)) + `","publicKey":"AA=="}`)})
	}
	remove := func(id string) resp {
		return b.post("/account/passkeys/"+base64.RawURLEncoding.EncodeToString([]byte(id))+"/remove", nil)
	}
	add("cred-1")
	if err := e.accounts.SetPassword(t.Context(), ada.ID, "", e.clock.Now()); err != nil { // signed up without one
		t.Fatal(err)
	}
	r := remove("cred-1")
	if r.code != http.StatusForbidden {
		t.Fatalf("removing the only way in: %d %q, want 403", r.code, r.location())
	}
	mustContain(t, "refusal", r.body, "This passkey is the only way into your account")
	if _, err := store.CredentialByID(t.Context(), []byte("cred-1")); err != nil {
		t.Fatalf("the only passkey after the refusal: %v, want it kept", err)
	}
	add("cred-2")
	if r := remove("cred-1"); r.code != http.StatusSeeOther {
		t.Errorf("removing one of two passkeys: %d %s, want 303", r.code, r.body)
	}
}
