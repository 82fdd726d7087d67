package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

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
