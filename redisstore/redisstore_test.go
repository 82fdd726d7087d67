package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// testClient connects to the server named by HALLPASS_TEST_REDIS_URL, or
// skips the test.
func testClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	url := os.Getenv("HALLPASS_TEST_REDIS_URL")
	if url == "" {
		tb.Skip("HALLPASS_TEST_REDIS_URL not set; skipping Redis store tests")
	}
	c, err := redisstore.ParseURL(url)
	if err != nil {
		tb.Fatalf("ParseURL(HALLPASS_TEST_REDIS_URL) = %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// newStore returns a store on c whose keys start with a prefix of its
// own, and deletes those keys when the test ends.
func newStore(tb testing.TB, c redis.UniversalClient, now func() time.Time) (*redisstore.SessionStore, string) {
	tb.Helper()
	prefix := "hallpass-test:" + rand.Text()[:12] + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup: SCAN %s*: %v", prefix, err)
		}
		for _, k := range keys {
			c.Del(ctx, k)
		}
	})
	return redisstore.New(c, redisstore.Options{Prefix: prefix, Now: now}), prefix
}

func TestSessionStore(t *testing.T) {
	c := testClient(t)
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		s, _ := newStore(t, c, clock.Now)
		return s
	})
}

// countHook counts the round trips a client makes: each command or
// pipeline sent.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestLoadIsOneRoundTrip(t *testing.T) {
	c := testClient(t)
	hook := &countHook{}
	c.AddHook(hook)
	s, _ := newStore(t, c, time.Now)
	ctx := t.Context()
	id := session.IDOf([]byte(rand.Text()))
	now := time.Now()
	rec := &session.Record{UserID: "u", Values: map[string][]byte{"a": []byte("1")},
		CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}
	if err := s.Create(ctx, id, rec); err != nil {
		t.Fatalf("Create = %v", err)
	}
	// A new connection sends HELLO, SELECT and CLIENT SETINFO through the
	// hooks too; count only once one is open.
	if _, err := s.Load(ctx, id); err != nil {
		t.Fatalf("Load = %v", err)
	}

	for _, tt := range []struct{ name, id string }{{"found", id}, {"missing", session.IDOf([]byte("missing"))}} {
		before := hook.n.Load()
		_, err := s.Load(ctx, tt.id)
		if err != nil && !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Load(%s) = %v", tt.name, err)
		}
		if got := hook.n.Load() - before; got != 1 {
			t.Errorf("Load(%s) made %d round trips, want 1", tt.name, got)
		}
	}
}

// holdHook holds the first round trip it sees (a command or a pipeline)
// until release is closed, and counts the round trips.
type holdHook struct {
	trips   atomic.Int64
	held    chan struct{} // closed when the first round trip is held
	release chan struct{}
}

func (h *holdHook) trip() {
	if h.trips.Add(1) == 1 {
		close(h.held)
		<-h.release
	}
}

func (h *holdHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *holdHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.trip()
		return next(ctx, cmd)
	}
}

func (h *holdHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.trip()
		return next(ctx, cmds)
	}
}

// Loads made while one is in flight wait for it and then go together, in
// one round trip; each gets its own record, and a Load whose context ends
// while it waits returns at once with the context's error.
func TestConcurrentLoadsShareRoundTrips(t *testing.T) {
	c := testClient(t)
	s, _ := newStore(t, c, time.Now)
	ctx := t.Context()
	const n = 50
	ids := make([]string, n)
	now := time.Now()
	for i := range ids {
		ids[i] = session.IDOf([]byte(rand.Text()))
		rec := &session.Record{UserID: fmt.Sprint("user", i), CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}
		if err := s.Create(ctx, ids[i], rec); err != nil {
			t.Fatalf("Create = %v", err)
		}
	}
	hook := &holdHook{held: make(chan struct{}), release: make(chan struct{})}
	c.AddHook(hook)

	first := make(chan error, 1)
	go func() {
		_, err := s.Load(ctx, ids[0])
		first <- err
	}()
	<-hook.held // the first Load's round trip is in flight

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Load(short, ids[1]); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Load while the pipeline is held, with a 50 ms deadline = %v; want an error wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Load with a 50 ms deadline returned after %v", d)
	}

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 1; i < n; i++ {
		wg.Go(func() {
			rec, err := s.Load(ctx, ids[i])
			if err == nil && rec.UserID != fmt.Sprint("user", i) {
				err = fmt.Errorf("got the record of %q", rec.UserID)
			}
			errs[i] = err
		})
	}
	time.Sleep(200 * time.Millisecond) // let all of them queue
	close(hook.release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Errorf("first Load = %v", err)
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("Load %d = %v", i+1, err)
		}
	}
	// The held one, the abandoned one (which may have gone alone), then the
	// 49 queued: far fewer round trips than Loads.
	if got := hook.trips.Load(); got > 5 {
		t.Errorf("%d concurrent Loads took %d round trips; want them to share (at most 5)", n, got)
	}
}

func TestIndexCleanedAfterExpiry(t *testing.T) {
	c := testClient(t)
	clock := sessiontest.NewClock()
	s, prefix := newStore(t, c, clock.Now)
	ctx := t.Context()
	indexKey := prefix + "u:alice"
	now := clock.Now()
	for i := range 3 {
		rec := &session.Record{UserID: "alice", CreatedAt: now, LastSeen: now,
			Expiry: now.Add(time.Duration(i+1) * time.Minute)}
		if err := s.Create(ctx, session.IDOf([]byte(rand.Text())), rec); err != nil {
			t.Fatalf("Create = %v", err)
		}
	}
	if n := c.ZCard(ctx, indexKey).Val(); n != 3 {
		t.Fatalf("after 3 Creates, ZCARD %s = %d, want 3", indexKey, n)
	}
	ttl := c.PTTL(ctx, indexKey).Val()
	if ttl < 2*time.Minute || ttl > 3*time.Minute+time.Second {
		t.Errorf("PTTL %s = %v, want about 3m (the latest session expiry)", indexKey, ttl)
	}

	clock.Advance(2 * time.Minute)
	list, err := s.ListByUser(ctx, "alice")
	if err != nil || len(list) != 1 {
		t.Fatalf("ListByUser after 2 of 3 sessions expired = %v, %v; want 1 session", list, err)
	}
	if n := c.ZCard(ctx, indexKey).Val(); n != 1 {
		t.Errorf("after 2 of 3 sessions expired, ZCARD %s = %d, want 1", indexKey, n)
	}

	clock.Advance(time.Minute)
	if list, err := s.ListByUser(ctx, "alice"); err != nil || len(list) != 0 {
		t.Fatalf("ListByUser after all sessions expired = %v, %v; want none", list, err)
	}
	if n := c.Exists(ctx, indexKey).Val(); n != 0 {
		t.Errorf("after all sessions expired, EXISTS %s = %d, want 0", indexKey, n)
	}
}

func TestNativeTTL(t *testing.T) {
	c := testClient(t)
	clock := sessiontest.NewClock()
	s, prefix := newStore(t, c, clock.Now)
	ctx := t.Context()
	id := session.IDOf([]byte(rand.Text()))
	sessionKey, indexKey := prefix+"s:"+id, prefix+"u:dave"
	now := clock.Now()
	rec := &session.Record{UserID: "dave", CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}
	if err := s.Create(ctx, id, rec); err != nil {
		t.Fatalf("Create = %v", err)
	}
	checkTTL := func(key string, want time.Duration) {
		t.Helper()
		// The fake clock stands still while real time passes.
		if got := c.PTTL(ctx, key).Val(); got > want || got < want-5*time.Second {
			t.Errorf("PTTL %s = %v, want %v", key, got, want)
		}
	}
	checkTTL(sessionKey, time.Hour)
	checkTTL(indexKey, time.Hour)

	// A refresh moves both, and the index score.
	clock.Advance(30 * time.Minute)
	now = clock.Now()
	if err := s.Update(ctx, id, &session.Update{LastSeen: now, Expiry: now.Add(time.Hour)}); err != nil {
		t.Fatalf("Update = %v", err)
	}
	checkTTL(sessionKey, time.Hour)
	checkTTL(indexKey, time.Hour)
	if got, want := int64(c.ZScore(ctx, indexKey, id).Val()), now.Add(time.Hour).UnixMicro(); got != want {
		t.Errorf("ZSCORE %s = %d, want %d (the new expiry)", indexKey, got, want)
	}

	// Values-only Updates leave the TTL alone.
	if err := s.Update(ctx, id, &session.Update{Set: map[string][]byte{"k": []byte("v")}}); err != nil {
		t.Fatalf("Update = %v", err)
	}
	checkTTL(sessionKey, time.Hour)
}

func TestIndexFollowsDelete(t *testing.T) {
	c := testClient(t)
	s, prefix := newStore(t, c, time.Now)
	ctx := t.Context()
	now := time.Now()
	id := session.IDOf([]byte(rand.Text()))
	rec := &session.Record{UserID: "bob", CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}
	if err := s.Create(ctx, id, rec); err != nil {
		t.Fatalf("Create = %v", err)
	}
	if err := s.Delete(ctx, id); err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if n := c.Exists(ctx, prefix+"u:bob", prefix+"s:"+id).Val(); n != 0 {
		t.Errorf("after Delete, %d of the session and index keys exist, want 0", n)
	}
}

func TestLoadCorrupt(t *testing.T) {
	c := testClient(t)
	s, prefix := newStore(t, c, time.Now)
	id := session.IDOf([]byte(rand.Text()))
	for _, fields := range [][]any{
		{"v:k", "v"}, // no metadata
		{"user", "", "created", "x", "seen", "1", "expiry", "1", "ip", "", "ua", ""}, // bad time
	} {
		c.Del(t.Context(), prefix+"s:"+id)
		if err := c.HSet(t.Context(), prefix+"s:"+id, fields...).Err(); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Load(t.Context(), id); !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("Load of a hash with fields %q = %v, %v; want ErrCorrupt", fields, r, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	t.Run("rediss", func(t *testing.T) {
		c, err := redisstore.ParseURL("rediss://user:secret@redis.example.com:6380/3?dial_timeout=2s")
		if err != nil {
			t.Fatalf("ParseURL(rediss://...) = %v", err)
		}
		defer c.Close()
		rc, ok := c.(*redis.Client)
		if !ok {
			t.Fatalf("ParseURL(rediss://...) = %T, want *redis.Client", c)
		}
		o := rc.Options()
		if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example.com" {
			t.Errorf("TLSConfig = %+v, want one for server redis.example.com", o.TLSConfig)
		}
		if o.Addr != "redis.example.com:6380" || o.DB != 3 || o.Username != "user" || o.Password != "secret" || o.DialTimeout != 2*time.Second {
			t.Errorf("Options = {Addr %q, DB %d, Username %q, Password %q, DialTimeout %v}, want {redis.example.com:6380, 3, user, secret, 2s}",
				o.Addr, o.DB, o.Username, o.Password, o.DialTimeout)
		}
	})
	t.Run("redis", func(t *testing.T) {
		c, err := redisstore.ParseURL("redis://localhost")
		if err != nil {
			t.Fatalf("ParseURL(redis://localhost) = %v", err)
		}
		defer c.Close()
		if o := c.(*redis.Client).Options(); o.Addr != "localhost:6379" || o.TLSConfig != nil {
			t.Errorf("Options = {Addr %q, TLSConfig %v}, want {localhost:6379, nil}", o.Addr, o.TLSConfig)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		c, err := redisstore.ParseURL("rediss+cluster://:pw@node1:7000?addr=node2:7001&addr=node3:7002")
		if err != nil {
			t.Fatalf("ParseURL(rediss+cluster://...) = %v", err)
		}
		defer c.Close()
		cc, ok := c.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("ParseURL(rediss+cluster://...) = %T, want *redis.ClusterClient", c)
		}
		o := cc.Options()
		if got := strings.Join(o.Addrs, ","); got != "node1:7000,node2:7001,node3:7002" || o.TLSConfig == nil || o.Password != "pw" {
			t.Errorf("ClusterOptions = {Addrs %q, TLS %v, Password %q}, want {node1:7000,node2:7001,node3:7002, set, pw}", got, o.TLSConfig != nil, o.Password)
		}
	})
	clusterTests := []struct {
		url, addrs string
	}{
		{"redis+cluster://node1:7000,node2:7001,node3:7002", "node1:7000,node2:7001,node3:7002"},
		{"redis+cluster://u:p@node1:7000,node2:7001/?read_only=true", "node1:7000,node2:7001"},
		{"redis+cluster://node1:7000,node2:7001?addr=node3:7002", "node1:7000,node2:7001,node3:7002"},
		{"redis+cluster://[::1]:7000,10.0.0.2:7001", "[::1]:7000,10.0.0.2:7001"},
	}
	for _, tt := range clusterTests {
		c, err := redisstore.ParseURL(tt.url)
		if err != nil {
			t.Errorf("ParseURL(%q) = %v, want a cluster client", tt.url, err)
			continue
		}
		if got := strings.Join(c.(*redis.ClusterClient).Options().Addrs, ","); got != tt.addrs {
			t.Errorf("ParseURL(%q): Addrs = %q, want %q", tt.url, got, tt.addrs)
		}
		c.Close()
	}
	t.Run("timeouts", func(t *testing.T) {
		for _, u := range []string{"redis://localhost", "redis+cluster://localhost:7000"} {
			c, err := redisstore.ParseURL(u)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var ctxTimeout bool
			var dial, read, write time.Duration
			var dials int
			switch c := c.(type) {
			case *redis.Client:
				o := c.Options()
				ctxTimeout, dial, read, write, dials = o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.DialerRetries
			case *redis.ClusterClient:
				o := c.Options()
				ctxTimeout, dial, read, write, dials = o.ContextTimeoutEnabled, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.DialerRetries
			}
			if !ctxTimeout || dial != redisstore.DefaultDialTimeout || read != redisstore.DefaultIOTimeout || write != redisstore.DefaultIOTimeout {
				t.Errorf("ParseURL(%q): ContextTimeoutEnabled %v, timeouts dial %v read %v write %v; want true, %v, %v, %v",
					u, ctxTimeout, dial, read, write, redisstore.DefaultDialTimeout, redisstore.DefaultIOTimeout, redisstore.DefaultIOTimeout)
			}
			if dials != redisstore.DefaultDialerRetries {
				t.Errorf("ParseURL(%q): DialerRetries %d, want %d: a Redis that refuses connections must fail a call at once", u, dials, redisstore.DefaultDialerRetries)
			}
		}
	})
	for _, bad := range []string{"", "localhost:6379", "http://localhost", "redis://localhost/notadb", "redis://localhost?no_such_option=1",
		"redis+cluster://", "redis+cluster://node1:7000,", "redis+cluster://node1:7000,,node2:7001", "redis+cluster://node1:7000/0",
		"redis+cluster://node1:7000,node2", "redis+cluster://node1:7000,node2:99999", "redis+cluster://:7000", "redis+cluster://node1:7000?db=1"} {
		if c, err := redisstore.ParseURL(bad); err == nil {
			c.Close()
			t.Errorf("ParseURL(%q) = nil error, want an error", bad)
		}
	}
	if _, err := redisstore.ParseURL("redis://user:hunter2@host:port:bad/"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("ParseURL of a malformed URL with a password = %v, want an error that does not show the password", err)
	}
}

func TestPing(t *testing.T) {
	s, _ := newStore(t, testClient(t), time.Now)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
	downClient := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer downClient.Close()
	down := redisstore.New(downClient, redisstore.Options{})
	if err := down.Ping(t.Context()); err == nil {
		t.Error("Ping of a closed port = nil, want an error")
	}
}

// go test -run '^$' -bench . ./redisstore/ (with HALLPASS_TEST_REDIS_URL)
func BenchmarkSessionStore(b *testing.B) {
	s, _ := newStore(b, testClient(b), time.Now)
	sessiontest.Benchmark(b, s)
}
