package e2e

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
// reads the email (delivered by the server to a real SMTP server over
// TCP), follows the link, chooses a new password and logs in with it, all
// in Chromium.
func TestE2EBrowserForgotPassword(t *testing.T) {
	chromiumPath(t) // skip early, before the server starts
	smtp := mailtest.Start(t, mailtest.Options{})
	srv := startServer(t, "HALLPASS_SMTP_URL="+smtp.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	b := startChromium(t, ctx, srv.URL)
	b.register()

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
	u, err := url.Parse(link)
	if err != nil || u.Path == "" {
		t.Fatalf("bad link %q in the message", link)
	}
	path := u.Path
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
