package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/twofa"
)

var secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// The user enrols TOTP on the server; users list shows it; the operator
// removes it with users reset-2fa (audited), and the password alone logs
// in again. HALLPASS_REQUIRE_2FA_FOR sends an admin to enrolment first.
func TestCLIReset2FA(t *testing.T) {
	c := newCLI(t)
	c.env["HALLPASS_REQUIRE_2FA_FOR"] = "Admin"
	c.ok("correct horse battery\n", "users", "add", "ada", "--email", "ada@example.com", "--password-stdin", "--role", "admin")
	srv := c.serve()
	b := newBrowser(t)
	if r := b.form(srv.URL, "/login", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("log in: %d", r.Code)
	}
	if r := b.do("GET", srv.URL+"/dashboard", nil); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/account/2fa" {
		t.Errorf("dashboard of an admin without a second factor: %d %q, want 303 /account/2fa", r.Code, r.Header.Get("Location"))
	}
	r := b.do("GET", srv.URL+"/account/2fa", nil)
	m := secretRE.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("GET /account/2fa: %d, no secret", r.Code)
	}
	code, _ := twofa.Code(m[1], time.Now())
	if r := b.form(srv.URL, "/account/2fa", "/account/2fa/totp", url.Values{"code": {code}}); r.Code != http.StatusOK || !strings.Contains(r.Body, "recovery codes") {
		t.Fatalf("enrol: %d\n%s", r.Code, r.Body)
	}
	if r := b.do("GET", srv.URL+"/admin", nil); r.Code != http.StatusOK {
		t.Errorf("admin page after enrolling: %d, want 200", r.Code)
	}
	if out := c.ok("", "users", "list"); !regexp.MustCompile(`2FA`).MatchString(out) || !regexp.MustCompile(`ada\s.*\byes\s+yes\b|ada\s.*\bno\s+yes\b`).MatchString(out) {
		t.Errorf("users list does not show ada's second factor:\n%s", out)
	}
	if out := c.ok("", "users", "list", "-o", "json"); !strings.Contains(out, `"second_factor":true`) {
		t.Errorf("users list -o json: %s", out)
	}
	r2 := newBrowser(t).form(srv.URL, "/login", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}})
	if r2.Code != http.StatusSeeOther || r2.Header.Get("Location") != "/login/2fa" {
		t.Errorf("login with a second factor: %d %q, want 303 /login/2fa", r2.Code, r2.Header.Get("Location"))
	}

	out, errOut, err := c.exec("", "users", "reset-2fa", "ada")
	if err != nil || !strings.Contains(out, "removed the second factors (TOTP, passkeys) of ada") {
		t.Fatalf("reset-2fa: %v %q", err, out)
	}
	if !strings.Contains(errOut, "2fa.disable") || !strings.Contains(errOut, "reset") {
		t.Errorf("reset-2fa not audited:\n%s", errOut)
	}
	wantLoggedOut(t, b, srv.URL, "the session that enrolled, after reset-2fa")
	if msg, _ := c.fails("", "users", "reset-2fa", "ada"); !strings.Contains(msg, "no second factor") {
		t.Errorf("reset-2fa twice: %q", msg)
	}
	if msg, _ := c.fails("", "users", "reset-2fa", "nobody"); !strings.Contains(msg, `no user named "nobody"`) {
		t.Errorf("reset-2fa of an unknown user: %q", msg)
	}
	// The password alone logs in again, and the admin must enrol first.
	b = newBrowser(t)
	if r := b.form(srv.URL, "/login", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/dashboard" {
		t.Errorf("login after reset-2fa: %d %q, want 303 /dashboard", r.Code, r.Header.Get("Location"))
	}
	if r := b.do("GET", srv.URL+"/dashboard", nil); r.Header.Get("Location") != "/account/2fa" {
		t.Errorf("dashboard after reset-2fa: %d %q, want 303 /account/2fa", r.Code, r.Header.Get("Location"))
	}
}

// users reset-2fa removes passkeys from the store whatever the command's
// base URL: with an IP address (where the server turns passkeys off) it
// once skipped them while saying they were removed. No passkey warning
// either: a command serves no one.
func TestCLIReset2FAPasskeys(t *testing.T) {
	c := newCLI(t)
	c.ok("correct horse battery\n", "users", "add", "ada", "--email", "ada@example.com", "--password-stdin")
	ada, err := c.accounts().UserByUsername(context.Background(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	db := c.db()
	cred := &passkey.Credential{ID: []byte("a credential ID"), UserID: ada.ID, Name: "Phone", CreatedAt: time.Now(), Data: []byte("{}")}
	if err := db.Passkeys().AddCredential(context.Background(), cred); err != nil {
		t.Fatal(err)
	}

	c.env["HALLPASS_BASE_URL"] = "http://127.0.0.1:8080"
	out, errOut, err := c.exec("", "users", "reset-2fa", "ada")
	if err != nil || !strings.Contains(out, "removed the second factors") {
		t.Fatalf("reset-2fa: %v %q %q", err, out, errOut)
	}
	if left, err := db.Passkeys().CredentialsByUser(context.Background(), ada.ID); err != nil || len(left) != 0 {
		t.Errorf("passkeys of ada after reset-2fa: %d, %v; want none", len(left), err)
	}
	if !strings.Contains(errOut, "passkey.remove") || strings.Contains(errOut, "passkeys: off") {
		t.Errorf("reset-2fa's log: want the removal audited and no passkey warning:\n%s", errOut)
	}
}
