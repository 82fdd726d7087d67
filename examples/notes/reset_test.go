package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/mail/mailtest"
	"github.com/hallpass/hallpass/recovery"
)

// startWithMail serves the app as start does, sending its mail through a
// real SMTP server (STARTTLS) started for the test.
func startWithMail(t *testing.T) (*httptest.Server, *mailtest.Server) {
	t.Helper()
	smtpd := mailtest.Start(t, mailtest.Options{STARTTLS: true})
	mailer, err := mail.NewSMTP(smtpd.URL(), "Notes <notes@example.com>", mail.SMTPOptions{TLSConfig: smtpd.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	return startWith(t, false, options{Mailer: mailer}), smtpd
}

var resetLinkRE = regexp.MustCompile(`http://[^\s]+/password/reset/([A-Za-z0-9_-]{43})`)

// TestForgotPassword follows "Forgot your password?" from the login page
// to the mail, through the link, to a login with the new password.
func TestForgotPassword(t *testing.T) {
	srv, smtpd := startWithMail(t)
	ada := newBrowser(t, srv)
	ada.register("ada") // logged in
	anon := newBrowser(t, srv)

	anon.want("login page", anon.get("/login"), http.StatusOK, "", `<a href="/password/forgot">Forgot your password?</a>`)
	anon.want("forgot page", anon.get("/password/forgot"), http.StatusOK, "", `action="/password/forgot"`, `name="email"`)

	// An unknown address first: the same answer as a known one, and no
	// mail (its request is handled before ada's, in order).
	for _, email := range []string{"nobody@example.com", "ada@example.com"} {
		resp := anon.post("/password/forgot", url.Values{"email": {email}}, "/password/forgot")
		anon.want("forgot "+email, resp, http.StatusSeeOther, "/login")
		anon.want("login page after "+email, anon.get("/login"), http.StatusOK, "", recovery.MsgResetSent)
	}
	msg := smtpd.Wait(t, "ada@example.com", 0)
	if n := smtpd.Count("nobody@example.com"); n != 0 {
		t.Errorf("%d messages to an address no account uses", n)
	}
	if !msg.TLS {
		t.Error("the mail was sent without STARTTLS")
	}
	m := resetLinkRE.FindStringSubmatch(msg.Text)
	if m == nil || !strings.HasPrefix(m[0], srv.URL+"/") {
		t.Fatalf("the mail has no reset link under %s:\n%s", srv.URL, msg.Text)
	}
	link := "/password/reset/" + m[1]

	anon.want("reset page", anon.get(link), http.StatusOK, "", "Choose a new password", "For ada.")
	// The policy refuses a short password, and the link still works.
	resp := anon.post(link, url.Values{"new_password": {"short"}}, link)
	anon.want("short password", resp, http.StatusUnprocessableEntity, "", "Choose a new password", "at least 8")
	resp = anon.post(link, url.Values{"new_password": {"a brand new passphrase"}}, link)
	anon.want("reset", resp, http.StatusSeeOther, "/login")
	anon.want("login page after the reset", anon.get("/login"), http.StatusOK, "", "Your password has been reset.")

	// The link worked once, and ada's session ended with the reset.
	anon.want("link again", anon.get(link), http.StatusBadRequest, "", recovery.MsgInvalidLink, `<a href="/password/forgot">`)
	resp = anon.post(link, url.Values{"new_password": {"another new passphrase"}}, "/password/forgot")
	anon.want("post to a used link", resp, http.StatusBadRequest, "", recovery.MsgInvalidLink)
	ada.want("ada's old session", ada.get("/notes"), http.StatusSeeOther, "/login?next=%2Fnotes")

	login := func(pw string) *http.Response {
		return anon.post("/login", url.Values{"username": {"ada"}, "password": {pw}}, "/login")
	}
	anon.want("old password", login("correct horse battery"), http.StatusUnauthorized, "")
	anon.want("new password", login("a brand new passphrase"), http.StatusSeeOther, "/notes")
}

// TestForgotPasswordRefuses checks the answers to bad requests.
func TestForgotPasswordRefuses(t *testing.T) {
	srv, _ := startWithMail(t)
	b := newBrowser(t, srv)
	tests := []struct {
		name   string
		resp   func() *http.Response
		status int
		text   string
	}{
		{"not an email address", func() *http.Response {
			return b.post("/password/forgot", url.Values{"email": {"not an address"}}, "/password/forgot")
		}, http.StatusUnprocessableEntity, "Forgot your password?"},
		{"no CSRF token", func() *http.Response {
			return b.post("/password/forgot", url.Values{"email": {"ada@example.com"}}, "")
		}, http.StatusForbidden, ""},
		{"a link that was never sent", func() *http.Response {
			return b.get("/password/reset/nuOxNQUwJEtckIUQLAc1-TYCfVr_pDjxN494iJDHaFg")
		}, http.StatusBadRequest, recovery.MsgInvalidLink},
		{"a link that is not a link", func() *http.Response { return b.get("/password/reset/%3Cscript%3E") },
			http.StatusBadRequest, recovery.MsgInvalidLink},
		{"a reset without a CSRF token", func() *http.Response {
			return b.post("/password/reset/nuOxNQUwJEtckIUQLAc1-TYCfVr_pDjxN494iJDHaFg", url.Values{"new_password": {"a brand new passphrase"}}, "")
		}, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.t = t
			resp := tt.resp()
			b.want(tt.name, resp, tt.status, "", tt.text)
		})
	}
}
