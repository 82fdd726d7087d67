package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/throttle/throttletest"
)

var ctx = context.Background()

func newLimiter(cfg throttle.Config) (*throttle.Limiter, *throttletest.Clock) {
	clock := throttletest.NewClock()
	cfg.Now = clock.Now
	return throttle.New(nil, cfg), clock
}

// reserve is Limiter.Reserve for an account and address.
func reserve(l *throttle.Limiter, account, ip string) (*throttle.Reservation, error) {
	return l.Reserve(ctx, throttle.Attempt{Account: account, IP: ip})
}

// mustFail records a failed attempt, which must be allowed.
func mustFail(tb testing.TB, l *throttle.Limiter, account, ip string) {
	tb.Helper()
	r, err := reserve(l, account, ip)
	if err != nil {
		tb.Fatalf("Reserve(%q, %q) = %v", account, ip, err)
	}
	if err := r.Fail(ctx); err != nil {
		tb.Fatalf("Fail(%q, %q) = %v", account, ip, err)
	}
}

// mustSucceed records a successful attempt, which must be allowed.
func mustSucceed(tb testing.TB, l *throttle.Limiter, account, ip string) {
	tb.Helper()
	r, err := reserve(l, account, ip)
	if err != nil {
		tb.Fatalf("Reserve(%q, %q) = %v", account, ip, err)
	}
	if err := r.Succeed(ctx); err != nil {
		tb.Fatalf("Succeed(%q, %q) = %v", account, ip, err)
	}
}

// throttled returns the ThrottledError from Reserve, or nil if Reserve
// allows the attempt (which is then cancelled, leaving the counts as
// they were); it fails the test on any other error.
func throttled(tb testing.TB, l *throttle.Limiter, account, ip string) *throttle.ThrottledError {
	tb.Helper()
	r, err := reserve(l, account, ip)
	if err == nil {
		if err := r.Cancel(ctx); err != nil {
			tb.Fatalf("Cancel(%q, %q) = %v", account, ip, err)
		}
		return nil
	}
	var te *throttle.ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, throttle.ErrThrottled) {
		tb.Fatalf("Reserve(%q, %q) = %v, want nil or a *ThrottledError", account, ip, err)
	}
	return te
}

func TestAccountLimit(t *testing.T) {
	l, clock := newLimiter(throttle.Config{DelayAfter: -1})
	for i := 1; i <= 10; i++ {
		if te := throttled(t, l, "ann", "192.0.2.1"); te != nil {
			t.Fatalf("attempt %d refused: %v", i, te)
		}
		mustFail(t, l, "ann", "192.0.2.1")
		clock.Advance(time.Minute)
	}
	// 10 failures a minute apart: the window opened 10 minutes ago.
	te := throttled(t, l, "ann", "192.0.2.1")
	if te == nil {
		t.Fatal("11th attempt allowed, want it refused")
	}
	if te.Reason != throttle.ReasonAccount || te.RetryAfter != 5*time.Minute {
		t.Errorf("11th attempt: %+v, want account limit, RetryAfter 5m", te)
	}
	if got, want := te.Error(), "Too many failed login attempts. Try again in 5 minutes."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := te.RetryAfterSeconds(); got != 300 {
		t.Errorf("RetryAfterSeconds() = %d, want 300", got)
	}

	// The same account from another address is refused too; another
	// account from the same address is not.
	if throttled(t, l, "ann", "198.51.100.7") == nil {
		t.Error("locked account allowed from another address")
	}
	if te := throttled(t, l, "bob", "192.0.2.1"); te != nil {
		t.Errorf("another account refused: %v", te)
	}

	clock.Advance(5 * time.Minute)
	if te := throttled(t, l, "ann", "192.0.2.1"); te != nil {
		t.Errorf("attempt after the window refused: %v", te)
	}
}

func TestAccountNormalised(t *testing.T) {
	l, _ := newLimiter(throttle.Config{PerAccount: 2, DelayAfter: -1})
	mustFail(t, l, "Ann@Example.com", "192.0.2.1")
	mustFail(t, l, " ann@example.COM ", "192.0.2.2")
	if throttled(t, l, "ANN@EXAMPLE.COM", "192.0.2.3") == nil {
		t.Error("spellings of one account counted separately")
	}
}

func TestSucceedResetsAccountNotIP(t *testing.T) {
	l, _ := newLimiter(throttle.Config{PerIP: 5, DelayAfter: -1})
	for range 4 {
		mustFail(t, l, "ann", "192.0.2.1")
	}
	mustSucceed(t, l, "ann", "192.0.2.1")
	// The account's count is back to zero: 9 more failures are allowed,
	// but the address has 4 already (the success is not counted) and
	// trips at 5.
	mustFail(t, l, "ann", "192.0.2.1")
	te := throttled(t, l, "ann", "192.0.2.1")
	if te == nil || te.Reason != throttle.ReasonIP {
		t.Fatalf("after Succeed and 1 more failure: %v, want the IP limit (Succeed kept the address's count)", te)
	}
	if te := throttled(t, l, "ann", "192.0.2.99"); te != nil {
		t.Errorf("account refused from a clean address after Succeed: %v", te)
	}
}

func TestIPLimitAcrossAccounts(t *testing.T) {
	l, clock := newLimiter(throttle.Config{})
	for i := range 100 {
		mustFail(t, l, fmt.Sprint("user", i), "203.0.113.9")
	}
	clock.Advance(time.Minute)
	te := throttled(t, l, "fresh-account", "203.0.113.9")
	if te == nil || te.Reason != throttle.ReasonIP || te.RetryAfter != 14*time.Minute {
		t.Fatalf("101st failure's address: %+v, want IP limit, RetryAfter 14m", te)
	}
	if te := throttled(t, l, "fresh-account", "203.0.113.10"); te != nil {
		t.Errorf("neighbouring IPv4 address refused: %v", te)
	}
	clock.Advance(14 * time.Minute)
	if te := throttled(t, l, "fresh-account", "203.0.113.9"); te != nil {
		t.Errorf("address refused after its window: %v", te)
	}
}

func TestIPv6CountsPerPrefix(t *testing.T) {
	l, _ := newLimiter(throttle.Config{PerIP: 3, DelayAfter: -1})
	mustFail(t, l, "a", "2001:db8:1:2::1")
	mustFail(t, l, "b", "2001:db8:1:2:ffff::2")
	mustFail(t, l, "c", "2001:DB8:1:2::3")
	if throttled(t, l, "d", "2001:db8:1:2::4") == nil {
		t.Error("addresses in one /64 counted separately")
	}
	if te := throttled(t, l, "d", "2001:db8:1:3::1"); te != nil {
		t.Errorf("another /64 refused: %v", te)
	}
}

func TestEmptyIPSkipsIPLimit(t *testing.T) {
	l, _ := newLimiter(throttle.Config{PerIP: 1, DelayAfter: -1})
	mustFail(t, l, "a", "")
	mustFail(t, l, "b", "")
	if te := throttled(t, l, "c", ""); te != nil {
		t.Errorf("unknown addresses share a bucket: %v", te)
	}
}

func TestDelaySchedule(t *testing.T) {
	tests := []struct {
		cfg  throttle.Config
		want []time.Duration // Delay(1), Delay(2), ...
	}{
		{throttle.Config{}, []time.Duration{0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second,
			8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute, time.Minute}},
		{throttle.Config{DelayAfter: 1, BaseDelay: 500 * time.Millisecond, MaxDelay: 3 * time.Second},
			[]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{throttle.Config{DelayAfter: -1}, []time.Duration{0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		l, _ := newLimiter(tt.cfg)
		for i, want := range tt.want {
			if got := l.Delay(i + 1); got != want {
				t.Errorf("%+v: Delay(%d) = %v, want %v", tt.cfg, i+1, got, want)
			}
		}
	}
	l, _ := newLimiter(throttle.Config{})
	if got := l.Delay(1 << 30); got != time.Minute {
		t.Errorf("Delay(2^30) = %v, want the 1m cap", got)
	}
}

func TestGrowingDelays(t *testing.T) {
	l, clock := newLimiter(throttle.Config{})
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute}
	for i, d := range want {
		n := i + 1
		mustFail(t, l, "ann", "192.0.2.1")
		te := throttled(t, l, "ann", "192.0.2.1")
		switch {
		case d == 0 && te != nil:
			t.Fatalf("after failure %d: refused %v, want allowed", n, te)
		case d == 0:
			continue
		case te == nil || te.Reason != throttle.ReasonDelay || te.RetryAfter != d:
			t.Fatalf("after failure %d: %+v, want delay of %v", n, te, d)
		}
		clock.Advance(d - time.Millisecond)
		if te := throttled(t, l, "ann", "192.0.2.1"); te == nil || te.RetryAfter != time.Millisecond {
			t.Fatalf("after failure %d, 1ms before the delay ends: %+v, want RetryAfter 1ms", n, te)
		}
		clock.Advance(time.Millisecond)
		if te := throttled(t, l, "ann", "192.0.2.1"); te != nil {
			t.Fatalf("after failure %d, once the delay ended: %v, want allowed", n, te)
		}
	}
	// The tenth failure locks the account for the rest of the window.
	mustFail(t, l, "ann", "192.0.2.1")
	if te := throttled(t, l, "ann", "192.0.2.1"); te == nil || te.Reason != throttle.ReasonAccount {
		t.Fatalf("after failure 10: %+v, want the account limit", te)
	}
	// The delays only concern the account.
	if te := throttled(t, l, "bob", "192.0.2.1"); te != nil {
		t.Errorf("delay leaked to another account: %v", te)
	}
}

func TestSucceedClearsDelay(t *testing.T) {
	l, clock := newLimiter(throttle.Config{})
	for i := 1; i <= 5; i++ {
		mustFail(t, l, "ann", "192.0.2.1")
		clock.Advance(l.Delay(i))
	}
	mustSucceed(t, l, "ann", "192.0.2.1")
	// Counted from zero again: the first failures bring no delay.
	mustFail(t, l, "ann", "192.0.2.1")
	if te := throttled(t, l, "ann", "192.0.2.1"); te != nil {
		t.Errorf("one failure after Succeed: %v, want allowed", te)
	}
}

// Parallel attempts are counted as they are reserved: of 40 reserved at
// once, only the limit's 10 proceed, and a cancelled one frees its place.
// The others are refused for attempts in flight, not for failures: they
// are told to come back in a second, not at the window's end.
func TestReserveHoldsTheLimit(t *testing.T) {
	l, _ := newLimiter(throttle.Config{DelayAfter: -1})
	var held []*throttle.Reservation
	var mu sync.Mutex
	var wg sync.WaitGroup
	refused := 0
	for range 40 {
		wg.Go(func() {
			r, err := reserve(l, "ann", "192.0.2.1")
			mu.Lock()
			defer mu.Unlock()
			if te := (*throttle.ThrottledError)(nil); errors.As(err, &te) {
				refused++
				if te.Reason != throttle.ReasonBusy || te.RetryAfter != throttle.BusyWait ||
					te.Error() != "Too many login attempts at once. Try again in 1 second." {
					t.Errorf("refused while the limit is full of attempts in flight: %+v %q; want reason busy, a wait of %v",
						te, te.Error(), throttle.BusyWait)
				}
			} else if err != nil {
				t.Error(err)
			} else {
				held = append(held, r)
			}
		})
	}
	wg.Wait()
	if len(held) != throttle.DefaultPerAccount || refused != 40-throttle.DefaultPerAccount {
		t.Fatalf("40 parallel reservations: %d held, %d refused; want %d and %d",
			len(held), refused, throttle.DefaultPerAccount, 40-throttle.DefaultPerAccount)
	}
	held[0].Cancel(ctx)
	held[0].Fail(ctx) // settled already: does nothing
	if te := throttled(t, l, "ann", "192.0.2.1"); te != nil {
		t.Errorf("after one cancelled reservation: %v, want a free place", te)
	}
	for _, r := range held[1:5] {
		r.Fail(ctx)
	}
	// 4 failures and 5 in flight, and one more in flight: full, but not
	// of failures.
	last, err := reserve(l, "ann", "192.0.2.1")
	if err != nil {
		t.Fatalf("the tenth place: %v", err)
	}
	if te := throttled(t, l, "ann", "192.0.2.1"); te == nil || te.Reason != throttle.ReasonBusy {
		t.Errorf("4 failures and 6 in flight: %+v, want refused as busy", te)
	}
	for _, r := range append(held[5:], last) {
		r.Fail(ctx)
	}
	if te := throttled(t, l, "ann", "192.0.2.1"); te == nil || te.Reason != throttle.ReasonAccount || te.RetryAfter < 14*time.Minute {
		t.Errorf("after 10 failures: %+v, want the account limit until the window ends", te)
	}
}

// A known device is judged by its own failures: the account's and the
// address's locks do not reach it, its failures reach nothing else, and
// its success does not unlock the account.
func TestKnownDeviceJudgedByItsOwnFailures(t *testing.T) {
	l, _ := newLimiter(throttle.Config{PerIP: 10, DelayAfter: -1})
	device := func(id string) throttle.Attempt {
		return throttle.Attempt{Account: "ann", IP: "192.0.2.1", Device: id}
	}
	for range 10 {
		mustFail(t, l, "ann", "192.0.2.1")
	}
	if te := throttled(t, l, "ann", "192.0.2.99"); te == nil || te.Reason != throttle.ReasonAccount {
		t.Fatalf("unknown client after 10 failures: %+v, want the account limit", te)
	}
	for i := range 10 {
		r, err := l.Reserve(ctx, device("d1"))
		if err != nil {
			t.Fatalf("known device, attempt %d, from the locked address of the locked account: %v, want allowed", i+1, err)
		}
		r.Fail(ctx)
	}
	_, err := l.Reserve(ctx, device("d1"))
	var te *throttle.ThrottledError
	if !errors.As(err, &te) || te.Reason != throttle.ReasonDevice {
		t.Fatalf("known device after its own 10 failures: %v, want the device limit", err)
	}
	r, err := l.Reserve(ctx, device("d2"))
	if err != nil {
		t.Fatalf("another known device: %v, want allowed", err)
	}
	r.Succeed(ctx)
	if te := throttled(t, l, "ann", "192.0.2.99"); te == nil || te.Reason != throttle.ReasonAccount {
		t.Errorf("unknown client after a known device's success: %+v, want the account limit still", te)
	}
	if te := throttled(t, l, "bob", "192.0.2.98"); te != nil {
		t.Errorf("another account from another address: %v, want allowed (devices' failures count nowhere else)", te)
	}
}

func TestLongestWaitWins(t *testing.T) {
	l, clock := newLimiter(throttle.Config{PerIP: 3, PerAccount: 3, DelayAfter: -1})
	mustFail(t, l, "x", "192.0.2.1")
	mustFail(t, l, "y", "192.0.2.1")
	clock.Advance(time.Minute)
	mustFail(t, l, "ann", "192.0.2.1") // the address is full now
	mustFail(t, l, "ann", "192.0.2.2")
	mustFail(t, l, "ann", "192.0.2.2") // and the account
	te := throttled(t, l, "ann", "192.0.2.1")
	if te == nil || te.Reason != throttle.ReasonAccount || te.RetryAfter != 15*time.Minute {
		t.Errorf("both limits hit: %+v, want the account's longer wait of 15m", te)
	}
}

func TestThrottledErrorMessage(t *testing.T) {
	tests := []struct {
		d       time.Duration
		want    string
		seconds int
	}{
		{0, "1 second", 1},
		{300 * time.Millisecond, "1 second", 1},
		{time.Second, "1 second", 1},
		{1500 * time.Millisecond, "2 seconds", 2},
		{59 * time.Second, "59 seconds", 59},
		{time.Minute, "1 minute", 60},
		{61 * time.Second, "2 minutes", 61},
		{4 * time.Minute, "4 minutes", 240},
		{119 * time.Minute, "119 minutes", 7140},
		{2 * time.Hour, "2 hours", 7200},
		{2*time.Hour + time.Second, "3 hours", 7201},
	}
	for _, tt := range tests {
		e := &throttle.ThrottledError{RetryAfter: tt.d}
		want := "Too many failed login attempts. Try again in " + tt.want + "."
		if got := e.Error(); got != want {
			t.Errorf("RetryAfter %v: Error() = %q, want %q", tt.d, got, want)
		}
		if got := e.RetryAfterSeconds(); got != tt.seconds {
			t.Errorf("RetryAfter %v: RetryAfterSeconds() = %d, want %d", tt.d, got, tt.seconds)
		}
	}
}

// recordingCounter records keys and can be made to fail.
type recordingCounter struct {
	throttle.Counter
	mu   sync.Mutex
	keys []string
	err  error
}

func (c *recordingCounter) Incr(ctx context.Context, key string, w time.Duration) (int, time.Time, error) {
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.mu.Unlock()
	if c.err != nil {
		return 0, time.Time{}, c.err
	}
	return c.Counter.Incr(ctx, key, w)
}

func (c *recordingCounter) Get(ctx context.Context, key string) (int, time.Time, error) {
	if c.err != nil {
		return 0, time.Time{}, c.err
	}
	return c.Counter.Get(ctx, key)
}

func (c *recordingCounter) Reserve(ctx context.Context, key string, limit int, w time.Duration) (int, time.Time, bool, error) {
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.mu.Unlock()
	if c.err != nil {
		return 0, time.Time{}, false, c.err
	}
	return c.Counter.Reserve(ctx, key, limit, w)
}

func (c *recordingCounter) Release(ctx context.Context, key string) error {
	if c.err != nil {
		return c.err
	}
	return c.Counter.Release(ctx, key)
}

func (c *recordingCounter) Reset(ctx context.Context, key string) error {
	if c.err != nil {
		return c.err
	}
	return c.Counter.Reset(ctx, key)
}

func TestNoRawUsernamesInKeys(t *testing.T) {
	rc := &recordingCounter{Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{})}
	l := throttle.New(rc, throttle.Config{DelayAfter: 1, BaseDelay: time.Nanosecond})
	for range 5 {
		mustFail(t, l, "Alice.Secret@example.com", "192.0.2.1")
	}
	if len(rc.keys) == 0 {
		t.Fatal("no counter keys recorded")
	}
	for _, k := range rc.keys {
		if strings.Contains(strings.ToLower(k), "alice") {
			t.Errorf("counter key %q contains the username", k)
		}
	}
}

func TestCounterFailure(t *testing.T) {
	boom := errors.New("connection refused")
	rc := &recordingCounter{Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{})}
	l := throttle.New(rc, throttle.Config{DelayAfter: 1})
	held := make([]*throttle.Reservation, 3)
	for i := range held {
		r, err := reserve(l, fmt.Sprint("user", i), "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		held[i] = r
	}
	rc.err = boom
	_, reserveErr := reserve(l, "ann", "192.0.2.1")
	for name, err := range map[string]error{
		"Reserve": reserveErr,
		"Fail":    held[0].Fail(ctx),
		"Succeed": held[1].Succeed(ctx),
		"Cancel":  held[2].Cancel(ctx),
	} {
		if !errors.Is(err, throttle.ErrUnavailable) || !errors.Is(err, boom) || errors.Is(err, throttle.ErrThrottled) {
			t.Errorf("%s with a failing counter = %v, want ErrUnavailable wrapping the cause", name, err)
		}
	}
}

func TestAllowRegistration(t *testing.T) {
	l, clock := newLimiter(throttle.Config{RegisterPerIP: 3})
	for i := range 3 {
		if err := l.AllowRegistration(ctx, "2001:db8::1"); err != nil {
			t.Fatalf("registration %d: %v, want allowed", i+1, err)
		}
		clock.Advance(10 * time.Minute)
	}
	err := l.AllowRegistration(ctx, "2001:db8::2") // the same /64
	var te *throttle.ThrottledError
	if !errors.As(err, &te) || te.Reason != throttle.ReasonRegister || te.RetryAfter != 30*time.Minute {
		t.Fatalf("4th registration from one /64 within the hour: %v, want ReasonRegister, RetryAfter 30m", err)
	}
	if got, want := te.Error(), "Too many sign-ups from your address. Try again in 30 minutes."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err := l.AllowRegistration(ctx, "192.0.2.1"); err != nil {
		t.Errorf("another address: %v, want allowed", err)
	}
	if err := l.AllowRegistration(ctx, ""); err != nil {
		t.Errorf("unknown address: %v, want allowed (not limited)", err)
	}
	// Registrations and failed logins are counted apart.
	if te := throttled(t, l, "ann", "2001:db8::1"); te != nil {
		t.Errorf("login from the address after its registrations: %v, want allowed", te)
	}
	clock.Advance(30 * time.Minute)
	if err := l.AllowRegistration(ctx, "2001:db8::1"); err != nil {
		t.Errorf("registration after the window: %v, want allowed", err)
	}
}

// An attempt the address's limit refuses only reads the account's count:
// a flood from a blocked address holds none of the account's places,
// even for a moment.
func TestRefusedByAddressHoldsNoAccountPlace(t *testing.T) {
	rc := &recordingCounter{Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{})}
	l := throttle.New(rc, throttle.Config{PerIP: 1, DelayAfter: -1})
	mustFail(t, l, "x", "192.0.2.1")
	rc.keys = nil
	if te := throttled(t, l, "ann", "192.0.2.1"); te == nil || te.Reason != throttle.ReasonIP {
		t.Fatalf("attempt from the full address: %+v, want the IP limit", te)
	}
	if len(rc.keys) != 1 || !strings.HasPrefix(rc.keys[0], "throttle:ip:") {
		t.Errorf("refused attempt reserved %q, want only the address's key", rc.keys)
	}
}

// hangingCounter is a memory counter that, once hang is set, never
// answers: each call waits until its context ends, as a Redis behind a
// network that went silent does.
type hangingCounter struct {
	throttle.Counter
	hang atomic.Bool
}

func (h *hangingCounter) wait(ctx context.Context) error {
	if !h.hang.Load() {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (h *hangingCounter) Incr(ctx context.Context, key string, w time.Duration) (int, time.Time, error) {
	if err := h.wait(ctx); err != nil {
		return 0, time.Time{}, err
	}
	return h.Counter.Incr(ctx, key, w)
}

func (h *hangingCounter) Reserve(ctx context.Context, key string, limit int, w time.Duration) (int, time.Time, bool, error) {
	if err := h.wait(ctx); err != nil {
		return 0, time.Time{}, false, err
	}
	return h.Counter.Reserve(ctx, key, limit, w)
}

func (h *hangingCounter) Release(ctx context.Context, key string) error {
	if err := h.wait(ctx); err != nil {
		return err
	}
	return h.Counter.Release(ctx, key)
}

func (h *hangingCounter) Get(ctx context.Context, key string) (int, time.Time, error) {
	if err := h.wait(ctx); err != nil {
		return 0, time.Time{}, err
	}
	return h.Counter.Get(ctx, key)
}

func (h *hangingCounter) Reset(ctx context.Context, key string) error {
	if err := h.wait(ctx); err != nil {
		return err
	}
	return h.Counter.Reset(ctx, key)
}

// Counter calls that do not answer within StoreTimeout fail with
// ErrUnavailable instead of hanging the login.
func TestCounterTimeout(t *testing.T) {
	hc := &hangingCounter{Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{})}
	l := throttle.New(hc, throttle.Config{StoreTimeout: 20 * time.Millisecond, DelayAfter: 1})
	var held [3]*throttle.Reservation
	for i := range held {
		r, err := l.Reserve(ctx, throttle.Attempt{Account: "ann", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		held[i] = r
	}
	hc.hang.Store(true)
	for name, call := range map[string]func() error{
		"Reserve": func() error {
			_, err := l.Reserve(ctx, throttle.Attempt{Account: "ann", IP: "192.0.2.1"})
			return err
		},
		"AllowRegistration": func() error { return l.AllowRegistration(ctx, "192.0.2.1") },
		"Fail":              func() error { return held[0].Fail(ctx) },
		"Succeed":           func() error { return held[1].Succeed(ctx) },
		"Cancel":            func() error { return held[2].Cancel(ctx) },
	} {
		errc := make(chan error, 1)
		go func() { errc <- call() }()
		select {
		case err := <-errc:
			if !errors.Is(err, throttle.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s with a hanging counter = %v, want ErrUnavailable wrapping context.DeadlineExceeded", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s with a hanging counter still running after 30s; want it to fail after StoreTimeout", name)
		}
	}
}
