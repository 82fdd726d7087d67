package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/twofa"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The OpenID Provider of these tests is zitadel/oidc's example OP (an
// OpenID-certified library), served over HTTP by the test; the hallpass
// server talks to it as it would to Google. Tampering (a wrong nonce, an
// extra audience, an expired ID token) is done inside the provider, in
// the token it signs with its own keys.

const (
	opClientID     = "hallpass-e2e"
	opClientSecret = "e2e-client-secret"
	opPassword     = "verysecure"
)

// opUsers are the people with an account at the provider.
var opUsers = map[string]*storage.User{
	"id-alice": {ID: "id-alice", Username: "alice", Password: opPassword, FirstName: "Alice", LastName: "A",
		Email: "alice@idp.example", EmailVerified: true, PreferredLanguage: language.English},
	"id-bob": {ID: "id-bob", Username: "bob", Password: opPassword, FirstName: "Bob", LastName: "B",
		Email: "bob@idp.example", EmailVerified: true, PreferredLanguage: language.English},
	"id-carol": {ID: "id-carol", Username: "carol", Password: opPassword, FirstName: "Carol", LastName: "C",
		Email: "carol@idp.example", EmailVerified: true, PreferredLanguage: language.English},
	"id-dave": {ID: "id-dave", Username: "dave", Password: opPassword, FirstName: "Dave", LastName: "D",
		Email: "dave@idp.example", EmailVerified: true, PreferredLanguage: language.English},
	"id-erin": {ID: "id-erin", Username: "erin", Password: opPassword, FirstName: "Erin", LastName: "E",
		Email: "erin@idp.example", EmailVerified: true, PreferredLanguage: language.English},
	// frank's provider has not verified his address.
	"id-frank": {ID: "id-frank", Username: "frank", Password: opPassword, FirstName: "Frank", LastName: "F",
		Email: "frank@idp.example", EmailVerified: false, PreferredLanguage: language.English},
}

type userStore struct{}

func (userStore) GetUserByID(id string) *storage.User { return opUsers[id] }
func (userStore) GetUserByUsername(name string) *storage.User {
	for _, u := range opUsers {
		if u.Username == name {
			return u
		}
	}
	return nil
}
func (userStore) ExampleClientID() string { return "service" }

// tamper says what the provider does wrong in the next tokens it issues.
type tamper int

const (
	honest tamper = iota
	wrongNonce
	extraAudience
	expiredToken
)

// opStorage is the example OP's storage, able to tamper with the ID
// tokens it signs.
type opStorage struct {
	*storage.Storage
	mu   sync.Mutex
	mode tamper
}

func (s *opStorage) set(m tamper) {
	s.mu.Lock()
	s.mode = m
	s.mu.Unlock()
}

func (s *opStorage) get() tamper {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode
}

// tamperedRequest changes what an ID token is made from.
type tamperedRequest struct {
	op.AuthRequest
	nonce string
	aud   []string
}

func (t tamperedRequest) GetNonce() string {
	if t.nonce != "" {
		return t.nonce
	}
	return t.AuthRequest.GetNonce()
}

func (t tamperedRequest) GetAudience() []string {
	if t.aud != nil {
		return t.aud
	}
	return t.AuthRequest.GetAudience()
}

func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	ar, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	switch s.get() {
	case wrongNonce:
		return tamperedRequest{AuthRequest: ar, nonce: "not-the-nonce-hallpass-sent"}, nil
	case extraAudience:
		return tamperedRequest{AuthRequest: ar, aud: append(ar.GetAudience(), "some-other-client")}, nil
	}
	return ar, nil
}

// expiredClient issues ID tokens that expired an hour ago.
type expiredClient struct{ op.Client }

func (expiredClient) IDTokenLifetime() time.Duration { return -time.Hour }

func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err == nil && s.get() == expiredToken {
		return expiredClient{c}, nil
	}
	return c, err
}

// testOP is a running OpenID Provider.
type testOP struct {
	URL     string // the issuer
	storage *opStorage
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).AddrPort().String()
}

// startOP serves an OpenID Provider on a free port, with the client
// hallpass is registered as, whose redirect URIs are redirects.
func startOP(t *testing.T, redirects ...string) *testOP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	storage.RegisterClients(storage.WebClient(opClientID, opClientSecret, redirects...))
	st := &opStorage{Storage: storage.NewStorage(userStore{})}
	srv := httptest.NewUnstartedServer(exampleop.SetupServer(issuer, st, nil, false))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return &testOP{URL: issuer, storage: st}
}

// oidcServer is hallpass configured with the test provider as "testop".
type oidcServer struct {
	*server
	op       *testOP
	provider string // the provider's ID on the server; "" is "testop"
}

// startPath is where the server's "Sign in with …" form posts.
func (s *oidcServer) startPath() string {
	if s.provider == "" {
		return "/login/oidc/testop"
	}
	return "/login/oidc/" + s.provider
}

// startOIDC starts a provider and a hallpass server that offers it, with
// extra settings in env.
func startOIDC(t *testing.T, env ...string) *oidcServer {
	t.Helper()
	addr := freePort(t)
	base := "http://" + addr
	o := startOP(t, base+"/login/oidc/testop/callback")
	srv := startServer(t, append([]string{"HALLPASS_ADDR=" + addr, "HALLPASS_BASE_URL=" + base,
		"HALLPASS_OIDC_PROVIDERS=testop",
		"HALLPASS_OIDC_TESTOP_ISSUER=" + o.URL,
		"HALLPASS_OIDC_TESTOP_CLIENT_ID=" + opClientID,
		"HALLPASS_OIDC_TESTOP_CLIENT_SECRET=" + opClientSecret,
		"HALLPASS_OIDC_TESTOP_LABEL=Test OP"}, env...)...)
	return &oidcServer{server: srv, op: o}
}

// browser is an HTTP client with its own cookies that follows no
// redirect by itself, so each step's answer can be checked.
type browser struct {
	t  *testing.T
	c  *http.Client
	ip string // sent as X-Forwarded-For when set (for a server that trusts 127.0.0.1 as a proxy)
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the response with its body read.
func (b *browser) do(method, u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.ip != "" {
		req.Header.Set("X-Forwarded-For", b.ip)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return resp, string(text)
}

func (b *browser) get(u string) (*http.Response, string) { return b.do(http.MethodGet, u, nil) }

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of the page at u.
func (b *browser) csrf(u string) string {
	b.t.Helper()
	resp, body := b.get(u)
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, no csrf_token", u, resp.StatusCode)
	}
	return m[1]
}

// cookie returns the value of the browser's cookie name for u.
func (b *browser) cookie(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.c.Jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// start presses "Sign in with Test OP" (or, with connect, "Connect Test
// OP" on the account page) and returns the provider's authorization URL.
func (b *browser) start(srv *oidcServer, next string, connect bool) *url.URL {
	b.t.Helper()
	page := "/login"
	form := url.Values{}
	if connect {
		page = "/account"
		form.Set("connect", "1")
	}
	form.Set("csrf_token", b.csrf(srv.URL+page))
	if next != "" {
		form.Set("next", next)
	}
	resp, body := b.do(http.MethodPost, srv.URL+srv.startPath(), form)
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("POST %s: %d, want 303\n%s", srv.startPath(), resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), srv.op.URL) {
		b.t.Fatalf("start redirected to %q, want the provider %s", resp.Header.Get("Location"), srv.op.URL)
	}
	return loc
}

// atProvider logs in at the provider as user and returns the callback
// URL the provider sends the browser back to, without following it.
func (b *browser) atProvider(auth *url.URL, user string) *url.URL {
	b.t.Helper()
	resp, _ := b.get(auth.String())
	for range 5 {
		loc := resp.Header.Get("Location")
		if loc == "" {
			break
		}
		u, _ := auth.Parse(loc)
		if strings.HasPrefix(u.Path, "/login/username") {
			id := u.Query().Get("authRequestID")
			resp, _ = b.do(http.MethodPost, u.Scheme+"://"+u.Host+"/login/username",
				url.Values{"id": {id}, "username": {user}, "password": {opPassword}})
			continue
		}
		if strings.HasPrefix(u.Path, "/login/oidc/") {
			return u
		}
		resp, _ = b.get(u.String())
	}
	b.t.Fatalf("the provider did not send the browser back (last answer %d %s)", resp.StatusCode, resp.Header.Get("Location"))
	return nil
}

// signIn goes through the whole flow as user and returns the callback's
// answer.
func (b *browser) signIn(srv *oidcServer, user, next string) (*http.Response, string) {
	b.t.Helper()
	cb := b.atProvider(b.start(srv, next, false), user)
	return b.get(cb.String())
}

// me returns the username of the browser's logged-in user, or "".
func (b *browser) me(srv *oidcServer) string {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
	req.Header.Set("Accept", "application/json")
	if b.ip != "" {
		req.Header.Set("X-Forwarded-For", b.ip)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	m := regexp.MustCompile(`"username":"([^"]*)"`).FindStringSubmatch(string(body))
	if m == nil {
		b.t.Fatalf("/api/me: %s", body)
	}
	return m[1]
}

func wantStatus(t *testing.T, what string, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d\n%.2000s", what, resp.StatusCode, want, body)
	}
}

// wantLoggedOut fails when the browser has a logged-in session.
func wantLoggedOut(t *testing.T, srv *oidcServer, b *browser, what string) {
	t.Helper()
	if u := b.me(srv); u != "" {
		t.Fatalf("%s: the browser is logged in as %q, want no session", what, u)
	}
}

// register creates a local account with a password through the form.
func register(t *testing.T, srv *oidcServer, name, email, pw string) {
	t.Helper()
	b := newBrowser(t)
	resp, body := b.do(http.MethodPost, srv.URL+"/register", url.Values{"csrf_token": {b.csrf(srv.URL + "/register")},
		"username": {name}, "email": {email}, "password": {pw}})
	wantStatus(t, "register "+name, resp, body, http.StatusSeeOther)
}

// passwordLogin logs b in with a password and returns the answer.
func passwordLogin(t *testing.T, srv *oidcServer, b *browser, name, pw string) (*http.Response, string) {
	t.Helper()
	return b.do(http.MethodPost, srv.URL+"/login", url.Values{"csrf_token": {b.csrf(srv.URL + "/login")},
		"username": {name}, "password": {pw}})
}

// The happy path: the first sign-in creates an account (username from
// preferred_username) and lands on next; the session token is new; a
// second sign-in finds the same account; the account page lists the
// provider; a password login to that account fails like an unknown user.
func TestE2EOIDCSignIn(t *testing.T) {
	srv := startOIDC(t)
	b := newBrowser(t)

	auth := b.start(srv, "/account", false)
	q := auth.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorization request has no %s: %s", k, auth)
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != opClientID ||
		q.Get("redirect_uri") != srv.URL+"/login/oidc/testop/callback" {
		t.Errorf("authorization request %s: want S256, client %s, redirect to the callback", auth, opClientID)
	}
	before := b.cookie(srv.URL, "hallpass_session")
	if before == "" {
		t.Fatal("no session cookie after starting a sign-in: the state is not bound to the browser")
	}
	resp, body := b.get(b.atProvider(auth, "alice").String())
	wantStatus(t, "callback", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/account" {
		t.Errorf("callback redirected to %q, want next (/account)", loc)
	}
	if after := b.cookie(srv.URL, "hallpass_session"); after == "" || after == before {
		t.Errorf("the session token did not change at sign-in")
	}
	if b.cookie(srv.URL, "hallpass_remember") != "" {
		t.Errorf("a remember-me cookie was set: a provider sign-in must not imply it")
	}
	if got := b.me(srv); got != "alice" {
		t.Fatalf("logged in as %q, want alice (from preferred_username)", got)
	}
	resp, body = b.get(srv.URL + "/account")
	wantStatus(t, "account page", resp, body, http.StatusOK)
	if !strings.Contains(body, "Disconnect") || !strings.Contains(body, "alice@idp.example") {
		t.Errorf("the account page does not list the connected provider")
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self' "+srv.op.URL) {
		t.Errorf("CSP %q does not let forms go on to the provider", resp.Header.Get("Content-Security-Policy"))
	}

	// A second sign-in, in another browser, finds the same account.
	b2 := newBrowser(t)
	resp, body = b2.signIn(srv, "alice", "")
	wantStatus(t, "second sign-in", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/dashboard" {
		t.Errorf("second sign-in redirected to %q, want /dashboard", loc)
	}
	if got := b2.me(srv); got != "alice" {
		t.Errorf("second sign-in: logged in as %q, want the same account alice", got)
	}

	// The account has no password: a password login fails as for an
	// unknown user.
	b3 := newBrowser(t)
	resp, body = passwordLogin(t, srv, b3, "alice", "anything-at-all-1")
	wantStatus(t, "password login to a provider-only account", resp, body, http.StatusUnauthorized)
	_, unknown := passwordLogin(t, srv, b3, "nobody-here", "anything-at-all-1")
	if !strings.Contains(body, "Invalid username or password.") || !strings.Contains(unknown, "Invalid username or password.") {
		t.Errorf("password login to a provider-only account does not answer as for an unknown user")
	}
	wantLoggedOut(t, srv, b3, "password login to a provider-only account")
	if !strings.Contains(srv.logs.String(), "oidc.signup") || !strings.Contains(srv.logs.String(), "oidc.success") {
		t.Errorf("no oidc.signup and oidc.success audit events in the log")
	}
}

// Each attack on the callback is refused with 401 and creates no session.
// Each case comes from its own address (the server trusts the test as a
// proxy), so the callback throttle, tested on its own below, stays out of
// the way.
func TestE2EOIDCAttacks(t *testing.T) {
	srv := startOIDC(t, "HALLPASS_TRUSTED_PROXIES=127.0.0.1/32")
	ips := 0
	newBrowser := func(t *testing.T) *browser {
		ips++
		b := newBrowser(t)
		b.ip = fmt.Sprintf("203.0.113.%d", ips)
		return b
	}

	tests := []struct {
		name   string
		tamper tamper
		// callback returns the URL the browser b is made to load, given
		// the callback the provider sent back (for b's own flow, when
		// own is true, else for an attacker's flow in another browser).
		callback func(t *testing.T, b *browser, cb *url.URL) string
		reason   string
	}{
		{"forged state", honest, func(t *testing.T, b *browser, cb *url.URL) string {
			return withQuery(cb, "state", "forged-state-0123456789")
		}, "bad_state"},
		{"no state", honest, func(t *testing.T, b *browser, cb *url.URL) string {
			return withQuery(cb, "state", "")
		}, "bad_state"},
		{"replayed callback", honest, func(t *testing.T, b *browser, cb *url.URL) string {
			resp, body := b.get(cb.String())
			wantStatus(t, "first use of the callback", resp, body, http.StatusSeeOther)
			// Log out, then play the same callback again.
			b.do(http.MethodPost, srv.URL+"/logout", url.Values{"csrf_token": {b.csrf(srv.URL + "/account")}})
			return cb.String()
		}, "bad_state"},
		{"bad code", honest, func(t *testing.T, b *browser, cb *url.URL) string {
			return withQuery(cb, "code", "not-a-code-the-provider-issued")
		}, "bad_code"},
		{"provider error access_denied", honest, func(t *testing.T, b *browser, cb *url.URL) string {
			u := *cb
			q := url.Values{"state": {cb.Query().Get("state")}, "error": {"access_denied"}}
			u.RawQuery = q.Encode()
			return u.String()
		}, "provider_error:access_denied"},
		{"wrong nonce", wrongNonce, nil, "bad_nonce"},
		{"extra untrusted audience", extraAudience, nil, "untrusted_audience"},
		{"expired ID token", expiredToken, nil, "expired_id_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.op.storage.set(tt.tamper)
			t.Cleanup(func() { srv.op.storage.set(honest) })
			b := newBrowser(t)
			cb := b.atProvider(b.start(srv, "", false), "bob")
			target := cb.String()
			if tt.callback != nil {
				target = tt.callback(t, b, cb)
			}
			resp, body := b.get(target)
			wantStatus(t, tt.name, resp, body, http.StatusUnauthorized)
			if !strings.Contains(body, "did not") {
				t.Errorf("%s: the page does not say the sign-in failed", tt.name)
			}
			wantLoggedOut(t, srv, b, tt.name)
			if want := "reason=" + tt.reason; !strings.Contains(srv.logs.String(), want) {
				t.Errorf("%s: no oidc.failure audit event with %s", tt.name, want)
			}
		})
	}

	// Login CSRF: the attacker finishes the flow at the provider in their
	// own browser and has the victim's browser load the callback.
	t.Run("login CSRF", func(t *testing.T) {
		attacker, victim := newBrowser(t), newBrowser(t)
		cb := attacker.atProvider(attacker.start(srv, "", false), "carol")
		victim.start(srv, "", false) // the victim may even have a sign-in of their own under way
		resp, body := victim.get(cb.String())
		wantStatus(t, "attacker's callback in the victim's browser", resp, body, http.StatusUnauthorized)
		wantLoggedOut(t, srv, victim, "login CSRF")
	})

	// Expired state: covered with a clock in package oidc's tests
	// (TestCallbackStateExpires), since the server runs on real time.

	t.Run("next=//evil is ignored", func(t *testing.T) {
		b := newBrowser(t)
		resp, body := b.signIn(srv, "dave", "//evil.example/steal")
		wantStatus(t, "sign-in with next=//evil", resp, body, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); loc != "/dashboard" {
			t.Errorf("sign-in with next=//evil redirected to %q, want /dashboard", loc)
		}
	})

	t.Run("unknown provider", func(t *testing.T) {
		b := newBrowser(t)
		resp, body := b.do(http.MethodPost, srv.URL+"/login/oidc/nope", url.Values{"csrf_token": {b.csrf(srv.URL + "/login")}})
		wantStatus(t, "POST /login/oidc/nope", resp, body, http.StatusNotFound)
		resp, body = b.get(srv.URL + "/login/oidc/nope/callback?code=x&state=y")
		wantStatus(t, "GET /login/oidc/nope/callback", resp, body, http.StatusNotFound)
	})

	t.Run("start without CSRF token", func(t *testing.T) {
		b := newBrowser(t)
		resp, body := b.do(http.MethodPost, srv.URL+"/login/oidc/testop", url.Values{})
		wantStatus(t, "POST /login/oidc/testop without csrf_token", resp, body, http.StatusForbidden)
	})
}

func withQuery(u *url.URL, key, value string) string {
	c := *u
	q := c.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// Callbacks count per client address like logins: a run of refused
// callbacks from one address is answered 429, and another address is not
// held back.
func TestE2EOIDCCallbackThrottle(t *testing.T) {
	srv := startOIDC(t, "HALLPASS_TRUSTED_PROXIES=127.0.0.1/32")
	b := newBrowser(t)
	b.ip = "198.51.100.7"
	throttled := 0
	for i := range 12 {
		resp, _ := b.get(srv.URL + "/login/oidc/testop/callback?code=guess" + strconv.Itoa(i) + "&state=guess" + strconv.Itoa(i))
		switch resp.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			throttled++
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Fatalf("guess %d: status %d, want 401 or 429", i, resp.StatusCode)
		}
	}
	if throttled == 0 {
		t.Fatalf("12 forged callbacks from one address were never throttled")
	}
	other := newBrowser(t)
	other.ip = "198.51.100.8"
	resp, body := other.signIn(srv, "alice", "")
	wantStatus(t, "sign-in from another address", resp, body, http.StatusSeeOther)
}

// A verified email at the provider that matches a local account creates a
// new account: the victim's account is neither linked nor logged into.
func TestE2EOIDCNoLinkByEmail(t *testing.T) {
	srv := startOIDC(t)
	register(t, srv, "victim", "erin@idp.example", "victim-password-123")
	register(t, srv, "erin", "someone@else.example", "other-password-123")
	b := newBrowser(t)
	resp, body := b.signIn(srv, "erin", "")
	wantStatus(t, "sign-in whose email matches the victim", resp, body, http.StatusSeeOther)
	got := b.me(srv)
	if got == "victim" || got == "erin" || got == "" {
		t.Fatalf("signed in as %q, want a new account (neither victim nor the existing erin)", got)
	}
	v := newBrowser(t)
	resp, body = passwordLogin(t, srv, v, "victim", "victim-password-123")
	wantStatus(t, "the victim's password login", resp, body, http.StatusSeeOther)
	resp, body = v.get(srv.URL + "/account")
	wantStatus(t, "the victim's account page", resp, body, http.StatusOK)
	if strings.Contains(body, "Disconnect") || !strings.Contains(body, "No provider is connected.") {
		t.Errorf("the victim's account page lists a connected provider")
	}
	if got := v.me(srv); got != "victim" {
		t.Errorf("the victim's own login reached %q", got)
	}
}

// With sign-up off, an unknown identity gets 403 and no account.
func TestE2EOIDCSignupOff(t *testing.T) {
	srv := startOIDC(t, "HALLPASS_OIDC_TESTOP_SIGNUP=false")
	b := newBrowser(t)
	resp, body := b.signIn(srv, "alice", "")
	wantStatus(t, "first sign-in with sign-up off", resp, body, http.StatusForbidden)
	wantLoggedOut(t, srv, b, "sign-up off")
	resp, body = passwordLogin(t, srv, newBrowser(t), "alice", "anything-at-all-1")
	wantStatus(t, "login as the account sign-up would have made", resp, body, http.StatusUnauthorized)
	if !strings.Contains(srv.logs.String(), "reason=signup_closed") {
		t.Errorf("no oidc.failure audit event for the closed sign-up")
	}
}

// Connect and disconnect from the account page: a user with a password
// connects an identity, signs in with it, disconnects it; an identity held
// by another account answers 409; the only login method cannot go (403).
func TestE2EOIDCConnectDisconnect(t *testing.T) {
	srv := startOIDC(t)
	register(t, srv, "paula", "paula@example.com", "paula-password-123")
	p := newBrowser(t)
	resp, body := passwordLogin(t, srv, p, "paula", "paula-password-123")
	wantStatus(t, "paula's login", resp, body, http.StatusSeeOther)

	resp, body = p.get(p.atProvider(p.start(srv, "", true), "bob").String())
	wantStatus(t, "connect bob", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/account" {
		t.Errorf("connect redirected to %q, want /account", loc)
	}
	if got := p.me(srv); got != "paula" {
		t.Errorf("after connecting, logged in as %q, want still paula", got)
	}
	b := newBrowser(t)
	b.signIn(srv, "bob", "")
	if got := b.me(srv); got != "paula" {
		t.Fatalf("signing in as bob after the connect reached %q, want paula", got)
	}

	// alice signs up through the provider; paula cannot take her identity.
	a := newBrowser(t)
	a.signIn(srv, "alice", "")
	if a.me(srv) != "alice" {
		t.Fatal("alice's sign-up failed")
	}
	resp, body = p.get(p.atProvider(p.start(srv, "", true), "alice").String())
	wantStatus(t, "connect an identity held by another account", resp, body, http.StatusConflict)

	// alice has no password: her only identity cannot go.
	resp, body = a.do(http.MethodPost, srv.URL+"/login/oidc/testop/disconnect", url.Values{"csrf_token": {a.csrf(srv.URL + "/account")}})
	wantStatus(t, "disconnect the only login method", resp, body, http.StatusForbidden)
	b2 := newBrowser(t)
	b2.signIn(srv, "alice", "")
	if b2.me(srv) != "alice" {
		t.Error("after the refused disconnect, alice cannot sign in")
	}

	// paula has a password: she may disconnect.
	resp, body = p.do(http.MethodPost, srv.URL+"/login/oidc/testop/disconnect", url.Values{"csrf_token": {p.csrf(srv.URL + "/account")}})
	wantStatus(t, "paula disconnects bob", resp, body, http.StatusSeeOther)
	b3 := newBrowser(t)
	b3.signIn(srv, "bob", "")
	if got := b3.me(srv); got == "paula" {
		t.Errorf("after the disconnect, bob's sign-in still reaches paula")
	}
	for _, ev := range []string{"oidc.link", "oidc.unlink", "reason=linked_to_another", "reason=last_login_method"} {
		if !strings.Contains(srv.logs.String(), ev) {
			t.Errorf("no %s in the audit log", ev)
		}
	}
}

// A provider that is down at start-up is logged and its button disabled;
// the server starts anyway.
func TestE2EOIDCProviderDown(t *testing.T) {
	addr := freePort(t)
	down := "http://" + freePort(t)
	srv := startServer(t, "HALLPASS_ADDR="+addr, "HALLPASS_BASE_URL=http://"+addr,
		"HALLPASS_OIDC_PROVIDERS=corp", "HALLPASS_OIDC_CORP_ISSUER="+down,
		"HALLPASS_OIDC_CORP_CLIENT_ID=x", "HALLPASS_OIDC_CORP_CLIENT_SECRET=y", "HALLPASS_OIDC_CORP_LABEL=Corp SSO")
	b := newBrowser(t)
	resp, body := b.get(srv.URL + "/login")
	wantStatus(t, "login page", resp, body, http.StatusOK)
	if !regexp.MustCompile(`disabled[^>]*>Sign in with Corp SSO`).MatchString(body) {
		t.Errorf("the button of a provider that is down is not disabled:\n%s", body)
	}
	if !strings.Contains(srv.logs.String(), "provider discovery failed") {
		t.Errorf("the failed discovery is not logged")
	}
	resp, body = b.do(http.MethodPost, srv.URL+"/login/oidc/corp", url.Values{"csrf_token": {b.csrf(srv.URL + "/login")}})
	wantStatus(t, "start with a provider that is down", resp, body, http.StatusServiceUnavailable)
}

// A missing setting stops start-up, naming the variable.
func TestE2EOIDCMissingSetting(t *testing.T) {
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := commandOutput(ctx, bin, []string{"HALLPASS_ADDR=127.0.0.1:0", "HALLPASS_DATA=" + t.TempDir(), "HALLPASS_SECRET_KEYS=" + testKeys,
		"HALLPASS_OIDC_PROVIDERS=google", "HALLPASS_OIDC_GOOGLE_ISSUER=https://accounts.google.com", "HALLPASS_OIDC_GOOGLE_CLIENT_ID=abc"}, "serve")
	if err == nil || !strings.Contains(out, "HALLPASS_OIDC_GOOGLE_CLIENT_SECRET") {
		t.Errorf("serve without a client secret: err %v, output %q; want a failure naming HALLPASS_OIDC_GOOGLE_CLIENT_SECRET", err, out)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("serve without a client secret did not stop")
	}
}

// A person clicks "Sign in with Test OP" in Chromium, logs in on the
// provider's own page and lands on the dashboard with a new account.
func TestE2EBrowserOIDCSignIn(t *testing.T) {
	chromiumPath(t) // skip early, before the servers start
	srv := startOIDC(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b := startChromium(t, ctx, srv.URL)

	b.wantPage("open the login page", b.open("/login"), "/login")
	resp := b.clickAndWait(button("//main", "Sign in with Test OP"))
	if u, _ := url.Parse(resp.URL); resp.Status != http.StatusOK || !strings.HasPrefix(resp.URL, srv.op.URL) || u.Path != "/login/username" {
		b.fatalf("the button led to %d %s, want the provider's login page", resp.Status, resp.URL)
	}
	b.fill("Username:", "alice")
	b.fill("Password:", opPassword)
	b.wantPage("log in at the provider", b.clickAndWait(button("//form", "Login")), "/dashboard")
	if got, want := b.text("main h1 + p"), "Welcome alice! This is your dashboard."; got != want {
		b.fatalf("dashboard says %q, want %q", got, want)
	}
	if jar := b.cookies(); jar["hallpass_session"] == nil || jar["hallpass_remember"] != nil {
		b.fatalf("cookies after the sign-in %v, want hallpass_session and no remember-me", cookieNames(jar))
	}
}

// A user with a second factor who signs in through a provider is not
// logged in by the provider alone: the callback leaves a pending login and
// sends the browser to /login/2fa (next kept), where a TOTP code completes
// it under a new session token.
func TestE2EOIDCSecondFactor(t *testing.T) {
	srv := startOIDC(t)
	b := newBrowser(t)
	resp, body := b.signIn(srv, "alice", "")
	wantStatus(t, "first sign-in", resp, body, http.StatusSeeOther)

	// Enrol TOTP, fresh from the sign-in.
	resp, body = b.get(srv.URL + "/account/2fa")
	wantStatus(t, "2FA page", resp, body, http.StatusOK)
	m := regexp.MustCompile(`id="totp-secret"[^>]*>([A-Z2-7]+)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no TOTP secret on the 2FA page:\n%.3000s", body)
	}
	secret := m[1]
	code, err := twofa.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, body = b.do(http.MethodPost, srv.URL+"/account/2fa/totp", url.Values{"csrf_token": {b.csrf(srv.URL + "/account/2fa")}, "code": {code}})
	if resp.StatusCode >= 400 {
		t.Fatalf("enable TOTP: %d\n%.2000s", resp.StatusCode, body)
	}

	// A new browser signs in through the provider: pending, not logged in.
	b2 := newBrowser(t)
	resp, body = b2.signIn(srv, "alice", "/account")
	wantStatus(t, "sign-in with a second factor", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/login/2fa" {
		t.Fatalf("callback redirected to %q, want /login/2fa", loc)
	}
	wantLoggedOut(t, srv, b2, "after the provider, before the code")
	if resp, _ := b2.get(srv.URL + "/dashboard"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("GET /dashboard while pending: %d %s, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	pending := b2.cookie(srv.URL, "hallpass_session")

	// The next step's code (the first was used by the enrolment).
	code, _ = twofa.Code(secret, time.Now().Add(twofa.Period))
	resp, body = b2.do(http.MethodPost, srv.URL+"/login/2fa", url.Values{"csrf_token": {b2.csrf(srv.URL + "/login/2fa")}, "code": {code}})
	wantStatus(t, "code", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/account" {
		t.Errorf("after the code: redirected to %q, want next (/account)", loc)
	}
	if got := b2.me(srv); got != "alice" {
		t.Fatalf("after the code: logged in as %q, want alice", got)
	}
	if b2.cookie(srv.URL, "hallpass_session") == pending {
		t.Errorf("the session token did not change when the code completed the login")
	}
}

// An address the provider does not vouch for (email_verified false) does
// not become the new account's: else whoever signed up with someone
// else's address kept a way in (the identity) to the account that a
// password reset to that address then handed to the address's owner.
func TestE2EOIDCUnverifiedAddressNotTaken(t *testing.T) {
	srv := startOIDC(t)
	b := newBrowser(t)
	resp, body := b.signIn(srv, "frank", "")
	wantStatus(t, "sign-up with an unverified address", resp, body, http.StatusSeeOther)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/me", nil)
	req.Header.Set("Accept", "application/json")
	r, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct{ Username, Email string }
	err = json.NewDecoder(r.Body).Decode(&me)
	r.Body.Close()
	if err != nil || me.Username == "" || me.Email != "" {
		t.Errorf("GET /api/me after the sign-up: %+v, %v; want the account, with no address", me, err)
	}
}

// With HALLPASS_REQUIRE_VERIFIED_EMAIL, a provider sign-in is held to the
// same rule as a password login: an account whose address is not verified
// (the provider did not vouch for it) gets the page that offers the link,
// and no session; a verified one signs in.
func TestE2EOIDCRequireVerifiedEmail(t *testing.T) {
	srv := startOIDC(t, "HALLPASS_REQUIRE_VERIFIED_EMAIL=true")
	b := newBrowser(t)
	resp, body := b.signIn(srv, "frank", "")
	wantStatus(t, "sign-in with an unverified address", resp, body, http.StatusForbidden)
	if !strings.Contains(body, "Please confirm your email address") || !strings.Contains(body, "this account has none") {
		t.Errorf("the answer is not the page that says the account has no confirmed address:\n%.2000s", body)
	}
	wantLoggedOut(t, srv, b, "unverified address")
	if !strings.Contains(srv.logs.String(), "refused_before_login") {
		t.Errorf("no oidc.failure event with reason refused_before_login")
	}
	resp, body = newBrowser(t).signIn(srv, "alice", "")
	wantStatus(t, "sign-in with a verified address", resp, body, http.StatusSeeOther)
}
