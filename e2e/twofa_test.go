package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hallpass/hallpass/twofa"
)

// screenshots saves the page at desktop and phone widths in
// $HALLPASS_TEST_SCREENSHOTS (when set), as NAME-desktop.png and
// NAME-phone.png, for a person to look at.
func (b *tab) screenshots(name string) {
	b.t.Helper()
	dir := os.Getenv("HALLPASS_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, size := range []struct {
		suffix string
		w, h   int64
		opts   []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 800, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}},
	} {
		act(b, "resize to "+size.suffix, chromedp.EmulateViewport(size.w, size.h, size.opts...))
		png := act(b, "screenshot "+name, chromedp.FullScreenshot(100)) // 100: PNG
		act(b, "resize back", chromedp.EmulateViewport(1024, 768))
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.suffix+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// A person turns on two-factor authentication from the account page with
// the key shown as text (as a phone app would read the QR code), keeps
// the recovery codes, logs out, and logs in with the password and then a
// code from the app.
func TestE2EBrowserTOTP(t *testing.T) {
	chromiumPath(t) // skip early, before the server starts
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	b := startChromium(t, ctx, srv.URL)
	b.registerAndLogIn()

	b.wantPage("open the account page", b.open("/account"), "/account")
	b.wantPage("follow the 2FA link", b.clickAndWait(`//main//a[normalize-space()="Set up two-factor authentication"]`), "/account/2fa")
	secret := b.text("#totp-secret")
	// The QR code is an image the server drew: it loaded.
	natural := act(b, "measure the QR code", chromedp.Evaluate[int](`document.querySelector("img.qr").naturalWidth`))
	if natural < 100 {
		b.fatalf("the QR code image has natural width %d, want a loaded image", natural)
	}
	b.screenshots("twofa-enrol")
	code, err := twofa.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.fill("Code from the app", code)
	b.wantPage("turn TOTP on", b.clickAndWait(button("//main//form", "Turn on")), "/account/2fa/totp")
	codes := b.text("#recovery-code-list")
	if n := len(strings.Fields(codes)); n != twofa.RecoveryCodeCount {
		b.fatalf("%d recovery codes shown, want %d: %q", n, twofa.RecoveryCodeCount, codes)
	}
	b.screenshots("twofa-recovery-codes")

	b.wantPage("log out", b.clickAndWait(button("//header//form", "Log out")), "/")
	b.wantPage("open the login page", b.open("/login"), "/login")
	b.fill("Username", "ada")
	b.fill("Password", "correct horse battery")
	b.wantPage("enter the password", b.clickAndWait(button("//main//form", "Log in")), "/login/2fa")
	b.screenshots("twofa-login")
	// The enrolment used this step's code: the app's next one is taken
	// (one step of drift is allowed), so the test needs not wait.
	next, _ := twofa.Code(secret, time.Now().Add(twofa.Period))
	b.fill("Code", next)
	b.wantPage("enter the code", b.clickAndWait(button("//main//form", "Verify")), "/dashboard")
	if got, want := b.text("main h1 + p"), "Welcome ada! This is your dashboard."; got != want {
		b.fatalf("dashboard says %q, want %q", got, want)
	}
}
