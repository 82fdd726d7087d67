package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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

func mustFail(tb testing.TB, l *throttle.Limiter, account, ip string) {
	tb.Helper()
	if err := l.Fail(ctx, account, ip); err != nil {
		tb.Fatalf("Fail(%q, %q) = %v", account, ip, err)
	}
}

// throttled returns the ThrottledError from Check, or nil if Check
// allows the attempt; it fails the test on any other error.
func throttled(tb testing.TB, l *throttle.Limiter, account, ip string) *throttle.ThrottledError {
	tb.Helper()
	err := l.Check(ctx, account, ip)
	if err == nil {
		return nil
	}
	var te *throttle.ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, throttle.ErrThrottled) {
		tb.Fatalf("Check(%q, %q) = %v, want nil or a *ThrottledError", account, ip, err)
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
	if err := l.Succeed(ctx, "ann", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	// The account's count is back to zero: 9 more failures are allowed,
	// but the address has 4 already and trips at 5.
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
	l, _ := newLimiter(throttle.Config{})
	for range 5 {
		mustFail(t, l, "ann", "192.0.2.1")
	}
	l.Succeed(ctx, "ann", "192.0.2.1")
	if te := throttled(t, l, "ann", "192.0.2.1"); te != nil {
		t.Errorf("after Succeed: %v, want allowed", te)
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

func (c *recordingCounter) Reset(ctx context.Context, key string) error {
	if c.err != nil {
		return c.err
	}
	return c.Counter.Reset(ctx, key)
}

func TestNoRawUsernamesInKeys(t *testing.T) {
	rc := &recordingCounter{Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{})}
	l := throttle.New(rc, throttle.Config{})
	for range 5 {
		l.Fail(ctx, "Alice.Secret@example.com", "192.0.2.1")
	}
	for _, k := range rc.keys {
		if strings.Contains(strings.ToLower(k), "alice") {
			t.Errorf("counter key %q contains the username", k)
		}
	}
}

func TestCounterFailure(t *testing.T) {
	boom := errors.New("connection refused")
	rc := &recordingCounter{Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{}), err: boom}
	l := throttle.New(rc, throttle.Config{})
	for name, err := range map[string]error{
		"Check":   l.Check(ctx, "ann", "192.0.2.1"),
		"Fail":    l.Fail(ctx, "ann", "192.0.2.1"),
		"Succeed": l.Succeed(ctx, "ann", "192.0.2.1"),
	} {
		if !errors.Is(err, throttle.ErrUnavailable) || !errors.Is(err, boom) || errors.Is(err, throttle.ErrThrottled) {
			t.Errorf("%s with a failing counter = %v, want ErrUnavailable wrapping the cause", name, err)
		}
	}
}

// hangingCounter never answers: each call waits until its context ends,
// as a Redis behind a network that went silent does.
type hangingCounter struct{ throttle.Counter }

func (hangingCounter) Incr(ctx context.Context, key string, w time.Duration) (int, time.Time, error) {
	<-ctx.Done()
	return 0, time.Time{}, ctx.Err()
}

func (hangingCounter) Get(ctx context.Context, key string) (int, time.Time, error) {
	<-ctx.Done()
	return 0, time.Time{}, ctx.Err()
}

func (hangingCounter) Reset(ctx context.Context, key string) error {
	<-ctx.Done()
	return ctx.Err()
}

// Counter calls that do not answer within StoreTimeout fail with
// ErrUnavailable instead of hanging the login.
func TestCounterTimeout(t *testing.T) {
	l := throttle.New(hangingCounter{}, throttle.Config{StoreTimeout: 20 * time.Millisecond})
	for name, call := range map[string]func(context.Context, string, string) error{"Check": l.Check, "Fail": l.Fail, "Succeed": l.Succeed} {
		errc := make(chan error, 1)
		go func() { errc <- call(ctx, "ann", "192.0.2.1") }()
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
