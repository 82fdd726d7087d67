package hallpass_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/passkey/passkeytest"
)

// post sends body as JSON with the page's CSRF token, as an app's script
// does, and keeps the answer in c.body.
func (c *client) postJSON(path, body string) *http.Response {
	c.t.Helper()
	token := c.token()
	return c.send("POST", path, strings.NewReader(body), "Content-Type", "application/json", "X-CSRF-Token", token)
}

// ceremony posts to options, lets the authenticator answer, and posts the
// answer to finish.
func (c *client) ceremony(options, finish string, answer func([]byte) ([]byte, error)) *http.Response {
	c.t.Helper()
	if resp := c.postJSON(options, `{}`); resp.StatusCode != http.StatusOK {
		c.t.Fatalf("POST %s = %d %s", options, resp.StatusCode, c.body)
	}
	body, err := answer([]byte(c.body))
	if err != nil {
		c.t.Fatalf("authenticator: %v", err)
	}
	return c.postJSON(finish, string(body))
}

// An app mounts PasskeyHandler: ada registers a passkey, lists it, signs
// in with it alone in another browser, uses it as the second factor after
// her password, and removes it; a replayed challenge, a counter gone back
// and a stranger's removal are refused.
func TestPasskeyHandler(t *testing.T) {
	auth, _ := newAuth(t, "http://localhost", func(c *hallpass.Config) {
		c.Passkeys = memstore.NewPasskeyStore()
	})
	inner := http.NewServeMux()
	inner.Handle("/passkeys/", http.StripPrefix("/passkeys", auth.PasskeyHandler()))
	mux := http.NewServeMux()
	mux.Handle("/", app(t, auth))
	mux.Handle("/passkeys/", auth.Handler(inner))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	key := passkeytest.NewAuthenticator("http://localhost")

	c := newClient(t, srv)
	if resp := c.postJSON("/passkeys/register/options", `{}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("register options anonymously = %d, want 401", resp.StatusCode)
	}
	c.login("ada")
	other := newClient(t, srv)
	other.login("ada")
	if resp := other.do("POST", "/post", url.Values{"csrf_token": {other.token()}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("another session of ada's = %d, want 200", resp.StatusCode)
	}
	if resp := c.ceremony("/passkeys/register/options", "/passkeys/register?name=Laptop", key.Create); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d %s", resp.StatusCode, c.body)
	}
	// A second factor now: the session that passed none elsewhere ends.
	if resp := other.do("POST", "/post", url.Values{"csrf_token": {other.token()}}); resp.StatusCode == http.StatusOK {
		t.Errorf("another session of ada's after the passkey was added = %d, want it ended", resp.StatusCode)
	}
	c.do("GET", "/passkeys/", nil)
	var list []struct{ ID, Name string }
	if err := json.Unmarshal([]byte(c.body), &list); err != nil || len(list) != 1 || list[0].Name != "Laptop" {
		t.Fatalf("GET /passkeys/ = %s, want the one passkey", c.body)
	}

	// Sign in with the passkey alone; the challenge works once.
	d := newClient(t, srv)
	if resp := d.ceremony("/passkeys/login/options", "/passkeys/login", key.Get); resp.StatusCode != http.StatusOK || !strings.Contains(d.body, `"username":"ada"`) {
		t.Fatalf("passkey sign-in = %d %s", resp.StatusCode, d.body)
	}
	if resp := d.do("POST", "/post", url.Values{"csrf_token": {d.token()}}); resp.StatusCode != http.StatusOK {
		t.Errorf("a page after the passkey sign-in = %d, want 200", resp.StatusCode)
	}
	e := newClient(t, srv)
	e.postJSON("/passkeys/login/options", `{}`)
	answer, _ := key.Get([]byte(e.body))
	e.postJSON("/passkeys/login", string(answer))
	if resp := e.postJSON("/passkeys/login", string(answer)); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("the same answer twice = %d %s, want 422 (the challenge is used up)", resp.StatusCode, e.body)
	}

	// After the password, the passkey is the second factor.
	f := newClient(t, srv)
	if resp := f.do("POST", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}, "csrf_token": {f.token()}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("password login of a user with a passkey = %d, want 401 second_factor_required", resp.StatusCode)
	}
	if resp := f.ceremony("/passkeys/verify/options", "/passkeys/verify", key.Get); resp.StatusCode != http.StatusOK {
		t.Fatalf("passkey as second factor = %d %s", resp.StatusCode, f.body)
	}

	// A counter gone back is a cloned key.
	key.Credentials()[0].Counter = 0
	if resp := newClient(t, srv).ceremony("/passkeys/login/options", "/passkeys/login", key.Get); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a counter gone back = %d, want 401", resp.StatusCode)
	}

	// Only the owner removes it.
	g := newClient(t, srv)
	auth.LoginManager().Register(t.Context(), "bob", "bob@example.com", "correct horse battery")
	g.login("bob")
	if resp := g.postJSON("/passkeys/"+list[0].ID+"/remove", ``); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob removes ada's passkey = %d, want 404", resp.StatusCode)
	}
	if resp := c.postJSON("/passkeys/"+list[0].ID+"/remove", ``); resp.StatusCode != http.StatusNoContent {
		t.Errorf("ada removes her passkey = %d %s, want 204", resp.StatusCode, c.body)
	}
	c.do("GET", "/passkeys/", nil)
	if strings.TrimSpace(c.body) != "[]" {
		t.Errorf("after removal: %s, want []", c.body)
	}
}
