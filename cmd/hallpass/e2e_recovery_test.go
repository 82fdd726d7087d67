package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hallpass/hallpass/mail/mailtest"
	"github.com/hallpass/hallpass/recovery"
)

// A person who forgot their password asks for a link from the login page,
// reads the email (delivered to a real SMTP server), follows the link,
// chooses a new password and logs in with it, all in Chromium.
func TestE2EBrowserForgotPassword(t *testing.T) {
	chromiumPath(t) // skip early, before the server starts
	smtp := mailtest.Start(t, mailtest.Options{})
	srv, logs := inProcess(t, testConfig(t, map[string]string{"HALLPASS_SMTP_URL": smtp.URL()}))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	t.Cleanup(func() {
		if t.Failed() && logs.String() != "" {
			t.Logf("server logs:\n%s", logs)
		}
	})
	if r := newBrowser(t).form(srv.URL, "/register", "/register", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("register: %d", r.Code)
	}

	b := startChromium(t, ctx, srv.URL)
	b.wantPage("open the login page", b.open("/login"), "/login")
	b.wantPage("follow the forgot-password link", b.clickAndWait(`//main//a[normalize-space()="Forgot your password?"]`), "/password/forgot")
	b.fill("Email", "ada@example.com")
	b.wantPage("ask for a link", b.clickAndWait(button("//main//form", "Send me a link")), "/login")
	if got := b.text("main .flash"); got != recovery.MsgResetSent {
		b.fatalf("flash after asking = %q, want %q", got, recovery.MsgResetSent)
	}

	// The registration sent a verification link first; find the reset.
	var link string
	for i := 0; link == ""; i++ {
		if m := smtp.Wait(t, "ada@example.com", i); strings.Contains(m.Text, "/password/reset/") {
			link = m.Link(t, "/password/reset/")
		}
	}
	path := pathOf(t, link)
	b.wantPage("follow the emailed link", b.open(path), path)
	if got := b.text("main h1"); got != "Choose a new password" {
		b.fatalf("reset page heading %q", got)
	}
	b.fill("New password", "a brand new passphrase")
	b.wantPage("set the new password", b.clickAndWait(button("//main//form", "Set the new password")), "/login")
	if got := b.text("main .flash"); !strings.Contains(got, "Your password has been reset") {
		b.fatalf("flash after the reset = %q", got)
	}

	b.fill("Username", "ada")
	b.fill("Password", "a brand new passphrase")
	b.wantPage("log in with the new password", b.clickAndWait(button("//main//form", "Log in")), "/dashboard")
	if got, want := b.text("main h1 + p"), "Welcome ada! This is your dashboard."; got != want {
		b.fatalf("dashboard says %q, want %q", got, want)
	}

	// The link worked once.
	resp := b.open(path)
	if resp.Status != http.StatusBadRequest {
		b.fatalf("the used link answered %d, want 400", resp.Status)
	}
	if got := act(b, "read the message", chromedp.Text(chromedp.CSS("main .error-message"))); got != recovery.MsgInvalidLink {
		b.fatalf("used link says %q, want %q", got, recovery.MsgInvalidLink)
	}
}
