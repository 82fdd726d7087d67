package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/throttle/throttletest"
)

// tolerance is how far a resetAt computed from Redis's remaining TTL may
// stray from the exact value: a round trip, and a millisecond of
// rounding.
const tolerance = 50 * time.Millisecond

// testPrefix returns a key prefix of the test's own, and deletes the keys
// under it from c when the test ends.
func testPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	prefix := "hallpass-test:" + rand.Text()[:12] + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup: SCAN %s*: %v", prefix, err)
		}
	})
	return prefix
}

func TestCounter(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps through windows on Redis's clock; skipped with -short")
	}
	c := testClient(t)
	throttletest.Run(t, func(t *testing.T) throttletest.Harness {
		return throttletest.Harness{
			Counter:   redisstore.NewCounter(c, redisstore.Options{Prefix: testPrefix(t, c)}),
			Now:       time.Now,
			Advance:   time.Sleep,
			Tolerance: tolerance,
		}
	})
}

// Two processes, each with its own client, share the counts.
func TestCounterSharedAcrossClients(t *testing.T) {
	c1, c2 := testClient(t), testClient(t)
	prefix := testPrefix(t, c1)
	a := redisstore.NewCounter(c1, redisstore.Options{Prefix: prefix})
	b := redisstore.NewCounter(c2, redisstore.Options{Prefix: prefix})
	ctx := t.Context()

	if _, _, err := a.Incr(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	_, first, err := a.Incr(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	n, reset, err := b.Incr(ctx, "k", time.Minute)
	if err != nil || n != 3 {
		t.Fatalf("second client: Incr after two Incr by the first = %d, %v; want 3, nil", n, err)
	}
	if d := reset.Sub(first); d < -tolerance || d > tolerance {
		t.Errorf("second client: resetAt = %v, want the first client's %v (±%v)", reset, first, tolerance)
	}
	if n, _, err := b.Get(ctx, "k"); err != nil || n != 3 {
		t.Errorf("second client: Get = %d, %v; want 3, nil", n, err)
	}

	// Concurrent increments through both are all counted.
	const each = 100
	var wg sync.WaitGroup
	for _, c := range []*redisstore.Counter{a, b} {
		wg.Go(func() {
			for range each {
				if _, _, err := c.Incr(ctx, "k", time.Minute); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, _, err := a.Get(ctx, "k"); err != nil || n != 3+2*each {
		t.Errorf("first client: Get after %d concurrent Incr through both = %d, %v; want %d", 2*each, n, err, 3+2*each)
	}

	if err := b.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, reset, err := a.Get(ctx, "k"); err != nil || n != 0 || !reset.IsZero() {
		t.Errorf("first client: Get after the second's Reset = %d, %v, %v; want 0, zero time, nil", n, reset, err)
	}
}

func TestCounterRoundTrips(t *testing.T) {
	c := testClient(t)
	hook := &countHook{}
	c.AddHook(hook)
	counter := redisstore.NewCounter(c, redisstore.Options{Prefix: testPrefix(t, c)})
	ctx := t.Context()
	// Open a connection, and let the server learn the scripts.
	if _, _, err := counter.Incr(ctx, "warm", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := counter.Get(ctx, "warm"); err != nil {
		t.Fatal(err)
	}

	calls := []struct {
		name string
		fn   func() error
	}{
		{"Incr of a new key", func() error { _, _, err := counter.Incr(ctx, "k", time.Minute); return err }},
		{"Incr of a live key", func() error { _, _, err := counter.Incr(ctx, "k", time.Minute); return err }},
		{"Get of a live key", func() error { _, _, err := counter.Get(ctx, "k"); return err }},
		{"Get of a missing key", func() error { _, _, err := counter.Get(ctx, "missing"); return err }},
		{"Reset", func() error { return counter.Reset(ctx, "k") }},
	}
	for _, call := range calls {
		before := hook.n.Load()
		if err := call.fn(); err != nil {
			t.Fatalf("%s = %v", call.name, err)
		}
		if got := hook.n.Load() - before; got != 1 {
			t.Errorf("%s made %d round trips, want 1", call.name, got)
		}
	}
}

func TestCounterKeys(t *testing.T) {
	c := testClient(t)
	ctx := t.Context()
	prefix := testPrefix(t, c)
	key := "throttle:acct:" + rand.Text()
	tests := []struct {
		opts redisstore.Options
		want string
	}{
		{redisstore.Options{Prefix: prefix}, prefix + "t:" + key},
		{redisstore.Options{}, redisstore.DefaultPrefix + "t:" + key},
	}
	for _, tt := range tests {
		t.Cleanup(func() { c.Del(context.Background(), tt.want) })
		if _, _, err := redisstore.NewCounter(c, tt.opts).Incr(ctx, key, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Get(ctx, tt.want).Result(); err != nil || got != "1" {
			t.Errorf("with Prefix %q, after Incr(%q), GET %s = %q, %v; want \"1\"", tt.opts.Prefix, key, tt.want, got, err)
		}
		if ttl, err := c.PTTL(ctx, tt.want).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Errorf("with Prefix %q, after Incr(%q) with a minute's window, PTTL %s = %v, %v; want at most a minute",
				tt.opts.Prefix, key, tt.want, ttl, err)
		}
	}
}

func TestCounterBadWindow(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	counter := redisstore.NewCounter(c, redisstore.Options{Prefix: prefix})
	for _, w := range []time.Duration{0, -time.Second} {
		if _, _, err := counter.Incr(t.Context(), "k", w); err == nil {
			t.Errorf("Incr with window %v = nil error, want an error", w)
		}
	}
	if n, err := c.Exists(t.Context(), prefix+"t:k").Result(); err != nil || n != 0 {
		t.Errorf("after Incr with bad windows, EXISTS = %d, %v; want 0", n, err)
	}
}

// A window shorter than a millisecond lasts one: rounded down, it would
// be PEXPIRE 0, which deletes the key and would never count past 1.
func TestCounterSubMillisecondWindow(t *testing.T) {
	c := testClient(t)
	counter := redisstore.NewCounter(c, redisstore.Options{Prefix: testPrefix(t, c)})
	before := time.Now()
	n, reset, err := counter.Incr(t.Context(), "k", 100*time.Microsecond)
	if err != nil || n != 1 {
		t.Fatalf("Incr with a 100µs window = %d, %v; want 1, nil", n, err)
	}
	if reset.Before(before) || reset.After(time.Now().Add(tolerance)) {
		t.Errorf("Incr with a 100µs window: resetAt = %v, want about a millisecond after %v", reset, before)
	}
}

// A count left without a time-to-live (by a writer other than the
// Counter) would never reset; the next Incr gives it the window.
func TestCounterHealsKeyWithoutTTL(t *testing.T) {
	c := testClient(t)
	ctx := t.Context()
	prefix := testPrefix(t, c)
	counter := redisstore.NewCounter(c, redisstore.Options{Prefix: prefix})
	if err := c.Set(ctx, prefix+"t:k", "5", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, reset, err := counter.Get(ctx, "k"); err != nil || n != 5 || !reset.IsZero() {
		t.Errorf("Get of a count without a TTL = %d, %v, %v; want 5, zero time, nil", n, reset, err)
	}
	before := time.Now()
	n, reset, err := counter.Incr(ctx, "k", time.Minute)
	if err != nil || n != 6 {
		t.Fatalf("Incr of a count without a TTL = %d, %v; want 6, nil", n, err)
	}
	if d := reset.Sub(before.Add(time.Minute)); d < -tolerance || d > tolerance {
		t.Errorf("Incr of a count without a TTL: resetAt = %v, want %v (±%v)", reset, before.Add(time.Minute), tolerance)
	}
	if ttl, err := c.PTTL(ctx, prefix+"t:k").Result(); err != nil || ttl <= 0 {
		t.Errorf("after Incr, PTTL = %v, %v; want a time-to-live", ttl, err)
	}
}

func TestCounterNotACount(t *testing.T) {
	c := testClient(t)
	ctx := t.Context()
	prefix := testPrefix(t, c)
	counter := redisstore.NewCounter(c, redisstore.Options{Prefix: prefix})
	if err := c.Set(ctx, prefix+"t:k", "not a number", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := counter.Incr(ctx, "k", time.Minute); err == nil {
		t.Error("Incr of a key that holds no count = nil error, want an error")
	}
	if _, _, err := counter.Get(ctx, "k"); err == nil {
		t.Error("Get of a key that holds no count = nil error, want an error")
	}
}

func TestCounterCancelled(t *testing.T) {
	c := testClient(t)
	counter := redisstore.NewCounter(c, redisstore.Options{Prefix: testPrefix(t, c)})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := counter.Incr(ctx, "k", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Incr with a cancelled context = %v, want an error wrapping context.Canceled", err)
	}
	if _, _, err := counter.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v, want an error wrapping context.Canceled", err)
	}
	if err := counter.Reset(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Reset with a cancelled context = %v, want an error wrapping context.Canceled", err)
	}
}

func BenchmarkCounterIncr(b *testing.B) {
	c := testClient(b)
	counter := redisstore.NewCounter(c, redisstore.Options{Prefix: testPrefix(b, c)})
	ctx := b.Context()
	for b.Loop() {
		if _, _, err := counter.Incr(ctx, "k", time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
