package login_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/session/sessiontest"
	"github.com/hallpass/hallpass/throttle"
)

// counterBackend makes a fresh throttle.Counter for a test.
type counterBackend struct {
	name string
	open func(t *testing.T) throttle.Counter
}

// counterBackends are the counters every throttling test runs on: memory
// always, Redis when HALLPASS_TEST_REDIS_URL is set.
var counterBackends = []counterBackend{
	{"memory", func(t *testing.T) throttle.Counter {
		return throttle.NewMemoryCounter(throttle.MemoryOptions{})
	}},
	{"redis", func(t *testing.T) throttle.Counter {
		url := os.Getenv("HALLPASS_TEST_REDIS_URL")
		if url == "" {
			t.Skip("HALLPASS_TEST_REDIS_URL not set; skipping the Redis counter")
		}
		c, err := redisstore.ParseURL(url)
		if err != nil {
			t.Fatalf("ParseURL(HALLPASS_TEST_REDIS_URL) = %v", err)
		}
		prefix := "hallpass-test:" + rand.Text()[:12] + ":"
		t.Cleanup(func() {
			ctx := context.Background()
			iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
			c.Close()
		})
		return redisstore.NewCounter(c, redisstore.Options{Prefix: prefix})
	}},
}

// countingHasher is the real hasher, counting the password checks that
// reach it (Verify and DummyVerify). Each check waits until every one of
// the burst's attempts has either reached a check or been refused, so
// all attempts are in flight together and none is decided before the
// others ask: the worst case for a limit, reached without sleeping.
type countingHasher struct {
	*password.Hasher
	checks  atomic.Int64
	settled atomic.Int64 // attempts that reached a check or were refused
	burst   int64
	all     chan struct{} // closed when settled reaches burst
	once    sync.Once
}

func newCountingHasher(burst int) *countingHasher {
	return &countingHasher{Hasher: &password.Hasher{Params: cheap}, burst: int64(burst), all: make(chan struct{})}
}

func (h *countingHasher) settle() {
	if h.settled.Add(1) >= h.burst {
		h.once.Do(func() { close(h.all) })
	}
}

func (h *countingHasher) wait(ctx context.Context) {
	h.checks.Add(1)
	h.settle()
	select {
	case <-h.all:
	case <-ctx.Done():
	}
}

func (h *countingHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	h.wait(ctx)
	return h.Hasher.Verify(ctx, pw, encoded)
}

func (h *countingHasher) VerifyRehash(ctx context.Context, pw, encoded string) (bool, bool, error) {
	h.wait(ctx)
	return h.Hasher.VerifyRehash(ctx, pw, encoded)
}

func (h *countingHasher) DummyVerify(ctx context.Context, pw string) error {
	h.wait(ctx)
	return h.Hasher.DummyVerify(ctx, pw)
}

// newThrottledManager returns a login Manager whose throttle keeps its
// counts in counter.
func newThrottledManager(t *testing.T, h login.Hasher, counter throttle.Counter, cfg throttle.Config) *login.Manager {
	t.Helper()
	lm, err := login.New(login.Config{
		Sessions:  memSessions(t),
		Users:     memstore.NewAccountStore(),
		Passwords: h,
		Throttle:  throttle.New(counter, cfg),
	})
	if err != nil {
		t.Fatal(err)
	}
	return lm
}

// Parallel wrong passwords are counted before their passwords are
// checked: a burst of 40 leads to at most the limit's 10 checks, and the
// rest are refused with throttle.ErrThrottled (429), on every counter.
func TestParallelGuessesCheckedAtMostLimit(t *testing.T) {
	const burst, limit = 40, 10
	tests := []struct {
		name     string
		cfg      throttle.Config
		username func(i int) string
	}{
		{"one account", throttle.Config{PerAccount: limit},
			func(int) string { return "ada" }},
		{"one address, many accounts", throttle.Config{PerIP: limit},
			func(i int) string { return fmt.Sprint("user", i) }},
	}
	for _, backend := range counterBackends {
		t.Run(backend.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					h := newCountingHasher(burst)
					lm := newThrottledManager(t, h, backend.open(t), tt.cfg)
					if _, err := lm.Register(t.Context(), "ada", "ada@example.com", "correct horse battery"); err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
					defer cancel()
					var throttled, invalid atomic.Int64
					var wg sync.WaitGroup
					for i := range burst {
						wg.Go(func() {
							r := httptest.NewRequestWithContext(ctx, "POST", "/login", nil)
							r.RemoteAddr = "192.0.2.1:1234"
							_, err := lm.Authenticate(r, tt.username(i), "wrong password")
							switch {
							case errors.Is(err, login.ErrInvalidCredentials):
								invalid.Add(1)
							case errors.Is(err, throttle.ErrThrottled):
								throttled.Add(1)
								h.settle()
							default:
								h.settle()
								t.Errorf("Authenticate = %v, want ErrInvalidCredentials or ErrThrottled", err)
							}
						})
					}
					wg.Wait()
					if ctx.Err() != nil {
						t.Fatal("the burst did not settle: an attempt neither reached a check nor was refused")
					}
					if got := h.checks.Load(); got > limit {
						t.Errorf("%d parallel wrong passwords led to %d password checks, want at most %d", burst, got, limit)
					}
					if got, want := throttled.Load(), burst-h.checks.Load(); got != want {
						t.Errorf("%d attempts refused with ErrThrottled, want the %d that were not checked", got, want)
					}
					if got := invalid.Load(); got != h.checks.Load() {
						t.Errorf("%d attempts answered ErrInvalidCredentials, want one per check (%d)", got, h.checks.Load())
					}
				})
			}
		})
	}
}

const deviceCookie = "hallpass_device"

// Failures from anyone lock the account for unknown clients, never for
// its owner's usual browser (one that has logged in before, holding a
// device cookie), even from the attacker's own address; that browser is
// judged by its own failures only.
func TestOwnersBrowserNotLockedOut(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	e.addUser("bob", "battery staple horse")
	owner, laptop := e.browser(), e.browser()
	for _, b := range []*client{owner, laptop} {
		if r := b.login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
			t.Fatalf("owner's first login: %d %s", r.code, r.body)
		}
		b.post("/logout", nil) // the device cookie outlives the session
	}
	if owner.cookie(deviceCookie) == "" {
		t.Error("no device cookie after a successful login")
	}
	bobs := e.browser()
	bobs.login("bob", "battery staple horse", false)

	// 15 failures for ada from one address (every client here is
	// 127.0.0.1, the owner's too), each after the growing delay.
	schedule := throttle.New(nil, throttle.Config{})
	for i := range 15 {
		e.browser().login("ada", "wrong password!", false)
		e.clock.Advance(schedule.Delay(i + 1))
	}
	if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Fatalf("fresh client with the right password after 15 failures: %d, want 429", r.code)
	}
	if r := owner.login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Fatalf("owner's usual browser with the right password after 15 failures: %d %s, want 303 at once", r.code, r.body)
	}
	if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Errorf("fresh client after the owner's login: %d, want 429 still (the owner's success does not unlock unknown clients)", r.code)
	}
	// Another user's device cookie, and a forged one, make a client no
	// better than unknown.
	if r := bobs.login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Errorf("bob's browser logging in as ada: %d, want 429 (a device cookie for another user is ignored)", r.code)
	}
	// One character of the nonce changed (it was "AAAA" over characters
	// 20-23, which changed nothing in one run of 256: they encode the
	// nonce's last byte and the expiry's two high bytes, which are zero).
	forged := e.browser()
	c := []byte(owner.cookie(deviceCookie))
	if c[5] == 'A' {
		c[5] = 'B'
	} else {
		c[5] = 'A'
	}
	forged.setCookie(deviceCookie, string(c))
	if r := forged.login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Errorf("forged device cookie: %d, want 429", r.code)
	}

	// The owner's browser counts its own wrong passwords: ten lock it,
	// and only it.
	for i := range 10 {
		if r := laptop.login("ada", "wrong password!", false); r.code != http.StatusUnauthorized {
			t.Fatalf("owner's laptop, wrong password %d: %d, want 401", i+1, r.code)
		}
		e.clock.Advance(schedule.Delay(i + 1))
	}
	if r := laptop.login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Errorf("owner's laptop after its own 10 failures: %d, want 429", r.code)
	}
	owner.post("/logout", nil)
	if r := owner.login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Errorf("owner's usual browser after the laptop's failures: %d, want 303", r.code)
	}
}

// The device cookie is set at login like the other cookies, kept at
// logout, and ignored once it has expired.
func TestDeviceCookie(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	b := e.browser()
	r := b.login("ada", "correct horse battery", false)
	var got *http.Cookie
	for _, line := range r.h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == deviceCookie {
			got = c
		}
	}
	if got == nil {
		t.Fatalf("login response sets no %s cookie", deviceCookie)
	}
	if !got.HttpOnly || got.SameSite != http.SameSiteLaxMode || got.Path != "/" || got.MaxAge != 365*24*3600 {
		t.Errorf("device cookie %+v, want HttpOnly, SameSite=Lax, Path=/, Max-Age a year", got)
	}
	r = b.post("/logout", nil)
	for _, line := range r.h.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == deviceCookie {
			t.Errorf("logout sets the device cookie: %q, want it kept", line)
		}
	}

	// A year and a day later the cookie (replayed, whatever the
	// browser's Max-Age) no longer makes the browser known.
	e.clock.Advance(366 * 24 * time.Hour)
	stale := e.browser()
	stale.setCookie(deviceCookie, got.Value)
	schedule := throttle.New(nil, throttle.Config{})
	for i := range 10 {
		e.browser().login("ada", "wrong password!", false)
		e.clock.Advance(schedule.Delay(i + 1))
	}
	if r := stale.login("ada", "correct horse battery", false); r.code != http.StatusTooManyRequests {
		t.Errorf("expired device cookie on a locked account: %d, want 429", r.code)
	}
}

// A registration is refused for a bad form or a taken username before
// any password is hashed.
func TestRegisterChecksBeforeHashing(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", "correct horse battery")
	tests := []struct {
		name                      string
		username, email, password string
		want                      error
	}{
		{"taken username", "ADA", "x@example.com", "correct horse battery", account.ErrUsernameTaken},
		{"bad username", "x!", "x@example.com", "correct horse battery", account.ErrInvalid},
		{"bad email", "bob", "not-an-email", "correct horse battery", account.ErrInvalid},
		{"common password", "bob", "bob@example.com", "password", account.ErrInvalid},
	}
	for _, tt := range tests {
		before := e.hasher.Stats().Computations
		_, err := e.lm.Register(t.Context(), tt.username, tt.email, tt.password)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Register = %v, want %v", tt.name, err, tt.want)
		}
		if got := e.hasher.Stats().Computations - before; got != 0 {
			t.Errorf("%s: Register hashed %d passwords, want 0", tt.name, got)
		}
	}
}

// downCounter is a throttle counter that fails every call while down is
// set, as Redis does when it stops answering.
type downCounter struct {
	throttle.Counter
	down atomic.Bool
}

var errCounterDown = errors.New("redis: dial tcp 10.0.0.2:6379: connection refused")

func (c *downCounter) Incr(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	if c.down.Load() {
		return 0, time.Time{}, errCounterDown
	}
	return c.Counter.Incr(ctx, key, window)
}

func (c *downCounter) Reserve(ctx context.Context, key string, limit int, window time.Duration) (int, time.Time, bool, error) {
	if c.down.Load() {
		return 0, time.Time{}, false, errCounterDown
	}
	return c.Counter.Reserve(ctx, key, limit, window)
}

func (c *downCounter) Get(ctx context.Context, key string) (int, time.Time, error) {
	if c.down.Load() {
		return 0, time.Time{}, errCounterDown
	}
	return c.Counter.Get(ctx, key)
}

// A throttle counter that stops answering refuses logins with 503 (never
// lets them through uncounted) and its outage is logged once, under its
// own name (the accounts answer meanwhile), then its recovery once.
func TestThrottleCounterOutage(t *testing.T) {
	counter := &downCounter{Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{})}
	e := newEnv(t, func(c *login.Config) { c.Throttle = throttle.New(counter, throttle.Config{Now: c.Now}) })
	e.addUser("ada", "correct horse battery")

	counter.down.Store(true)
	for i := range 3 {
		if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusServiceUnavailable {
			t.Fatalf("login %d with the counter down: %d, want 503", i+1, r.code)
		}
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "login: throttle counter unavailable"); n != 1 {
		t.Errorf("the counter's outage was logged %d times for three logins, want once:\n%s", n, logs)
	}
	if strings.Contains(logs, "account store") {
		t.Errorf("a counter outage was logged as the account store's:\n%s", logs)
	}

	counter.down.Store(false)
	e.clock.Advance(5 * time.Second) // past the outage's quiet period
	if r := e.browser().login("ada", "correct horse battery", false); r.code != http.StatusSeeOther {
		t.Fatalf("login with the counter back: %d, want 303", r.code)
	}
	if n := strings.Count(e.logs.String(), "login: throttle counter recovered"); n != 1 {
		t.Errorf("the counter's recovery was logged %d times, want once:\n%s", n, e.logs.String())
	}
}

// flakyTokens is a token store that fails while down is set (every
// lookup and write) or writesDown (writes only, as a full disk does).
type flakyTokens struct {
	account.TokenStore
	down, writesDown atomic.Bool
}

func (d *flakyTokens) writeErr() error {
	if d.down.Load() || d.writesDown.Load() {
		return sessiontest.ErrDown
	}
	return nil
}

func (d *flakyTokens) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.APIToken, error) {
	if d.down.Load() {
		return nil, sessiontest.ErrDown
	}
	return d.TokenStore.TokenByHash(ctx, hash, now)
}

func (d *flakyTokens) DeleteTokensByUser(ctx context.Context, userID string) (int, error) {
	if err := d.writeErr(); err != nil {
		return 0, err
	}
	return d.TokenStore.DeleteTokensByUser(ctx, userID)
}

func (d *flakyTokens) TouchToken(ctx context.Context, id string, now time.Time) error {
	if err := d.writeErr(); err != nil {
		return err
	}
	return d.TokenStore.TouchToken(ctx, id, now)
}

// An account store outage that only API clients meet (their tokens
// cannot be checked) is logged, once, like any other: the context of the
// token check was cancelled before it was logged, and the outage log
// skips a cancelled request's failure as a client gone away.
func TestBearerOnlyOutageLogged(t *testing.T) {
	var tokens *flakyTokens
	e := newEnv(t, func(c *login.Config) {
		tokens = &flakyTokens{TokenStore: c.Tokens.Store}
		c.Tokens = &apitoken.Service{Store: tokens, Now: c.Now}
	})
	u := e.addUser("ada", "correct horse battery")
	secret, _, err := e.lm.Config().Tokens.Create(context.Background(), u.ID, "ci", []string{"read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tokens.down.Store(true)
	for i := range 3 {
		if r := e.browser().get("/api/me", "Authorization", "Bearer "+secret); r.code != http.StatusServiceUnavailable {
			t.Fatalf("request %d with the token store down: %d %q, want 503", i+1, r.code, r.body)
		}
	}
	if n := strings.Count(e.logs.String(), "store unavailable"); n != 1 {
		t.Errorf("an outage met by API clients only was logged %d times, want once:\n%s", n, e.logs.String())
	}
}
