package login_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/session"
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

// gatedHasher is the real hasher, counting the password checks that
// reach it (Verify and DummyVerify). Each check waits until every one of
// the burst's attempts has either reached a check or been refused, so
// all attempts are in flight together and none is decided before the
// others ask: the worst case for a limit, reached without sleeping.
type gatedHasher struct {
	*password.Hasher
	checks  atomic.Int64
	settled atomic.Int64 // attempts that reached a check or were refused
	burst   int64
	all     chan struct{} // closed when settled reaches burst
	once    sync.Once
}

func newGatedHasher(burst int) *gatedHasher {
	return &gatedHasher{Hasher: &password.Hasher{Params: cheap}, burst: int64(burst), all: make(chan struct{})}
}

func (h *gatedHasher) settle() {
	if h.settled.Add(1) >= h.burst {
		h.once.Do(func() { close(h.all) })
	}
}

func (h *gatedHasher) wait(ctx context.Context) {
	h.checks.Add(1)
	h.settle()
	select {
	case <-h.all:
	case <-ctx.Done():
	}
}

func (h *gatedHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	h.wait(ctx)
	return h.Hasher.Verify(ctx, pw, encoded)
}

func (h *gatedHasher) DummyVerify(ctx context.Context, pw string) error {
	h.wait(ctx)
	return h.Hasher.DummyVerify(ctx, pw)
}

// newThrottledManager returns a login Manager whose throttle keeps its
// counts in counter.
func newThrottledManager(t *testing.T, h login.Hasher, counter throttle.Counter, cfg throttle.Config) *login.Manager {
	t.Helper()
	store := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { store.Close() })
	sessions, err := session.New(session.Config{Store: store, Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	lm, err := login.New(login.Config{
		Sessions:  sessions,
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
					h := newGatedHasher(burst)
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
