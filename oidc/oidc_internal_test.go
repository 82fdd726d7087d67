package oidc

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testService returns a Service with one provider "corp" made ready by
// hand, whose endpoints are on a closed port: the provider is never
// reached by the checks tested here, which come before the code exchange.
// It returns the app's handler and the audit log's text.
func testService(t *testing.T, c *clock) (http.Handler, *bytes.Buffer) {
	t.Helper()
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	t.Cleanup(func() { store.Close() })
	sessions, err := session.New(session.Config{Store: store, Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	lm, err := login.New(login.Config{Sessions: sessions, Users: memstore.NewAccountStore(), Passwords: &password.Hasher{},
		Audit: audit.New(logger), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Providers: []Provider{{ID: "corp", Issuer: "http://127.0.0.1:1", ClientID: "app"}},
		BaseURL: "https://app.example", Login: lm, Identities: memstore.NewIdentityStore(), Logger: logger, Now: c.now,
		RetryEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	svc.WaitDiscovery(t.Context())
	p := svc.byID["corp"]
	p.mu.Lock()
	p.oauth = &oauth2.Config{ClientID: "app", RedirectURL: p.redirect, Scopes: p.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: "http://127.0.0.1:1/auth", TokenURL: "http://127.0.0.1:1/token"}}
	p.verifier = gooidc.NewVerifier("http://127.0.0.1:1", &gooidc.StaticKeySet{}, &gooidc.Config{ClientID: "app"})
	p.mu.Unlock()
	mux := http.NewServeMux()
	svc.Register(mux)
	return sessions.Middleware(lm.Middleware(mux)), &logs
}

// run sends r through h with the cookies of jar and keeps the ones set.
func run(h http.Handler, r *http.Request, jar map[string]*http.Cookie) *httptest.ResponseRecorder {
	for _, c := range jar {
		r.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	for _, c := range rec.Result().Cookies() {
		jar[c.Name] = c
	}
	return rec
}

// start begins a sign-in and returns its state.
func start(t *testing.T, h http.Handler, jar map[string]*http.Cookie) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/login/oidc/corp", strings.NewReader("next=%2Fnotes"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := run(h, req, jar)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("start: %d, want 303", rec.Code)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Fatalf("start redirected to %s: want a state, a nonce and an S256 challenge", loc)
	}
	return q.Get("state")
}

// The state of a sign-in expires after StateFor, and is refused before
// the provider is asked anything.
func TestCallbackStateExpires(t *testing.T) {
	tests := []struct {
		name   string
		wait   time.Duration
		reason string // in the audit log
	}{
		{"just before expiry reaches the code exchange", StateFor - time.Second, "reason=bad_code"},
		{"at expiry", StateFor, "reason=expired_state"},
		{"well after (the session lives on)", StateFor + 5*time.Minute, "reason=expired_state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Now()}
			h, logs := testService(t, c)
			jar := map[string]*http.Cookie{}
			state := start(t, h, jar)
			c.add(tt.wait)
			rec := run(h, httptest.NewRequest(http.MethodGet, "/login/oidc/corp/callback?code=abc&state="+state, nil), jar)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("callback after %v: %d, want 401", tt.wait, rec.Code)
			}
			if !strings.Contains(logs.String(), tt.reason) {
				t.Errorf("callback after %v: audit log lacks %q:\n%s", tt.wait, tt.reason, logs)
			}
		})
	}
}

// A state is bound to the provider it was started for and usable once.
func TestCallbackStateChecks(t *testing.T) {
	c := &clock{t: time.Now()}
	h, logs := testService(t, c)
	jar := map[string]*http.Cookie{}
	state := start(t, h, jar)
	for i, q := range []string{
		"code=abc",                      // no state
		"code=abc&state=" + state + "x", // forged
		"code=abc&state=" + state,       // the real one: reaches the exchange, fails there
		"code=abc&state=" + state,       // replayed
	} {
		rec := run(h, httptest.NewRequest(http.MethodGet, "/login/oidc/corp/callback?"+q, nil), jar)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("callback %d (%s): %d, want 401", i, q, rec.Code)
		}
	}
	state = start(t, h, jar)
	rec := run(h, httptest.NewRequest(http.MethodGet, "/login/oidc/corp/callback?code=abc&iss=https%3A%2F%2Fevil.example&state="+state, nil), jar)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(logs.String(), "reason=bad_iss") {
		t.Errorf("callback naming another issuer (RFC 9207): %d, want 401 audited bad_iss", rec.Code)
	}
	if n := strings.Count(logs.String(), "reason=bad_state"); n != 3 {
		t.Errorf("%d bad_state refusals audited, want 3:\n%s", n, logs)
	}
	rec = run(h, httptest.NewRequest(http.MethodGet, "/login/oidc/other/callback?code=abc&state=x", nil), jar)
	if rec.Code != http.StatusNotFound {
		t.Errorf("callback of an unknown provider: %d, want 404", rec.Code)
	}
}

func TestUsernames(t *testing.T) {
	tests := []struct {
		name  string
		c     claims
		email string
		want  string
	}{
		{"preferred_username", claims{PreferredUsername: "ada.l"}, "x@y.z", "ada.l"},
		{"cleaned", claims{PreferredUsername: "Ada Lovelace!"}, "", "Ada.Lovelace"},
		{"email local part", claims{PreferredUsername: "é"}, "grace@navy.mil", "grace"},
		{"name", claims{Name: "Alan Turing"}, "", "Alan.Turing"},
		{"nothing usable", claims{PreferredUsername: "李"}, "", "user"},
		{"too long", claims{PreferredUsername: strings.Repeat("a", 100)}, "", strings.Repeat("a", 56)},
	}
	for _, tt := range tests {
		got := usernames(&tt.c, tt.email)
		if got[0] != tt.want {
			t.Errorf("%s: usernames()[0] = %q, want %q", tt.name, got[0], tt.want)
		}
		if len(got) != maxNameTries || got[1] != tt.want+"-2" {
			t.Errorf("%s: %d names, second %q; want %d, %q", tt.name, len(got), got[1], maxNameTries, tt.want+"-2")
		}
	}
}

func TestErrorCode(t *testing.T) {
	for in, want := range map[string]string{
		"access_denied":             "access_denied",
		"x\nforged=log line":        "xforgedlogline",
		strings.Repeat("a", 100):    strings.Repeat("a", 40),
		"<script>alert(1)</script>": "scriptalertscript",
		"temporarily_unavailable 🙂": "temporarily_unavailable",
	} {
		if got := errorCode(in); got != want {
			t.Errorf("errorCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	c := &clock{t: time.Now()}
	_, _ = testService(t, c) // a valid one builds
	store := memstore.NewSessionStore(memstore.SessionOptions{})
	defer store.Close()
	sessions, _ := session.New(session.Config{Store: store, Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}})
	lm, _ := login.New(login.Config{Sessions: sessions, Users: memstore.NewAccountStore(), Passwords: &password.Hasher{}})
	ok := Provider{ID: "corp", Issuer: "https://idp.example", ClientID: "app"}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no login", Config{BaseURL: "https://a.example", Identities: memstore.NewIdentityStore()}, "required"},
		{"bad base URL", Config{BaseURL: "a.example", Login: lm, Identities: memstore.NewIdentityStore()}, "BaseURL"},
		{"bad ID", Config{BaseURL: "https://a.example", Login: lm, Identities: memstore.NewIdentityStore(),
			Providers: []Provider{{ID: "Corp", Issuer: ok.Issuer, ClientID: "app"}}}, "provider ID"},
		{"twice", Config{BaseURL: "https://a.example", Login: lm, Identities: memstore.NewIdentityStore(),
			Providers: []Provider{ok, ok}}, "twice"},
		{"no client ID", Config{BaseURL: "https://a.example", Login: lm, Identities: memstore.NewIdentityStore(),
			Providers: []Provider{{ID: "corp", Issuer: ok.Issuer}}}, "ClientID"},
		{"bad issuer", Config{BaseURL: "https://a.example", Login: lm, Identities: memstore.NewIdentityStore(),
			Providers: []Provider{{ID: "corp", Issuer: "idp.example", ClientID: "app"}}}, "Issuer"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestErrorsHaveKinds(t *testing.T) {
	for err, kind := range map[error]autherr.Kind{
		ErrFailed: autherr.Unauthenticated, ErrDenied: autherr.Unauthenticated, ErrSignupClosed: autherr.Forbidden,
		ErrLastMethod: autherr.Forbidden, ErrUnknownProvider: autherr.NotFound, ErrProviderUnavailable: autherr.Unavailable,
		refuse(ErrFailed, "bad_nonce"): autherr.Unauthenticated,
	} {
		if got := autherr.KindOf(err); got != kind {
			t.Errorf("KindOf(%v) = %v, want %v", err, got, kind)
		}
	}
	if !errors.Is(refuse(ErrDenied, "x"), ErrDenied) {
		t.Error("a refusal does not wrap its error")
	}
}

// The default client keeps its connections to a provider when sign-ins
// come at once: 16 concurrent requests, four times over, open 16
// connections, not the 58 that net/http's default of two idle connections
// per host would (each request past the second dials a new one, and with
// a real provider shakes hands over TLS again).
func TestDefaultClientKeepsConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // the requests of a round overlap
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"x","token_type":"Bearer"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	client := defaultHTTPClient()
	defer client.CloseIdleConnections()
	const concurrent, rounds = 16, 4
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, concurrent)
		for range concurrent {
			wg.Go(func() {
				resp, err := client.PostForm(srv.URL+"/token", url.Values{"grant_type": {"authorization_code"}})
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round+1, err)
		}
	}
	if n := opened.Load(); n > concurrent+concurrent/2 {
		t.Errorf("%d rounds of %d concurrent requests opened %d connections; want about %d (idle ones reused)", rounds, concurrent, n, concurrent)
	}
}
