package web_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/mail/mailtest"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/recovery"
)

// newMailEnv is newEnv with the server's mail sent through SMTP, with
// STARTTLS and AUTH, to a real SMTP server that the test reads (e.mail),
// and the options opts.
func newMailEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{STARTTLS: true, User: "hallpass", Password: "mail secret"})
	smtp, err := mail.NewSMTP(srv.URL(), "Hallpass <login@example.com>", mail.SMTPOptions{TLSConfig: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.NewRecoveryStore()
	withMail := func(c *server.Config) {
		q := mail.NewQueue(smtp, mail.QueueOptions{Backoff: 10 * time.Millisecond, Logger: c.Logger})
		t.Cleanup(func() { q.Close(context.Background()) })
		c.Mailer, c.Recovery = q, store
	}
	e := newEnv(t, append([]envOption{withMail}, opts...)...)
	e.mail, e.recStore = srv, store
	return e
}

// requireVerified turns on HALLPASS_REQUIRE_VERIFIED_EMAIL.
func requireVerified(c *server.Config) { c.RequireVerifiedEmail = true }

// tokenOf returns the token at the end of a link.
func tokenOf(link string) string { return link[strings.LastIndexByte(link, '/')+1:] }

// pathOf returns the path of a link to the test server.
func (e *env) pathOf(link string) string {
	e.t.Helper()
	if !strings.HasPrefix(link, e.srv.URL+"/") {
		e.t.Fatalf("link %q does not start with the server's URL %s", link, e.srv.URL)
	}
	return strings.TrimPrefix(link, e.srv.URL)
}

// flashes returns the flash messages shown by the next page b loads.
func (b *client) flashes() string {
	b.e.t.Helper()
	body := b.get("/login").body
	var out []string
	for _, part := range strings.Split(body, `role="status">`)[1:] {
		out = append(out, part[:strings.Index(part, "<")])
	}
	return strings.Join(out, "|")
}

func TestForgotPasswordFlow(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")

	// A session elsewhere, with remember-me, and an API token: the reset
	// ends them all.
	other := e.browser()
	if r := other.post("/login", url.Values{"username": {"ada"}, "password": {goodPassword}, "remember": {"on"}}); r.code != http.StatusSeeOther {
		t.Fatalf("login: %d", r.code)
	}
	token := other.apiToken(t)

	b := e.browser()
	if r := b.get("/login"); !strings.Contains(r.body, `<a href="/password/forgot">Forgot your password?</a>`) {
		t.Errorf("login page lacks the forgot-password link:\n%s", r.body)
	}
	if r := b.get("/password/forgot"); r.code != http.StatusOK || !strings.Contains(r.body, `name="email"`) {
		t.Fatalf("GET /password/forgot = %d:\n%s", r.code, r.body)
	}
	r := b.post("/password/forgot", url.Values{"email": {"ADA@example.com"}})
	if r.code != http.StatusSeeOther || r.location() != "/login" {
		t.Fatalf("POST /password/forgot = %d to %q, want 303 to /login", r.code, r.location())
	}
	if got := b.flashes(); got != recovery.MsgResetSent {
		t.Errorf("flash = %q, want %q", got, recovery.MsgResetSent)
	}

	msg := e.mail.Wait(t, "ada@example.com", 0)
	t.Logf("delivered message:\n%s", msg.Raw)
	if !msg.TLS || msg.Auth != "hallpass" {
		t.Errorf("delivered with TLS %v, auth %q; want STARTTLS and AUTH", msg.TLS, msg.Auth)
	}
	if got := msg.Header.Get("Subject"); got != "Reset your hallpass password" {
		t.Errorf("Subject = %q", got)
	}
	link := msg.Link(t, "/password/reset/")
	if secret := tokenOf(link); len(secret) != 43 {
		t.Errorf("token %q is %d characters, want 43 (256 bits, base64url)", secret, len(secret))
	}
	if !strings.Contains(msg.HTML, `href="`+link+`"`) {
		t.Errorf("HTML part lacks the link:\n%s", msg.HTML)
	}
	path := e.pathOf(link)

	// The link shows a form; a password the policy refuses keeps it.
	if r := b.get(path); r.code != http.StatusOK || !strings.Contains(r.body, "ada") || !strings.Contains(r.body, `name="new_password"`) {
		t.Fatalf("GET reset link = %d:\n%s", r.code, r.body)
	}
	if r := b.post(path, url.Values{"new_password": {"short"}}); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "at least 8") {
		t.Fatalf("short password: %d, want 422 with the policy's message:\n%s", r.code, r.body)
	}
	const newPassword = "a brand new passphrase"
	r = b.post(path, url.Values{"new_password": {newPassword}})
	if r.code != http.StatusSeeOther || r.location() != "/login" {
		t.Fatalf("POST reset = %d to %q, want 303 to /login", r.code, r.location())
	}
	if got := b.flashes(); !strings.Contains(got, "Your password has been reset") {
		t.Errorf("flash after reset = %q", got)
	}
	// Not logged in by the link alone.
	if r := b.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("dashboard after reset = %d, want 303 to log in", r.code)
	}

	// Every session, remember-me token and API token of the user ended.
	if r := other.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("the other session still works after the reset: %d", r.code)
	}
	if r := other.withOnly(rememberCookie).get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("the remember-me cookie still works after the reset: %d", r.code)
	}
	if r := e.browser().get("/api/me", "Authorization", "Bearer "+token); r.code != http.StatusUnauthorized {
		t.Errorf("the API token still works after the reset: %d", r.code)
	}

	// The new password logs in, the old one does not.
	if r := e.browser().login("ada", goodPassword); r.code != http.StatusUnauthorized {
		t.Errorf("old password: %d, want 401", r.code)
	}
	if r := e.browser().login("ada", newPassword); r.code != http.StatusSeeOther {
		t.Errorf("new password: %d, want 303", r.code)
	}

	// Single use.
	for _, method := range []string{"GET", "POST"} {
		var r resp
		if method == "GET" {
			r = b.get(path)
		} else {
			r = b.post(path, url.Values{"new_password": {"yet another passphrase"}})
		}
		if r.code != http.StatusBadRequest || !strings.Contains(r.body, recovery.MsgInvalidLink) || !strings.Contains(r.body, `href="/password/forgot"`) {
			t.Errorf("%s of a used link = %d, want 400 with %q and a link to ask again:\n%s", method, r.code, recovery.MsgInvalidLink, r.body)
		}
	}

	// The token reached no log line; the audit trail has each step.
	secret := tokenOf(link)
	if strings.Contains(e.logs.String(), secret) {
		t.Errorf("the logs hold the reset token")
	}
	for _, ev := range []string{"password.reset.request", "password.reset.sent", "password.reset.used", "password.change"} {
		if len(e.logLines(ev)) == 0 {
			t.Errorf("no audit event %s", ev)
		}
	}
}

// apiToken creates an API token for the logged-in browser c.
func (c *client) apiToken(t *testing.T) string {
	t.Helper()
	r := c.json("POST", "/api/tokens", `{"name":"script"}`, "X-CSRF-Token", c.apiCSRF(t))
	if r.code != http.StatusCreated {
		t.Fatalf("POST /api/tokens = %d %s", r.code, r.body)
	}
	return decode(t, r)["token"].(string)
}

// apiCSRF returns the CSRF token of c's session, from GET /api/session.
func (c *client) apiCSRF(t *testing.T) string {
	t.Helper()
	r := c.get("/api/session", "Accept", "application/json")
	return decode(t, r)["csrf_token"].(string)
}

func TestForgotPasswordNoEnumeration(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")
	off := e.addUser("eve")
	if err := e.lm.SetDisabled(context.Background(), "", off.ID, true); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		code     int
		location string
		flash    string
		api      int
		apiBody  string
	}
	ask := func(email string) answer {
		b := e.browser()
		r := b.post("/password/forgot", url.Values{"email": {email}})
		a := answer{code: r.code, location: r.location(), flash: b.flashes()}
		r = e.browser().json("POST", "/api/password/forgot", `{"email":"`+email+`"}`)
		a.api, a.apiBody = r.code, r.body
		return a
	}
	unknown := ask("nobody@example.com")
	disabled := ask("eve@example.com")
	known := ask("ada@example.com")
	if unknown != known || disabled != known {
		t.Errorf("answers differ:\nunknown  %+v\ndisabled %+v\nknown    %+v", unknown, disabled, known)
	}
	if known.code != http.StatusSeeOther || known.api != http.StatusAccepted {
		t.Errorf("known address: %+v, want 303 and 202", known)
	}
	// Requests are handled in order, so once ada's second message (the
	// API's) is here, the others have been handled too.
	e.mail.Wait(t, "ada@example.com", 1)
	for _, addr := range []string{"nobody@example.com", "eve@example.com"} {
		if n := e.mail.Count(addr); n != 0 {
			t.Errorf("%d messages to %s, want none", n, addr)
		}
	}
	reasons := map[string]bool{}
	for _, rec := range e.logLines("password.reset.request") {
		reasons[str(rec["reason"])] = true
	}
	for _, want := range []string{"unknown_address", "disabled", ""} {
		if !reasons[want] {
			t.Errorf("no password.reset.request event with reason %q (have %v)", want, reasons)
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestForgotPasswordLimits(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")
	e.addUser("bob")
	for range 5 {
		if r := e.browser().post("/password/forgot", url.Values{"email": {"ada@example.com"}}); r.code != http.StatusSeeOther {
			t.Fatalf("forgot: %d", r.code)
		}
	}
	// Requests are handled one at a time, in order: once bob's link is
	// here, every request for ada has been decided (their mail may still
	// be on its way).
	e.browser().post("/password/forgot", url.Values{"email": {"bob@example.com"}})
	e.mail.Wait(t, "bob@example.com", 0)
	sent, throttled := 0, 0
	for _, rec := range e.logLines("password.reset.request") {
		switch rec["reason"] {
		case "throttled":
			throttled++
		case nil:
			sent++
		}
	}
	if sent != 4 || throttled != 2 {
		t.Errorf("request events: %d sent (ada and bob), %d throttled; want 4 and 2 (3 a hour to one address)", sent, throttled)
	}
	e.mail.Wait(t, "ada@example.com", 2)
	if n := e.mail.Count("ada@example.com"); n != 3 {
		t.Errorf("%d reset messages to one address after 5 requests, want 3 (the per-address limit)", n)
	}
	// Malformed addresses are the form's problem, not an account's.
	if r := e.browser().post("/password/forgot", url.Values{"email": {"not an address"}}); r.code != http.StatusUnprocessableEntity {
		t.Errorf("malformed address: %d, want 422", r.code)
	}
}

func TestResetLinkExpires(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")
	e.browser().post("/password/forgot", url.Values{"email": {"ada@example.com"}})
	path := e.pathOf(e.mail.Wait(t, "ada@example.com", 0).Link(t, "/password/reset/"))
	e.clock.Advance(59 * time.Minute)
	if r := e.browser().get(path); r.code != http.StatusOK {
		t.Fatalf("after 59 minutes: %d, want the form", r.code)
	}
	e.clock.Advance(time.Minute)
	b := e.browser()
	if r := b.get(path); r.code != http.StatusBadRequest || !strings.Contains(r.body, recovery.MsgInvalidLink) {
		t.Errorf("after an hour: %d, want 400:\n%s", r.code, r.body)
	}
	if r := b.post(path, url.Values{"new_password": {"a brand new passphrase"}}); r.code != http.StatusBadRequest {
		t.Errorf("POST after an hour: %d, want 400", r.code)
	}
	if r := e.browser().login("ada", goodPassword); r.code != http.StatusSeeOther {
		t.Errorf("the password changed through an expired link: login %d", r.code)
	}
	if len(e.logLines("password.reset.expired")) == 0 {
		t.Error("no password.reset.expired event")
	}
}

func TestResetLinkVoidedByPasswordChange(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")
	e.browser().post("/password/forgot", url.Values{"email": {"ada@example.com"}})
	path := e.pathOf(e.mail.Wait(t, "ada@example.com", 0).Link(t, "/password/reset/"))
	e.clock.Advance(time.Second)
	b := e.loggedIn("ada")
	if r := b.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {"changed the usual way"}}); r.code != http.StatusSeeOther {
		t.Fatalf("change password: %d", r.code)
	}
	for _, do := range []func() resp{
		func() resp { return e.browser().get(path) },
		func() resp { return e.browser().post(path, url.Values{"new_password": {"a brand new passphrase"}}) },
		func() resp {
			return e.browser().json("POST", "/api/password/reset", `{"token":"`+tokenOf(path)+`","new_password":"a brand new passphrase"}`)
		},
	} {
		if r := do(); r.code != http.StatusBadRequest {
			t.Errorf("link after a password change: %d, want 400", r.code)
		}
	}
}

func TestAPIPasswordReset(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")
	r := e.browser().json("POST", "/api/password/forgot", `{"email":"ada@example.com"}`)
	if r.code != http.StatusAccepted {
		t.Fatalf("POST /api/password/forgot = %d %s", r.code, r.body)
	}
	secret := tokenOf(e.mail.Wait(t, "ada@example.com", 0).Link(t, "/password/reset/"))
	body := `{"token":"` + secret + `","new_password":"a brand new passphrase"}`
	if r := e.browser().json("POST", "/api/password/reset", `{"token":"`+secret+`","new_password":"x"}`); r.code != http.StatusUnprocessableEntity {
		t.Errorf("short password: %d %s, want 422", r.code, r.body)
	}
	if r := e.browser().json("POST", "/api/password/reset", body); r.code != http.StatusNoContent {
		t.Fatalf("POST /api/password/reset = %d %s, want 204", r.code, r.body)
	}
	for _, b := range []string{body, `{"token":"nonsense","new_password":"a brand new passphrase"}`, `{}`} {
		r := e.browser().json("POST", "/api/password/reset", b)
		if r.code != http.StatusBadRequest || decode(t, r)["error"] != "invalid_token" {
			t.Errorf("POST /api/password/reset %s = %d %s, want 400 invalid_token", b, r.code, r.body)
		}
	}
	if r := e.browser().login("ada", "a brand new passphrase"); r.code != http.StatusSeeOther {
		t.Errorf("login with the new password: %d", r.code)
	}
	// A cross-site form cannot post to the JSON endpoints.
	r = e.browser().send("POST", "/api/password/forgot", strings.NewReader("email=ada@example.com"), "Content-Type", "application/x-www-form-urlencoded")
	if r.code != http.StatusUnsupportedMediaType {
		t.Errorf("form body to /api/password/forgot: %d, want 415", r.code)
	}
	r = e.browser().json("POST", "/api/password/forgot", `{"email":"ada@example.com"}`, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.code != http.StatusForbidden {
		t.Errorf("cross-origin POST /api/password/forgot: %d, want 403", r.code)
	}
}

// register signs up name through the form with browser b.
func (e *env) register(b *client, name string) {
	e.t.Helper()
	r := b.post("/register", url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {goodPassword}})
	if r.code != http.StatusSeeOther {
		e.t.Fatalf("register %s: %d %s", name, r.code, r.body)
	}
}

func TestEmailVerification(t *testing.T) {
	e := newMailEnv(t)
	b := e.browser()
	e.register(b, "ada")
	if got := b.flashes(); !strings.Contains(got, "We have sent a link to ada@example.com") {
		t.Errorf("flash after registration = %q", got)
	}
	msg := e.mail.Wait(t, "ada@example.com", 0)
	if got := msg.Header.Get("Subject"); got != "Confirm your email address for hallpass" {
		t.Errorf("Subject = %q", got)
	}
	path := e.pathOf(msg.Link(t, "/verify/"))

	b = e.loggedIn("ada")
	if r := b.get("/account"); !strings.Contains(r.body, "not verified") || !strings.Contains(r.body, `action="/verify/resend"`) {
		t.Errorf("account page before verification:\n%s", r.body)
	}
	// Resend, limited: three more an hour besides the registration's link.
	for i, want := range []string{"We have sent a new link", "We have sent a new link", "We have sent a new link", "Too many emails"} {
		if r := b.post("/verify/resend", nil); r.code != http.StatusSeeOther {
			t.Fatalf("resend %d: %d", i+1, r.code)
		}
		if r := b.get("/account"); !strings.Contains(r.body, want) {
			t.Errorf("resend %d: account page lacks %q", i+1, want)
		}
	}
	e.mail.Wait(t, "ada@example.com", 3)

	// The first link still works (each link lives 24 hours), once.
	r := b.get(path)
	if r.code != http.StatusSeeOther || r.location() != "/account" {
		t.Fatalf("GET verify link = %d to %q", r.code, r.location())
	}
	if r := b.get("/account"); !strings.Contains(r.body, "is confirmed") || !strings.Contains(r.body, `<span class="badge">verified</span>`) {
		t.Errorf("account page after verification:\n%s", r.body)
	}
	if r := b.get(path); r.code != http.StatusBadRequest || !strings.Contains(r.body, recovery.MsgInvalidLink) {
		t.Errorf("reused verify link: %d, want 400", r.code)
	}
	// Another link, expired after 24 hours, through the API.
	other := e.pathOf(e.mail.Wait(t, "ada@example.com", 1).Link(t, "/verify/"))
	e.clock.Advance(24 * time.Hour)
	if r := e.browser().json("POST", "/api/email/verify", `{"token":"`+tokenOf(other)+`"}`); r.code != http.StatusBadRequest {
		t.Errorf("expired link through the API: %d, want 400", r.code)
	}
	if len(e.logLines("email.verify.expired")) == 0 {
		t.Error("no email.verify.expired event")
	}
}

func TestAPIEmailVerify(t *testing.T) {
	e := newMailEnv(t)
	e.register(e.browser(), "ada")
	secret := tokenOf(e.mail.Wait(t, "ada@example.com", 0).Link(t, "/verify/"))
	if r := e.browser().json("POST", "/api/email/verify", `{"token":"`+secret+`"}`); r.code != http.StatusNoContent {
		t.Fatalf("POST /api/email/verify = %d %s, want 204", r.code, r.body)
	}
	r := e.browser().json("POST", "/api/email/verify", `{"token":"`+secret+`"}`)
	if r.code != http.StatusBadRequest || decode(t, r)["error"] != "invalid_token" {
		t.Errorf("reused: %d %s, want 400 invalid_token", r.code, r.body)
	}
}

func TestRequireVerifiedEmail(t *testing.T) {
	e := newMailEnv(t, requireVerified)
	b := e.browser()
	e.register(b, "ada")
	e.mail.Wait(t, "ada@example.com", 0)
	r := b.login("ada", goodPassword)
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "Please confirm your email address") || !strings.Contains(r.body, `action="/verify/resend"`) {
		t.Fatalf("login before verification = %d, want 403 with a resend form:\n%s", r.code, r.body)
	}
	if r := b.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("logged in anyway: dashboard %d", r.code)
	}
	api := e.browser().json("POST", "/api/session", `{"username":"ada","password":"`+goodPassword+`"}`)
	if api.code != http.StatusForbidden || decode(t, api)["error"] != "email_unverified" {
		t.Errorf("API login before verification = %d %s, want 403 email_unverified", api.code, api.body)
	}
	if r := b.post("/verify/resend", nil); r.code != http.StatusSeeOther {
		t.Fatalf("resend from the refusal page: %d %s", r.code, r.body)
	}
	path := e.pathOf(e.mail.Wait(t, "ada@example.com", 1).Link(t, "/verify/"))
	if r := b.get(path); r.code != http.StatusSeeOther {
		t.Fatalf("verify: %d", r.code)
	}
	if r := b.login("ada", goodPassword); r.code != http.StatusSeeOther {
		t.Errorf("login after verification = %d, want 303", r.code)
	}
}

func TestChangeEmail(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	if r := b.post("/account/email", url.Values{"current_password": {"wrong password"}, "new_email": {"ada@new.example.com"}}); r.code != http.StatusForbidden {
		t.Errorf("wrong password: %d, want 403", r.code)
	}
	if r := b.post("/account/email", url.Values{"current_password": {goodPassword}, "new_email": {"no"}}); r.code != http.StatusUnprocessableEntity {
		t.Errorf("bad address: %d, want 422", r.code)
	}
	r := b.post("/account/email", url.Values{"current_password": {goodPassword}, "new_email": {"ada@new.example.com"}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("change email: %d %s", r.code, r.body)
	}
	notice := e.mail.Wait(t, "ada@example.com", 0)
	if !strings.Contains(notice.Text, "ada@new.example.com") || strings.Contains(notice.Text, "/verify/") {
		t.Errorf("notice to the old address:\n%s", notice.Text)
	}
	path := e.pathOf(e.mail.Wait(t, "ada@new.example.com", 0).Link(t, "/verify/"))
	if r := b.get("/api/me", "Accept", "application/json"); decode(t, r)["email"] != "ada@example.com" {
		t.Errorf("address changed before the link was followed: %s", r.body)
	}
	if r := b.get(path); r.code != http.StatusSeeOther {
		t.Fatalf("follow the change link: %d", r.code)
	}
	if r := b.get("/api/me", "Accept", "application/json"); decode(t, r)["email"] != "ada@new.example.com" {
		t.Errorf("after the link, /api/me = %s, want the new address", r.body)
	}
	if r := b.get("/account"); !strings.Contains(r.body, "ada@new.example.com <span class=\"badge\">verified</span>") {
		t.Errorf("account page after the change:\n%s", r.body)
	}
	// The reset links now go to the new address.
	e.browser().post("/password/forgot", url.Values{"email": {"ada@new.example.com"}})
	e.mail.Wait(t, "ada@new.example.com", 1)
}

// A mail server that is down fails no page: registration and "forgot
// password" answer as usual, and each failed attempt is a log line.
func TestMailServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	smtp, err := mail.NewSMTP("smtp://"+addr, "login@example.com", mail.SMTPOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *server.Config) {
		q := mail.NewQueue(smtp, mail.QueueOptions{Attempts: 2, Backoff: 10 * time.Millisecond, Logger: c.Logger})
		t.Cleanup(func() { q.Close(context.Background()) })
		c.Mailer, c.Recovery = q, memstore.NewRecoveryStore()
	})
	b := e.browser()
	e.register(b, "ada")
	if r := b.post("/password/forgot", url.Values{"email": {"ada@example.com"}}); r.code != http.StatusSeeOther {
		t.Errorf("forgot with the mail server down: %d, want 303", r.code)
	}
	if r := b.login("ada", goodPassword); r.code != http.StatusSeeOther {
		t.Errorf("login with the mail server down: %d, want 303", r.code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.logLines("mail.failed")) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(e.logLines("mail: delivery failed")); n != 4 {
		t.Errorf("%d failure lines, want 4 (2 messages, 2 attempts each)", n)
	}
	if n := len(e.logLines("mail.failed")); n != 2 {
		t.Errorf("%d mail.failed events, want 2 (verification and reset)", n)
	}
}

// A browser still logged in as the user who resets the password is logged
// out like every other session, and still gets the message.
func TestResetWhileLoggedIn(t *testing.T) {
	e := newMailEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	b.post("/password/forgot", url.Values{"email": {"ada@example.com"}})
	path := e.pathOf(e.mail.Wait(t, "ada@example.com", 0).Link(t, "/password/reset/"))
	if r := b.post(path, url.Values{"new_password": {"a brand new passphrase"}}); r.code != http.StatusSeeOther || r.location() != "/login" {
		t.Fatalf("reset: %d to %q", r.code, r.location())
	}
	if got := b.flashes(); !strings.Contains(got, "Your password has been reset") {
		t.Errorf("flash = %q, want the reset's message", got)
	}
	if r := b.get("/dashboard"); r.code != http.StatusSeeOther {
		t.Errorf("still logged in after the reset: dashboard %d", r.code)
	}
}

// The token of an emailed link reaches no log line, not even at debug
// level when the request matches no route (a method the route does not
// take, a trailing slash, another letter case), nor the access log: the
// link still works.
func TestLinkTokensNotLogged(t *testing.T) {
	e := newMailEnv(t, func(c *server.Config) { c.Web.AccessLog = true })
	e.addUser("ada")
	b := e.loggedIn("ada")
	if r := b.post("/account/email", url.Values{"current_password": {goodPassword}, "new_email": {"ada@new.example.com"}}); r.code != http.StatusSeeOther {
		t.Fatalf("change email: %d %s", r.code, r.body)
	}
	change := e.pathOf(e.mail.Wait(t, "ada@new.example.com", 0).Link(t, "/verify/"))
	e.mail.Wait(t, "ada@example.com", 0) // the notice to the old address, first of its mail
	e.browser().post("/password/forgot", url.Values{"email": {"ada@example.com"}})
	reset := e.pathOf(e.mail.Wait(t, "ada@example.com", 1).Link(t, "/password/reset/"))

	csrf := b.csrfToken()
	for _, tc := range []struct{ method, path string }{
		{"POST", change},
		{"PUT", change},
		{"DELETE", change},
		{"GET", change + "/"},
		{"GET", strings.ToUpper(change[:len("/verify/")]) + tokenOf(change)},
		{"GET", reset + "/"},
		{"POST", reset + "/"},
		{"PUT", reset},
		{"GET", reset + "/more"},
	} {
		r := b.send(tc.method, tc.path, strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()),
			"Content-Type", "application/x-www-form-urlencoded")
		if r.code < 400 {
			t.Errorf("%s %s = %d, want a 4xx", tc.method, tc.path, r.code)
		}
	}
	logs := e.logs.String()
	for _, secret := range []string{tokenOf(change), tokenOf(reset)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold the token %s:\n%s", secret, logs)
		}
	}
	var paths []string
	for _, l := range e.logLines("web: request failed") {
		paths = append(paths, str(l["path"]))
	}
	for _, want := range []string{"/verify/…", "/password/reset/…"} {
		if !slices.Contains(paths, want) {
			t.Errorf("the failed requests were logged with paths %q, want %q among them", paths, want)
		}
	}
	if r := e.browser().get(reset); r.code != http.StatusOK {
		t.Errorf("GET reset link after the failed requests = %d, want 200", r.code)
	}
}
