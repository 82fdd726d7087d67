package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// inProcess opens the app for cfg and serves it from an httptest server,
// with its logs captured.
func inProcess(t *testing.T, cfg *config) (*httptest.Server, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	a, err := openApp(context.Background(), cfg, newLogger(logs, 0))
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	srv := httptest.NewServer(a.web.Handler())
	t.Cleanup(func() { srv.Close(); a.close() })
	return srv, logs
}

// testConfig returns the default config with a temporary data directory.
func testConfig(t *testing.T, env map[string]string) *config {
	t.Helper()
	env["HALLPASS_DATA"] = t.TempDir()
	env["HALLPASS_SECRET_KEYS"] = testKeys
	fs := newFlagSet("test", "test", io.Discard)
	build := registerFlags(fs, func(k string) string { return env[k] })
	fs.Parse(nil)
	cfg, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// signUp registers ada and logs her in through the HTML forms.
func signUp(t *testing.T, base string) *browser {
	t.Helper()
	b := newBrowser(t)
	if r := b.form(base, "/register", "/register", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.Code, r.Body)
	}
	if r := b.form(base, "/login", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", r.Code, r.Body)
	}
	if r := b.do("GET", base+"/dashboard", nil); r.Code != http.StatusOK {
		t.Fatalf("dashboard: %d", r.Code)
	}
	return b
}

// checkOutage asserts how the server behaves while its session store is
// down: 503 pages and JSON errors, /healthz 503, one log line for the
// whole outage, and no leaked internals.
func checkOutage(t *testing.T, base string, b *browser, logs *lockedBuffer) {
	t.Helper()
	for range 3 {
		r := b.do("GET", base+"/dashboard", nil)
		if r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body, "<html") {
			t.Errorf("dashboard during the outage: %d, want a 503 page\n%s", r.Code, r.Body)
		}
		for _, leak := range []string{"dial tcp", "connection refused", "goroutine", "sql", "redis:"} {
			if strings.Contains(strings.ToLower(r.Body), leak) {
				t.Errorf("503 page shows internals (%q):\n%s", leak, r.Body)
			}
		}
	}
	r := b.do("GET", base+"/api/me", nil, "Accept", "application/json")
	if r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body, `"error":"unavailable"`) {
		t.Errorf("API during the outage: %d %s, want 503 {\"error\":\"unavailable\"}", r.Code, r.Body)
	}
	if r := b.do("GET", base+"/healthz", nil); r.Code != http.StatusServiceUnavailable {
		t.Errorf("/healthz during the outage: %d, want 503", r.Code)
	}
	if n := strings.Count(logs.String(), "session store unavailable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one outage of five requests, want 1:\n%s", n, logs)
	}
}

// waitRecovered polls the dashboard until the same session is served
// again and the end of the outage is logged (once the store has answered
// for a few seconds without a failure).
func waitRecovered(t *testing.T, base string, b *browser, logs *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := b.do("GET", base+"/dashboard", nil)
		if r.Code == http.StatusOK && strings.Contains(r.Body, "Welcome ada!") && strings.Contains(logs.String(), "session store recovered") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered (or recovery not logged) 30s after the store came back: %d\n%s", r.Code, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := b.do("GET", base+"/healthz", nil); r.Code != http.StatusOK {
		t.Errorf("/healthz after recovery: %d", r.Code)
	}
	if n := strings.Count(logs.String(), "session store recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, logs)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A private redis-server is stopped mid-run and started again: the same
// process serves the logged-in user again without a restart.
func TestOutageRedis(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed; skipping the Redis outage test")
	}
	port := freePort(t)
	dir := t.TempDir()
	start := func() {
		cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--dbfilename", "dump.rdb", "--daemonize", "no")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		defer c.Close()
		for i := 0; c.Ping(context.Background()).Err() != nil; i++ {
			if i > 100 {
				t.Fatal("private redis-server did not start")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop := func() {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		defer c.Close()
		c.ShutdownSave(context.Background()) // keeps the data for the restart
		for i := 0; c.Ping(context.Background()).Err() == nil; i++ {
			if i > 100 {
				t.Fatal("private redis-server did not stop")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	start()
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		c.ShutdownNoSave(context.Background())
		c.Close()
	})
	cfg := testConfig(t, map[string]string{"HALLPASS_SESSION_STORE": fmt.Sprintf("redis://127.0.0.1:%d/0", port)})
	srv, logs := inProcess(t, cfg)
	b := signUp(t, srv.URL)

	stop()
	checkOutage(t, srv.URL, b, logs)
	start()
	waitRecovered(t, srv.URL, b, logs)
}

// proxy forwards TCP connections to a backend until cut; restore listens
// again on the same port. freeze makes it go silent instead, as a network
// that drops packets does: connections are accepted and kept open, but
// nothing is forwarded either way until thaw.
type proxy struct {
	t       *testing.T
	addr    string
	backend string
	mu      sync.Mutex
	ln      net.Listener
	conns   []net.Conn
	frozen  atomic.Bool
	opened  atomic.Int64 // connections accepted so far
}

// freeze stops forwarding without closing anything.
func (p *proxy) freeze() { p.frozen.Store(true) }

// thaw forwards again what was held back, and what follows.
func (p *proxy) thaw() { p.frozen.Store(false) }

// waitThawed blocks while the proxy is frozen.
func (p *proxy) waitThawed() {
	for p.frozen.Load() {
		time.Sleep(20 * time.Millisecond)
	}
}

// pump copies src to dst, holding data back while the proxy is frozen.
func (p *proxy) pump(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.waitThawed()
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func newProxy(t *testing.T, backend string) *proxy {
	p := &proxy{t: t, backend: backend, addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	p.restore()
	t.Cleanup(func() { p.thaw(); p.cut() })
	return p
}

func (p *proxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.opened.Add(1)
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			go func() {
				p.waitThawed() // a frozen network answers no handshake either
				up, err := net.Dial("tcp", p.backend)
				if err != nil {
					c.Close()
					return
				}
				p.mu.Lock()
				p.conns = append(p.conns, up)
				p.mu.Unlock()
				go p.pump(up, c)
				p.pump(c, up)
			}()
		}
	}()
}

// cut closes the listener and every connection: the database is gone.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// PostgreSQL (sessions and accounts) becomes unreachable mid-run, through a
// proxy the test cuts (the shared server cannot be stopped under other
// tests), and comes back.
func TestOutagePostgres(t *testing.T) {
	u, p := testSchema(t, "outage")
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	cfg := testConfig(t, map[string]string{"HALLPASS_SESSION_STORE": u.String(), "HALLPASS_DATABASE_URL": u.String()})
	srv, logs := inProcess(t, cfg)
	b := signUp(t, srv.URL)

	p.cut()
	checkOutage(t, srv.URL, b, logs)
	p.restore()
	waitRecovered(t, srv.URL, b, logs)
}

// checkTimely asserts that with the store silent and a store timeout of
// 1s, a request that needs the store is answered with 503 within a few
// seconds, not after the client gives up.
func checkTimely(t *testing.T, base string, b *browser) {
	t.Helper()
	start := time.Now()
	r := b.do("GET", base+"/dashboard", nil)
	if d := time.Since(start); r.Code != http.StatusServiceUnavailable || d > 5*time.Second {
		t.Errorf("dashboard with the store silent: %d after %v, want 503 within 5s (HALLPASS_STORE_TIMEOUT=1s)", r.Code, d.Round(time.Millisecond))
	}
}

// testSchema creates a PostgreSQL schema of the test's own on the database
// named by HALLPASS_TEST_POSTGRES_URL, dropped when the test ends, and
// returns that URL set to use it through a proxy to the server.
func testSchema(t *testing.T, name string) (*url.URL, *proxy) {
	t.Helper()
	pg := os.Getenv("HALLPASS_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HALLPASS_TEST_POSTGRES_URL not set; skipping the PostgreSQL outage test")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("hallpass_%s_%d", name, os.Getpid())
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); conn.Close(ctx) })
	u, _ := url.Parse(pg)
	p := newProxy(t, u.Host)
	u.Host = p.addr
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u, p
}

// PostgreSQL (sessions and accounts) goes silent mid-run: the proxy keeps
// every connection open and forwards nothing. Requests that need it get
// 503 after the store timeout instead of hanging, the outage is logged
// once, and the same process serves the user again once the network
// answers.
func TestFrozenPostgres(t *testing.T) {
	u, p := testSchema(t, "frozen")
	freezeAndThaw(t, p, map[string]string{"HALLPASS_SESSION_STORE": u.String(), "HALLPASS_DATABASE_URL": u.String()})
}

// freezeAndThaw serves env with a store timeout of 1s, signs up, freezes
// p (the session store's network) and checks the outage, then thaws it
// and checks the recovery.
func freezeAndThaw(t *testing.T, p *proxy, env map[string]string) {
	t.Helper()
	env["HALLPASS_STORE_TIMEOUT"] = "1s"
	srv, logs := inProcess(t, testConfig(t, env))
	b := signUp(t, srv.URL)

	p.freeze()
	checkTimely(t, srv.URL, b)
	checkOutage(t, srv.URL, b, logs)
	p.thaw()
	waitRecovered(t, srv.URL, b, logs)
}

// Only the accounts database goes silent: a login, which must read the
// account, gets 503 after the store timeout instead of hanging.
func TestFrozenPostgresAccounts(t *testing.T) {
	u, p := testSchema(t, "frozenacc")
	cfg := testConfig(t, map[string]string{"HALLPASS_SESSION_STORE": "memory", "HALLPASS_DATABASE_URL": u.String(), "HALLPASS_STORE_TIMEOUT": "1s"})
	srv, logs := inProcess(t, cfg)
	signUp(t, srv.URL)

	p.freeze()
	for range 3 {
		start := time.Now()
		r := newBrowser(t).do("POST", srv.URL+"/api/session", map[string]any{"username": "ada", "password": "correct horse battery"})
		if d := time.Since(start); r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body, `"error":"unavailable"`) || d > 5*time.Second {
			t.Errorf("login with the accounts database silent: %d %s after %v, want 503 unavailable within 5s", r.Code, r.Body, d.Round(time.Millisecond))
		}
	}
	if n := strings.Count(logs.String(), "account store unavailable"); n != 1 {
		t.Errorf("the accounts outage was logged %d times for three logins, want once:\n%s", n, logs)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one outage of three requests, want 1:\n%s", n, logs)
	}
	p.thaw()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := newBrowser(t).do("POST", srv.URL+"/api/session", map[string]any{"username": "ada", "password": "correct horse battery"})
		if r.Code == http.StatusOK && strings.Contains(logs.String(), "account store recovered") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("login once the database answers again: %d %s, want 200 and the recovery logged:\n%s", r.Code, r.Body, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Redis (sessions and throttle counters) goes silent mid-run, through a
// proxy to the test Redis.
func TestFrozenRedis(t *testing.T) {
	ru := os.Getenv("HALLPASS_TEST_REDIS_URL")
	if ru == "" {
		t.Skip("HALLPASS_TEST_REDIS_URL not set; skipping the Redis outage test")
	}
	u, err := url.Parse(ru)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	freezeAndThaw(t, p, map[string]string{"HALLPASS_SESSION_STORE": u.String()})
}

// memcachedProxy returns a proxy to the test Memcached, and skips the test
// without one.
func memcachedProxy(t *testing.T) *proxy {
	t.Helper()
	addr := os.Getenv("HALLPASS_TEST_MEMCACHED_ADDR")
	if addr == "" {
		t.Skip("HALLPASS_TEST_MEMCACHED_ADDR not set; skipping the Memcached server tests")
	}
	return newProxy(t, addr)
}

// Memcached becomes unreachable mid-run, through a proxy the test cuts,
// and comes back.
func TestOutageMemcached(t *testing.T) {
	p := memcachedProxy(t)
	srv, logs := inProcess(t, testConfig(t, map[string]string{"HALLPASS_SESSION_STORE": "memcached://" + p.addr}))
	b := signUp(t, srv.URL)

	p.cut()
	checkOutage(t, srv.URL, b, logs)
	p.restore()
	waitRecovered(t, srv.URL, b, logs)
}

// Memcached goes silent mid-run: gomemcache has no context, so its own
// timeout (500ms) bounds each call.
func TestFrozenMemcached(t *testing.T) {
	p := memcachedProxy(t)
	freezeAndThaw(t, p, map[string]string{"HALLPASS_SESSION_STORE": "memcached://" + p.addr})
}

// Concurrent requests share the server's connections to Memcached instead
// of each dialing its own: gomemcache keeps two idle connections per
// server unless told otherwise, so every request beyond the second opened
// and closed one (hundreds here), leaving a socket in TIME_WAIT each time.
func TestMemcachedKeepsConnections(t *testing.T) {
	p := memcachedProxy(t)
	// A roomy timeout: a slow call under -race must not close its connection.
	srv, _ := inProcess(t, testConfig(t, map[string]string{"HALLPASS_SESSION_STORE": "memcached://" + p.addr + "?timeout=5s"}))
	b := signUp(t, srv.URL) // its client and cookie jar are safe for concurrent use
	get := func() error {
		resp, err := b.c.Get(srv.URL + "/dashboard")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Welcome ada!") {
			return fmt.Errorf("dashboard: %d, want 200 with Welcome ada!", resp.StatusCode)
		}
		return nil
	}
	before := p.opened.Load()
	const clients, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for range each {
				if err := get(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := p.opened.Load() - before; n > 2*clients {
		t.Errorf("%d requests from %d clients at once opened %d connections to Memcached; want at most %d (idle connections reused)", clients*each, clients, n, 2*clients)
	}
}

// HALLPASS_HASH_CONCURRENCY sets how many password hashes the server
// computes at once; unset, the password package's default applies.
func TestHashConcurrencySetting(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want int
	}{
		{env: map[string]string{}, want: 0},
		{env: map[string]string{"HALLPASS_HASH_CONCURRENCY": "3"}, want: 3},
	} {
		a, err := openApp(context.Background(), testConfig(t, tc.env), newLogger(io.Discard, 0))
		if err != nil {
			t.Fatalf("openApp: %v", err)
		}
		if got := a.hasher.MaxConcurrent; got != tc.want {
			t.Errorf("env %v: Hasher.MaxConcurrent = %d, want %d", tc.env, got, tc.want)
		}
		a.close()
	}
}
