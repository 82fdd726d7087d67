package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// virtualAuthenticator gives the tab a platform authenticator that
// keeps discoverable credentials and verifies the user at once, through
// the DevTools WebAuthn domain, and returns its ID.
func (b *tab) virtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	return act(b, "add a virtual authenticator", func(ctx context.Context, t *chromedp.Target) (webauthn.AuthenticatorID, error) {
		if _, err := cdp.Call(ctx, t, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return "", err
		}
		res, err := cdp.Call(ctx, t, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport:      webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
			AutomaticPresenceSimulation: true,
		}})
		return res.AuthenticatorID, err
	})
}

// credentials returns the credentials the virtual authenticator holds.
func (b *tab) credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	return act(b, "read the authenticator", func(ctx context.Context, t *chromedp.Target) ([]*webauthn.Credential, error) {
		res, err := cdp.Call(ctx, t, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
		return res.Credentials, err
	})
}

// waitFor waits until an element xpath finds is visible (after the
// script's navigation, say).
func (b *tab) waitFor(what, xpath string) {
	b.t.Helper()
	act(b, what, chromedp.WaitVisible(xpath))
}

const dashboardText = `//main//p[normalize-space()="Welcome ada! This is your dashboard."]`

// A person registers a passkey on the account page with Chromium's
// virtual authenticator, logs out, signs in with the passkey alone, and
// then uses it as the second factor after the password.
func TestE2EBrowserPasskey(t *testing.T) {
	chromiumPath(t)     // skip early, before the server starts
	addr := freePort(t) // 127.0.0.1:PORT
	// WebAuthn needs a host name (not an IP address) as relying party ID.
	base := "http://localhost:" + addr[strings.LastIndex(addr, ":")+1:]
	srv := startServer(t, "HALLPASS_ADDR="+addr, "HALLPASS_BASE_URL="+base)
	_ = srv
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	b := startChromium(t, ctx, base)
	auth := b.virtualAuthenticator()
	b.registerAndLogIn()

	b.wantPage("open the account page", b.open("/account"), "/account")
	b.fill("Name of a new passkey", "Laptop")
	act(b, "click Add a passkey", chromedp.Click(`//button[@id="passkey-add"]`))
	b.waitFor("the new passkey in the list", `//main//strong[@class="passkey-name" and normalize-space()="Laptop"]`)
	if got := b.text(".passkey-list .hint"); !strings.Contains(got, "never used") {
		b.fatalf("the new passkey's line says %q, want never used", got)
	}
	creds := b.credentials(auth)
	if len(creds) != 1 || !creds[0].IsResidentCredential {
		b.fatalf("the authenticator holds %d credentials (%+v), want one discoverable", len(creds), creds)
	}
	b.screenshots("passkey-account")

	b.wantPage("log out", b.clickAndWait(button("//header//form", "Log out")), "/")
	b.wantPage("open the login page", b.open("/login"), "/login")
	b.screenshots("passkey-login")
	act(b, "click Sign in with a passkey", chromedp.Click(`//button[@id="passkey-login"]`))
	b.waitFor("the dashboard after the passkey", dashboardText)
	if creds := b.credentials(auth); creds[0].SignCount < 1 {
		b.fatalf("sign count %d after a sign-in, want at least 1", creds[0].SignCount)
	}
	b.wantPage("open the account page", b.open("/account"), "/account")
	if got := b.text(".passkey-list .hint"); !strings.Contains(got, "last used") {
		b.fatalf("the passkey's line says %q after a sign-in, want last used", got)
	}

	// With a passkey, the password alone is not enough: the passkey is
	// the second factor.
	b.wantPage("log out", b.clickAndWait(button("//header//form", "Log out")), "/")
	b.wantPage("open the login page", b.open("/login"), "/login")
	b.fill("Username", "ada")
	b.fill("Password", "correct horse battery")
	b.wantPage("enter the password", b.clickAndWait(button("//main//form", "Log in")), "/login/2fa")
	b.screenshots("passkey-second-factor")
	act(b, "click Use a passkey", chromedp.Click(`//button[@id="passkey-2fa"]`))
	b.waitFor("the dashboard after the second factor", dashboardText)
}
