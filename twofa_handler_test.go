package hallpass_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/twofa"
)

// An app mounts TwoFAHandler and guards a route with
// RequireSecondFactor: ada enrols, logs in again with her password and a
// code; bob, without a second factor, is sent to enrol.
func TestTwoFAHandler(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	auth, _ := newAuth(t, "http://localhost", func(c *hallpass.Config) { c.TwoFA = memstore.NewTwoFAStore(); c.Now = clock })
	mux := http.NewServeMux()
	mux.Handle("/", app(t, auth))
	inner := http.NewServeMux()
	inner.Handle("/2fa/", http.StripPrefix("/2fa", auth.TwoFAHandler()))
	inner.Handle("GET /secret", auth.RequireSecondFactor("/2fa-setup")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret of "+auth.CurrentUser(r).Username)
	})))
	mux.Handle("/2fa/", auth.Handler(inner))
	mux.Handle("/secret", auth.Handler(inner))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	c := newClient(t, srv)
	c.login("ada")
	if resp := c.do("GET", "/secret", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/2fa-setup" {
		t.Errorf("GET /secret before enrolling = %d %q, want 303 /2fa-setup", resp.StatusCode, resp.Header.Get("Location"))
	}
	c.do("GET", "/2fa/enrol", nil)
	var enrol struct{ Secret, URI string }
	if err := json.Unmarshal([]byte(c.body), &enrol); err != nil || enrol.Secret == "" {
		t.Fatalf("GET /2fa/enrol: %s", c.body)
	}
	if resp := c.do("POST", "/2fa/enable", url.Values{"code": {"000000"}, "csrf_token": {c.token()}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("enable with a wrong code = %d, want 401", resp.StatusCode)
	}
	code, _ := twofa.Code(enrol.Secret, now)
	if resp := c.do("POST", "/2fa/enable", url.Values{"code": {code}, "csrf_token": {c.token()}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("enable = %d %s", resp.StatusCode, c.body)
	}
	var codes struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if json.Unmarshal([]byte(c.body), &codes); len(codes.RecoveryCodes) != twofa.RecoveryCodeCount {
		t.Errorf("enable returned %s, want %d recovery codes", c.body, twofa.RecoveryCodeCount)
	}
	if resp := c.do("GET", "/secret", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /secret after enrolling = %d, want 200", resp.StatusCode)
	}

	d := newClient(t, srv)
	resp := d.do("POST", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}, "csrf_token": {d.token()}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("password login of a user with a second factor = %d, want 401 (second_factor_required)", resp.StatusCode)
	}
	if resp := d.do("GET", "/secret", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fsecret" {
		t.Errorf("GET /secret while pending = %d %q, want 303 to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	next, _ := twofa.Code(enrol.Secret, now.Add(twofa.Period))
	if resp := d.do("POST", "/2fa/verify", url.Values{"code": {next}, "csrf_token": {d.token()}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("verify = %d %s", resp.StatusCode, d.body)
	}
	if resp := d.do("GET", "/secret", nil); resp.StatusCode != http.StatusOK || d.body != "secret of ada" {
		t.Errorf("GET /secret after both factors = %d %q", resp.StatusCode, d.body)
	}
	if resp := c.do("GET", "/secret", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the enrolling session after another login = %d, want 200", resp.StatusCode)
	}

	b := newClient(t, srv)
	b.login("bob")
	if resp := b.do("GET", "/secret", nil, "Accept", "application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bob's API request to /secret = %d, want 401 second_factor_required", resp.StatusCode)
	}
}
