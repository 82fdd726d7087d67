// Package throttletest checks a [throttle.Counter] against every promise
// of the interface, and provides a fake clock for tests.
//
// A counter package's test is a few lines:
//
//	func TestCounter(t *testing.T) {
//		throttletest.Run(t, func(t *testing.T) throttletest.Harness {
//			clock := throttletest.NewClock()
//			c := mystore.NewCounter(clock.Now)
//			return throttletest.Harness{Counter: c, Now: clock.Now, Advance: clock.Advance}
//		})
//	}
//
// A counter on a server with its own clock, such as Redis, passes
// time.Now and time.Sleep; the suite then takes a few seconds.
package throttletest

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/throttle"
)

// Harness is one fresh counter under test and control of its clock.
type Harness struct {
	// Counter is the implementation under test.
	Counter throttle.Counter
	// Now returns the counter's current time.
	Now func() time.Time
	// Advance moves the counter's clock forward by d; for a counter on
	// a real clock it sleeps.
	Advance func(d time.Duration)
	// Tolerance is how far a resetAt may stray from the exact value,
	// for counters that compute it from a server's remaining TTL.
	// Default 0 (exact).
	Tolerance time.Duration
}

// window is the suite's window: short enough to sleep through for a
// real clock, long enough to outlast a round trip.
const window = time.Second

// Run checks the Counter from newHarness against every promise of
// [throttle.Counter], one subtest per promise. newHarness is called once
// per subtest. Keys are random per run, so a shared server may hold
// other data.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	prefix := "throttletest:" + rand.Text() + ":"

	t.Run("IncrStartsWindow", func(t *testing.T) {
		h := newHarness(t)
		before := h.Now()
		n, reset, err := h.Counter.Incr(ctx, prefix+"start", window)
		if err != nil || n != 1 {
			t.Fatalf("Incr of a new key = %d, %v, want 1, nil", n, err)
		}
		h.checkTime(t, "resetAt", reset, before.Add(window))
	})

	t.Run("IncrKeepsWindow", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "fixed"
		_, first, err := h.Counter.Incr(ctx, key, window)
		if err != nil {
			t.Fatal(err)
		}
		for want := 2; want <= 3; want++ {
			h.Advance(window / 4)
			n, reset, err := h.Counter.Incr(ctx, key, window)
			if err != nil || n != want {
				t.Fatalf("Incr #%d = %d, %v, want %d, nil", want, n, err, want)
			}
			h.checkTime(t, "resetAt of a live key", reset, first)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		h := newHarness(t)
		n, reset, err := h.Counter.Get(ctx, prefix+"missing")
		if err != nil || n != 0 || !reset.IsZero() {
			t.Errorf("Get of a missing key = %d, %v, %v; want 0, zero time, nil", n, reset, err)
		}
	})

	t.Run("GetLive", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "live"
		h.Counter.Incr(ctx, key, window)
		_, first, _ := h.Counter.Incr(ctx, key, window)
		n, reset, err := h.Counter.Get(ctx, key)
		if err != nil || n != 2 {
			t.Fatalf("Get after two Incr = %d, %v, want 2, nil", n, err)
		}
		h.checkTime(t, "Get resetAt", reset, first)
	})

	t.Run("Expiry", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "expiry"
		h.Counter.Incr(ctx, key, window)
		h.Counter.Incr(ctx, key, window)
		h.Advance(window + window/5)
		if n, reset, err := h.Counter.Get(ctx, key); err != nil || n != 0 || !reset.IsZero() {
			t.Errorf("Get after the window = %d, %v, %v; want 0, zero time, nil", n, reset, err)
		}
		before := h.Now()
		n, reset, err := h.Counter.Incr(ctx, key, window)
		if err != nil || n != 1 {
			t.Fatalf("Incr after the window = %d, %v, want 1, nil (a new window)", n, err)
		}
		h.checkTime(t, "new resetAt", reset, before.Add(window))
	})

	t.Run("WindowPerKey", func(t *testing.T) {
		h := newHarness(t)
		short, long := prefix+"short", prefix+"long"
		h.Counter.Incr(ctx, short, window)
		h.Counter.Incr(ctx, long, 3*window)
		h.Advance(window + window/5)
		if n, _, err := h.Counter.Get(ctx, short); err != nil || n != 0 {
			t.Errorf("Get(short) after its window = %d, %v, want 0, nil", n, err)
		}
		if n, _, err := h.Counter.Get(ctx, long); err != nil || n != 1 {
			t.Errorf("Get(long) within its window = %d, %v, want 1, nil", n, err)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "reset"
		h.Counter.Incr(ctx, key, window)
		h.Counter.Incr(ctx, key, window)
		if err := h.Counter.Reset(ctx, key); err != nil {
			t.Fatalf("Reset = %v", err)
		}
		if n, _, err := h.Counter.Get(ctx, key); err != nil || n != 0 {
			t.Errorf("Get after Reset = %d, %v, want 0, nil", n, err)
		}
		if n, _, err := h.Counter.Incr(ctx, key, window); err != nil || n != 1 {
			t.Errorf("Incr after Reset = %d, %v, want 1, nil", n, err)
		}
	})

	t.Run("ResetMissing", func(t *testing.T) {
		h := newHarness(t)
		if err := h.Counter.Reset(ctx, prefix+"never"); err != nil {
			t.Errorf("Reset of a missing key = %v, want nil", err)
		}
	})

	t.Run("KeysIndependent", func(t *testing.T) {
		h := newHarness(t)
		a, b := prefix+"a", prefix+"b"
		h.Counter.Incr(ctx, a, window)
		h.Counter.Incr(ctx, a, window)
		if n, _, err := h.Counter.Incr(ctx, b, window); err != nil || n != 1 {
			t.Errorf("Incr(b) after two Incr(a) = %d, %v, want 1, nil", n, err)
		}
		h.Counter.Reset(ctx, b)
		if n, _, _ := h.Counter.Get(ctx, a); n != 2 {
			t.Errorf("Get(a) after Reset(b) = %d, want 2", n)
		}
	})

	t.Run("ReserveUnderLimit", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "reserve"
		before := h.Now()
		var first time.Time
		for want := 1; want <= 2; want++ {
			n, reset, ok, err := h.Counter.Reserve(ctx, key, 2, window)
			if err != nil || !ok || n != want {
				t.Fatalf("Reserve #%d under a limit of 2 = %d, %v, %v; want %d, true, nil", want, n, ok, err, want)
			}
			if want == 1 {
				first = reset
				h.checkTime(t, "resetAt of the first Reserve", reset, before.Add(window))
			}
		}
		n, reset, ok, err := h.Counter.Reserve(ctx, key, 2, window)
		if err != nil || ok || n != 2 {
			t.Fatalf("Reserve at the limit = %d, %v, %v; want 2, false, nil", n, ok, err)
		}
		h.checkTime(t, "resetAt of a refused Reserve", reset, first)
		if n, _, err := h.Counter.Get(ctx, key); err != nil || n != 2 {
			t.Errorf("Get after a refused Reserve = %d, %v; want 2, nil (unchanged)", n, err)
		}
		// Incr is not limited, and a higher limit lets Reserve add again.
		if n, _, err := h.Counter.Incr(ctx, key, window); err != nil || n != 3 {
			t.Errorf("Incr past the limit = %d, %v; want 3, nil", n, err)
		}
		if n, _, ok, err := h.Counter.Reserve(ctx, key, 4, window); err != nil || !ok || n != 4 {
			t.Errorf("Reserve under a limit of 4 = %d, %v, %v; want 4, true, nil", n, ok, err)
		}
	})

	t.Run("ReserveExpiry", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "reserve-expiry"
		h.Counter.Reserve(ctx, key, 1, window)
		h.Advance(window + window/5)
		if n, _, ok, err := h.Counter.Reserve(ctx, key, 1, window); err != nil || !ok || n != 1 {
			t.Errorf("Reserve after the window = %d, %v, %v; want 1, true, nil (a new window)", n, ok, err)
		}
	})

	t.Run("ReserveBadArguments", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "reserve-bad"
		for _, tt := range []struct {
			limit  int
			window time.Duration
		}{{0, window}, {-1, window}, {1, 0}, {1, -window}} {
			if _, _, ok, err := h.Counter.Reserve(ctx, key, tt.limit, tt.window); err == nil || ok {
				t.Errorf("Reserve(limit %d, window %v) = %v, %v; want an error", tt.limit, tt.window, ok, err)
			}
		}
		if n, _, err := h.Counter.Get(ctx, key); err != nil || n != 0 {
			t.Errorf("Get after bad Reserves = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("ConcurrentReserve", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "concurrent-reserve"
		const workers, limit = 40, 10
		var added sync.WaitGroup
		var mu sync.Mutex
		seen := make(map[int]bool)
		refused := 0
		for range workers {
			added.Go(func() {
				n, _, ok, err := h.Counter.Reserve(ctx, key, limit, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Error(err)
				case !ok:
					refused++
				case n < 1 || n > limit || seen[n]:
					t.Errorf("concurrent Reserve added count %d twice or out of range", n)
				default:
					seen[n] = true
				}
			})
		}
		added.Wait()
		if len(seen) != limit || refused != workers-limit {
			t.Errorf("%d concurrent Reserves under a limit of %d: %d added, %d refused; want %d and %d",
				workers, limit, len(seen), refused, limit, workers-limit)
		}
		if n, _, err := h.Counter.Get(ctx, key); err != nil || n != limit {
			t.Errorf("Get after the concurrent Reserves = %d, %v; want %d", n, err, limit)
		}
	})

	t.Run("Release", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "release"
		h.Counter.Reserve(ctx, key, 2, window)
		_, first, _, _ := h.Counter.Reserve(ctx, key, 2, window)
		h.Advance(window / 4)
		if err := h.Counter.Release(ctx, key); err != nil {
			t.Fatalf("Release = %v", err)
		}
		n, reset, err := h.Counter.Get(ctx, key)
		if err != nil || n != 1 {
			t.Fatalf("Get after Release = %d, %v; want 1, nil", n, err)
		}
		h.checkTime(t, "resetAt after Release", reset, first)
		if n, _, ok, err := h.Counter.Reserve(ctx, key, 2, window); err != nil || !ok || n != 2 {
			t.Errorf("Reserve after Release freed a place = %d, %v, %v; want 2, true, nil", n, ok, err)
		}
		h.Counter.Release(ctx, key)
		if err := h.Counter.Release(ctx, key); err != nil {
			t.Fatalf("Release of the last count = %v", err)
		}
		if n, reset, err := h.Counter.Get(ctx, key); err != nil || n != 0 || !reset.IsZero() {
			t.Errorf("Get after releasing every count = %d, %v, %v; want 0, zero time, nil (forgotten)", n, reset, err)
		}
	})

	t.Run("ReleaseMissing", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "release-missing"
		if err := h.Counter.Release(ctx, key); err != nil {
			t.Errorf("Release of a missing key = %v, want nil", err)
		}
		if n, _, err := h.Counter.Incr(ctx, key, window); err != nil || n != 1 {
			t.Errorf("Incr after releasing a missing key = %d, %v; want 1, nil (never below zero)", n, err)
		}
	})

	t.Run("ConcurrentIncr", func(t *testing.T) {
		h := newHarness(t)
		key := prefix + "concurrent"
		const workers, each = 8, 50
		seen := make([]bool, workers*each+1)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					n, _, err := h.Counter.Incr(ctx, key, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if n < 1 || n > workers*each || seen[n] {
						t.Errorf("concurrent Incr returned %d twice or out of range", n)
					} else {
						seen[n] = true
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if n, _, err := h.Counter.Get(ctx, key); err != nil || n != workers*each {
			t.Errorf("Get after %d concurrent Incr = %d, %v", workers*each, n, err)
		}
	})
}

func (h Harness) checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -h.Tolerance || d > h.Tolerance {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, h.Tolerance)
	}
}

// Clock is a fake clock for tests, safe for concurrent use. It moves
// only when told to. The zero value reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to a fixed instant, 2026-01-01 00:00 UTC.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time; pass the method value as a Now option.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
