package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/mail/mailtest"
)

// pathOf returns the path of a link, whatever host the base URL named.
func pathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Path == "" {
		t.Fatalf("bad link %q", link)
	}
	return u.Path
}

// The operator sends a reset link from the CLI through SMTP; the user
// follows it on the server, sets a new password and logs in with it.
func TestCLISendReset(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{})
	c := newCLI(t)
	c.env["HALLPASS_SMTP_URL"] = smtp.URL()
	c.env["HALLPASS_MAIL_FROM"] = "Example Login <login@example.com>"
	c.env["HALLPASS_BASE_URL"] = "https://login.example.com"
	c.ok("correct horse battery\n", "users", "add", "ada", "--email", "ada@example.com", "--password-stdin")

	out := c.ok("", "users", "send-reset", "ada")
	if !strings.Contains(out, "sent a password reset link to ada@example.com") {
		t.Errorf("send-reset printed %q", out)
	}
	msg := smtp.Wait(t, "ada@example.com", 0)
	head, _, _ := strings.Cut(string(msg.Raw), "\r\n\r\n")
	t.Logf("delivered message (go test -v shows it):\n%s\n\n[text part]\n%s", head, msg.Text)
	if got := msg.Header.Get("From"); got != `"Example Login" <login@example.com>` {
		t.Errorf("From = %q, want HALLPASS_MAIL_FROM", got)
	}
	link := msg.Link(t, "/password/reset/")
	if !strings.HasPrefix(link, "https://login.example.com/password/reset/") {
		t.Errorf("link %q does not start with HALLPASS_BASE_URL", link)
	}

	delete(c.env, "HALLPASS_BASE_URL") // the in-process server is plain http
	srv := c.serve()
	b := newBrowser(t)
	path := pathOf(t, link)
	if r := b.form(srv.URL, path, path, url.Values{"new_password": {"a new passphrase"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("reset through the link: %d\n%s", r.Code, r.Body)
	}
	logIn(t, srv.URL, "ada", "a new passphrase")

	if msg, _ := c.fails("", "users", "send-reset", "nobody"); !strings.Contains(msg, `no user named "nobody"`) {
		t.Errorf("send-reset of an unknown user: %q", msg)
	}
	c.ok("", "users", "disable", "ada")
	if msg, _ := c.fails("", "users", "send-reset", "ada"); !strings.Contains(msg, "disabled") {
		t.Errorf("send-reset of a disabled user: %q", msg)
	}
}

// Without HALLPASS_SMTP_URL the development mailer writes the link to the
// log, clearly marked.
func TestCLISendResetDevelopmentMailer(t *testing.T) {
	c := newCLI(t)
	c.ok("correct horse battery\n", "users", "add", "ada", "--email", "ada@example.com", "--password-stdin")
	out, errOut, err := c.exec("", "users", "send-reset", "ada")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "development mailer") {
		t.Errorf("stdout %q does not say the development mailer has the link", out)
	}
	if !strings.Contains(errOut, mail.LogMessage) || !strings.Contains(errOut, "http://localhost:8080/password/reset/") {
		t.Errorf("stderr lacks the development mailer's record with the link:\n%s", errOut)
	}
}

// users list and users show tell verified addresses from others.
func TestCLIListsVerified(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{})
	c := newCLI(t)
	c.env["HALLPASS_SMTP_URL"] = smtp.URL()
	srv := c.serve()
	for _, name := range []string{"ada", "bob"} {
		b := newBrowser(t)
		if r := b.form(srv.URL, "/register", "/register", url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
			t.Fatalf("register %s: %d", name, r.Code)
		}
	}
	link := smtp.Wait(t, "ada@example.com", 0).Link(t, "/verify/")
	if r := newBrowser(t).do("GET", srv.URL+pathOf(t, link), nil); r.Code != http.StatusSeeOther {
		t.Fatalf("verify: %d", r.Code)
	}
	if row := c.listed("ada"); row == nil || row[5] != "yes" {
		t.Errorf("users list row of ada = %q, want VERIFIED yes", row)
	}
	if row := c.listed("bob"); row == nil || row[5] != "no" {
		t.Errorf("users list row of bob = %q, want VERIFIED no", row)
	}
	if out := c.ok("", "users", "list", "-o", "json"); !strings.Contains(out, `"username":"ada","email":"ada@example.com"`) || strings.Count(out, `"email_verified":true`) != 1 {
		t.Errorf("users list -o json:\n%s", out)
	}
	if out := c.ok("", "users", "show", "bob"); !regexp.MustCompile(`(?m)^email verified:\s+no$`).MatchString(out) {
		t.Errorf("users show bob:\n%s", out)
	}
}

// Start-up says where mail goes.
func TestServeSaysWhereMailGoes(t *testing.T) {
	p := startProcess(t)
	if !strings.Contains(p.logs.String(), "DEVELOPMENT MAILER") {
		t.Errorf("start-up without SMTP does not name the development mailer:\n%s", p.logs)
	}
	smtp := mailtest.Start(t, mailtest.Options{})
	p = startProcess(t, "HALLPASS_SMTP_URL="+smtp.URL())
	if !strings.Contains(p.logs.String(), `msg="hallpass mail" smtp=smtp://`+smtp.Addr) {
		t.Errorf("start-up with SMTP does not name the server:\n%s", p.logs)
	}
}

// The reset limits are counted in the shared throttle Counter: two
// processes behind a load balancer send no more links to one address than
// one would.
func TestMultiProcessResetLimits(t *testing.T) {
	redisURL, pgURL := sharedStores(t)
	smtp := mailtest.Start(t, mailtest.Options{})
	env := []string{"HALLPASS_SESSION_STORE=" + redisURL, "HALLPASS_DATABASE_URL=" + pgURL, "HALLPASS_SMTP_URL=" + smtp.URL()}
	procs := []*proc{startProcess(t, env...), startProcess(t, env...)}
	for _, name := range []string{"ada", "bob"} {
		if r := newBrowser(t).form(procs[0].URL, "/register", "/register", url.Values{"username": {name}, "email": {name + "@example.com"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
			t.Fatalf("register %s: %d", name, r.Code)
		}
	}
	forgot := func(p *proc, email string) {
		t.Helper()
		if r := newBrowser(t).form(p.URL, "/password/forgot", "/password/forgot", url.Values{"email": {email}}); r.Code != http.StatusSeeOther {
			t.Fatalf("forgot on %s: %d", p.URL, r.Code)
		}
	}
	for i := range 5 {
		forgot(procs[i%2], "ada@example.com")
	}
	// Each process handles its requests in order: once its link to bob is
	// out, its requests for ada have been decided.
	for i, p := range procs {
		forgot(p, "bob@example.com")
		for skip := 0; ; skip++ {
			if strings.Contains(smtp.Wait(t, "bob@example.com", skip).Text, "/password/reset/") {
				if skip >= i+1 { // bob's verification, then one reset per process
					break
				}
			}
		}
	}
	throttled := 0
	for _, p := range procs {
		for _, line := range strings.Split(p.logs.String(), "\n") {
			if strings.Contains(line, "msg=password.reset.request") && strings.Contains(line, "reason=throttled") {
				throttled++
			}
		}
	}
	if throttled != 2 {
		t.Errorf("%d reset requests for one address throttled across both processes, want 2 (3 links an hour)\n%s\n%s", throttled, procs[0].logs, procs[1].logs)
	}
	resets := func() int {
		n := 0
		for _, m := range smtp.Messages() {
			if m.To[0] == "ada@example.com" && strings.Contains(m.Text, "/password/reset/") {
				n++
			}
		}
		return n
	}
	smtp.Wait(t, "ada@example.com", 3) // the verification and three links
	if n := resets(); n != 3 {
		t.Errorf("%d reset links to one address from two processes, want 3", n)
	}
}
