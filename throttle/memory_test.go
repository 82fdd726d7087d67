package throttle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/throttle/throttletest"
)

func TestMemoryCounter(t *testing.T) {
	throttletest.Run(t, func(t *testing.T) throttletest.Harness {
		clock := throttletest.NewClock()
		return throttletest.Harness{
			Counter: throttle.NewMemoryCounter(throttle.MemoryOptions{Now: clock.Now}),
			Now:     clock.Now,
			Advance: clock.Advance,
		}
	})
}

func TestMemoryCounterRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps through windows; skipped with -short")
	}
	throttletest.Run(t, func(t *testing.T) throttletest.Harness {
		return throttletest.Harness{
			Counter:   throttle.NewMemoryCounter(throttle.MemoryOptions{}),
			Now:       time.Now,
			Advance:   time.Sleep,
			Tolerance: 50 * time.Millisecond,
		}
	})
}

func TestMemoryCounterBadWindow(t *testing.T) {
	c := throttle.NewMemoryCounter(throttle.MemoryOptions{})
	for _, w := range []time.Duration{0, -time.Second} {
		if _, _, err := c.Incr(context.Background(), "k", w); err == nil {
			t.Errorf("Incr with window %v = nil error, want an error", w)
		}
	}
}

func TestMemoryCounterBound(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		maxEntries int
		spray      int
	}{
		{10, 1000},
		{100, 10_000},
		{1023, 10_000},
		{5000, 50_000}, // sharded
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.maxEntries), func(t *testing.T) {
			clock := throttletest.NewClock()
			c := throttle.NewMemoryCounter(throttle.MemoryOptions{MaxEntries: tt.maxEntries, Now: clock.Now})
			for i := range tt.spray {
				clock.Advance(time.Millisecond)
				if _, _, err := c.Incr(ctx, fmt.Sprint("user", i), time.Hour); err != nil {
					t.Fatal(err)
				}
				if n := c.Len(); n > tt.maxEntries {
					t.Fatalf("Len after %d keys = %d, want at most %d", i+1, n, tt.maxEntries)
				}
			}
			last := fmt.Sprint("user", tt.spray-1)
			if n, _, _ := c.Get(ctx, last); n != 1 {
				t.Errorf("newest key %s has count %d after the flood, want 1", last, n)
			}
			if n, _, _ := c.Get(ctx, "user0"); n != 0 {
				t.Errorf("oldest key has count %d after the flood, want it evicted", n)
			}
		})
	}
}

func TestMemoryCounterDropsExpiredFirst(t *testing.T) {
	ctx := context.Background()
	clock := throttletest.NewClock()
	c := throttle.NewMemoryCounter(throttle.MemoryOptions{MaxEntries: 100, Now: clock.Now})
	c.Incr(ctx, "long", time.Hour)
	for i := range 99 {
		c.Incr(ctx, fmt.Sprint("short", i), time.Minute)
	}
	clock.Advance(2 * time.Minute)
	c.Incr(ctx, "new", time.Minute)
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d, want 2 (expired keys dropped)", n)
	}
	if n, _, _ := c.Get(ctx, "long"); n != 1 {
		t.Errorf("live key evicted while expired keys were present")
	}
}
