package e2e

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The end-to-end tests drive a real Chromium through the Chrome DevTools
// Protocol (chromedp) against the server running as a process of its own
// (see server_test.go). They skip when
// no Chromium is installed. Set HALLPASS_TEST_CHROMIUM to the browser's path
// to use another one, and HALLPASS_TEST_SCREENSHOTS to a directory to keep a
// screenshot of the page when a test fails, and the pages of the two-factor
// and passkey tests at desktop and phone widths (NAME-desktop.png,
// NAME-phone.png) for a person to look at.

// chromiumPath returns the browser to drive, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HALLPASS_TEST_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not found (set HALLPASS_TEST_CHROMIUM or install Debian's chromium); skipping the browser test")
	}
	return p
}

// tab is one tab of a headless Chromium of its own (fresh profile, no
// cookies), pointed at the server at base.
type tab struct {
	t      *testing.T
	ctx    context.Context // the tab; ends with the test's deadline
	base   string
	output *lockedBuffer // the browser's own stdout and stderr
	quit   func()        // closes the browser; safe to call again
}

// stepTimeout bounds every action, so a missing element fails with the page
// in the message instead of eating the test's whole deadline.
const stepTimeout = 15 * time.Second

// startChromium starts a new browser process with an empty profile. The
// browser lives until quit or the end of the test, at the latest when ctx
// ends.
func startChromium(t *testing.T, ctx context.Context, base string) *tab {
	t.Helper()
	out := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // root in a container has no user namespaces
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		// Keep the browser off the network: no QUIC probes, updates,
		// sync or other background requests, only the test's server.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// localhost is the passkey test's relying party (WebAuthn takes
		// no IP address): keep it on IPv4, where the server listens.
		chromedp.Flag("host-resolver-rules", "MAP localhost 127.0.0.1"),
		chromedp.CombinedOutput(out),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, tabCancel := chromedp.NewContext(allocCtx)
	b := &tab{t: t, ctx: tabCtx, base: base, output: out}
	b.quit = sync.OnceFunc(func() {
		// Close the browser gracefully, then free everything.
		cctx, cancel := context.WithTimeout(tabCtx, 10*time.Second)
		defer cancel()
		chromedp.Cancel(cctx)
		tabCancel()
		allocCancel()
	})
	t.Cleanup(b.quit)
	// The first action starts the browser and binds its life to tabCtx.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("start chromium: %v\nbrowser output:\n%s", err, out)
	}
	return b
}

// act runs one action with the step timeout and returns its value; on error
// it fails the test, showing the page.
func act[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatalf("%s: %v (each step has %v)", what, err, stepTimeout)
	}
	return v
}

// fatalf fails the test with the current URL and HTML of the page (and a
// screenshot in $HALLPASS_TEST_SCREENSHOTS, when set).
func (b *tab) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		html = fmt.Sprintf("(cannot read the page: %v)\nbrowser output:\n%s", err, b.output)
	}
	if dir := os.Getenv("HALLPASS_TEST_SCREENSHOTS"); dir != "" {
		if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90)); err == nil {
			name := filepath.Join(dir, strings.ReplaceAll(b.t.Name(), "/", "_")+".png")
			if err := os.WriteFile(name, png, 0o644); err == nil {
				b.t.Logf("screenshot: %s", name)
			}
		}
	}
	b.t.Fatalf(format+"\npage %s:\n%s", append(args, loc, html)...)
}

// open loads path and returns the response of the final document (after
// redirects).
func (b *tab) open(path string) *network.Response {
	b.t.Helper()
	return act(b, "open "+path, chromedp.NavigateResponse(b.base+path))
}

// clickAndWait clicks the element that xpath finds and waits until the page
// it leads to has loaded; it returns that page's response.
func (b *tab) clickAndWait(xpath string) *network.Response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(xpath))
	if err != nil {
		b.fatalf("click %s: %v", xpath, err)
	}
	return resp
}

// labelled is the XPath of the form control that the <label> reading text
// names, so the test finds inputs as a person (or a screen reader) does:
// a label that is not tied to its input fails the test.
func labelled(text string) string {
	return fmt.Sprintf(`//*[@id=//label[normalize-space()=%q]/@for]`, text)
}

// button is the XPath of the button reading text inside the element that
// scope (an XPath) finds.
func button(scope, text string) string {
	return fmt.Sprintf(`%s//button[normalize-space()=%q]`, scope, text)
}

// fill types value into the input labelled label, as keystrokes.
func (b *tab) fill(label, value string) {
	b.t.Helper()
	act(b, "type into "+label, chromedp.SendKeys(labelled(label), value))
}

// text returns the visible text of the first element css matches.
func (b *tab) text(css string) string {
	b.t.Helper()
	return act(b, "read "+css, chromedp.Text(chromedp.CSS(css)))
}

// url returns the address of the page the tab shows.
func (b *tab) url() *url.URL {
	b.t.Helper()
	loc := act(b, "read the location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		b.fatalf("location %q: %v", loc, err)
	}
	return u
}

// cookies returns the browser's cookies for the server, by name.
func (b *tab) cookies() map[string]*network.Cookie {
	b.t.Helper()
	res := act(b, "read the cookies", func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	})
	m := make(map[string]*network.Cookie, len(res.Cookies))
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}

// setCookie gives the browser c, for the server, with its attributes.
func (b *tab) setCookie(c *network.Cookie) {
	b.t.Helper()
	act(b, "set cookie "+c.Name, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p := network.SetCookieParams{
			Name: c.Name, Value: c.Value, URL: b.base + "/", Path: c.Path,
			HTTPOnly: &c.HTTPOnly, Secure: &c.Secure, SameSite: c.SameSite,
		}
		if !c.Session {
			p.Expires = cdp.TimeSinceEpoch(c.Expires)
		}
		_, err := cdp.Call(ctx, t, network.SetCookie, p)
		return err
	}))
}

// wantPage fails unless resp is a 200 for path.
func (b *tab) wantPage(step string, resp *network.Response, path string) {
	b.t.Helper()
	u, err := url.Parse(resp.URL)
	if err != nil || resp.Status != http.StatusOK || u.Path != path {
		b.fatalf("%s: got %d %s, want 200 %s", step, resp.Status, resp.URL, path)
	}
}

// register creates the account ada (password "correct horse battery")
// through the register form, which lands on /login.
func (b *tab) register() {
	b.t.Helper()
	b.wantPage("open the register page", b.open("/register"), "/register")
	b.fill("Username", "ada")
	b.fill("Email", "ada@example.com")
	b.fill("Password", "correct horse battery")
	b.wantPage("submit the register form", b.clickAndWait(button("//main//form", "Create account")), "/login")
}

// registerAndLogIn registers ada and logs her in with her password from
// the login page register left the tab on.
func (b *tab) registerAndLogIn() {
	b.t.Helper()
	b.register()
	b.fill("Username", "ada")
	b.fill("Password", "correct horse battery")
	b.wantPage("log in", b.clickAndWait(button("//main//form", "Log in")), "/dashboard")
}

// A person registers, logs in with "remember me", closes the browser,
// comes back with only the remember-me cookie and is still logged in, then
// logs out and is sent to the login form.
func TestE2EBrowserRememberMe(t *testing.T) {
	chromiumPath(t) // skip early, before the server starts
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	b := startChromium(t, ctx, srv.URL)

	// Register through the form.
	b.register()
	if got, want := b.text("main .flash"), "Account created. Please log in."; got != want {
		b.fatalf("flash after registering = %q, want %q", got, want)
	}

	// Log in, ticking "remember me" by its label.
	b.fill("Username", "ada")
	b.fill("Password", "correct horse battery")
	act(b, "tick remember me", chromedp.Click(`//label[normalize-space()="Remember me on this device"]`))
	if !act(b, "read the checkbox", chromedp.JavascriptAttribute[bool](labelled("Remember me on this device"), "checked")) {
		b.fatalf("clicking the label %q did not tick its checkbox", "Remember me on this device")
	}
	b.wantPage("submit the login form", b.clickAndWait(button("//main//form", "Log in")), "/dashboard")
	if got, want := b.text("main h1 + p"), "Welcome ada! This is your dashboard."; got != want {
		b.fatalf("dashboard says %q, want %q", got, want)
	}
	if got := b.text("header.site a.who"); got != "ada" {
		b.fatalf("header shows user %q, want %q", got, "ada")
	}

	// The session cookie ends with the browser; the remember-me cookie
	// persists. Both are out of reach of JavaScript.
	jar := b.cookies()
	sess, rem := jar["hallpass_session"], jar["hallpass_remember"]
	switch {
	case sess == nil || rem == nil:
		b.fatalf("after login with remember me, cookies %v, want hallpass_session and hallpass_remember", cookieNames(jar))
	case !sess.Session:
		t.Errorf("hallpass_session expires at %v, want a browser-session cookie", time.Unix(int64(sess.Expires), 0))
	case rem.Session:
		t.Errorf("hallpass_remember is a browser-session cookie, want a persistent one")
	case !sess.HTTPOnly || !rem.HTTPOnly:
		t.Errorf("HttpOnly: hallpass_session %v, hallpass_remember %v, want both true", sess.HTTPOnly, rem.HTTPOnly)
	}
	if days := time.Until(time.Unix(int64(math.Round(rem.Expires)), 0)).Hours() / 24; days < 29 || days > 31 {
		t.Errorf("hallpass_remember expires in %.1f days, want 30 (HALLPASS_REMEMBER_FOR=720h)", days)
	}

	// Quit the browser and start another one that knows only the
	// remember-me cookie: the session cookie is gone, as after a restart.
	b.quit()
	b = startChromium(t, ctx, srv.URL)
	b.setCookie(rem)
	if jar := b.cookies(); len(jar) != 1 || jar["hallpass_remember"] == nil {
		b.fatalf("the new browser has cookies %v, want only hallpass_remember", cookieNames(jar))
	}
	b.wantPage("dashboard with only the remember-me cookie", b.open("/dashboard"), "/dashboard")
	if got, want := b.text("main h1 + p"), "Welcome ada! This is your dashboard."; got != want {
		b.fatalf("dashboard after the restart says %q, want %q", got, want)
	}
	if b.cookies()["hallpass_session"] == nil {
		b.fatalf("logging in by remember-me set no hallpass_session cookie")
	}

	// Log out with the header's button.
	b.wantPage("log out", b.clickAndWait(button("//header", "Log out")), "/")
	if got, want := b.text("main .flash"), "You have been logged out."; got != want {
		b.fatalf("flash after logging out = %q, want %q", got, want)
	}
	if got := b.text("main h1"); !strings.Contains(got, "Unknown") {
		b.fatalf("home page after logging out says %q, want Hello, Unknown", got)
	}
	if jar := b.cookies(); jar["hallpass_remember"] != nil {
		b.fatalf("hallpass_remember survived the logout (cookies %v)", cookieNames(jar))
	}

	// The dashboard now sends the browser to the login form, which comes
	// back to the dashboard.
	b.wantPage("dashboard after logging out", b.open("/dashboard"), "/login")
	if got := b.url().Query().Get("next"); got != "/dashboard" {
		b.fatalf("redirected to %s, want next=/dashboard", b.url())
	}
	act(b, "find the login form", chromedp.WaitVisible(labelled("Username")))
	if got := act(b, "read next", chromedp.Value(chromedp.CSS(`main form input[name="next"]`))); got != "/dashboard" {
		b.fatalf("login form's next field = %q, want /dashboard", got)
	}
}

// cookieNames lists the names of the cookies in jar, for messages.
func cookieNames(jar map[string]*network.Cookie) []string {
	return slices.Sorted(maps.Keys(jar))
}
