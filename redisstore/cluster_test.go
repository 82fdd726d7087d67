package redisstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
	"github.com/hallpass/hallpass/throttle/throttletest"
)

// clusterClient connects to the Redis Cluster named by
// HALLPASS_TEST_REDIS_CLUSTER_URL (.ci/redis-cluster starts one), or skips
// the test.
func clusterClient(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	url := os.Getenv("HALLPASS_TEST_REDIS_CLUSTER_URL")
	if url == "" {
		tb.Skip("HALLPASS_TEST_REDIS_CLUSTER_URL not set (start a cluster with .ci/redis-cluster); skipping Redis Cluster tests")
	}
	c, err := redisstore.ParseURL(url)
	if err != nil {
		tb.Fatalf("ParseURL(HALLPASS_TEST_REDIS_CLUSTER_URL) = %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		tb.Fatalf("ParseURL(HALLPASS_TEST_REDIS_CLUSTER_URL) = %T, want a *redis.ClusterClient", c)
	}
	return cc
}

// clusterPrefix returns a key prefix of the test's own, and deletes the
// keys under it from every master of c when the test ends (SCAN on a
// cluster client sees one node only).
func clusterPrefix(tb testing.TB, c *redis.ClusterClient) string {
	tb.Helper()
	prefix := "hallpass-test:" + rand.Text()[:12] + ":"
	tb.Cleanup(func() {
		err := c.ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
			iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				node.Del(ctx, iter.Val())
			}
			return iter.Err()
		})
		if err != nil {
			tb.Errorf("cleanup: SCAN %s* on the masters: %v", prefix, err)
		}
	})
	return prefix
}

func TestClusterSessionStore(t *testing.T) {
	c := clusterClient(t)
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		return redisstore.New(c, redisstore.Options{Prefix: clusterPrefix(t, c), Now: clock.Now})
	})
}

func TestClusterCounter(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps through windows on Redis's clock; skipped with -short")
	}
	c := clusterClient(t)
	throttletest.Run(t, func(t *testing.T) throttletest.Harness {
		return throttletest.Harness{
			Counter:   redisstore.NewCounter(c, redisstore.Options{Prefix: clusterPrefix(t, c)}),
			Now:       time.Now,
			Advance:   time.Sleep,
			Tolerance: tolerance,
		}
	})
}

// testCluster is a private 6-node Redis Cluster started by
// .ci/redis-cluster on free ports, stopped when the test ends.
type testCluster struct {
	first int    // port of the first node; the nodes use first..first+5
	dir   string // the nodes' pid, log and config files
	url   string
}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed; skipping the failover test", bin)
		}
	}
	first := freePortRange(t)
	tmp := t.TempDir()
	script, err := filepath.Abs("../.ci/redis-cluster")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, strconv.Itoa(first))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.Output()
	t.Cleanup(func() {
		stop := exec.Command(script, "stop", strconv.Itoa(first))
		stop.Env = cmd.Env
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("stopping the test cluster: %v\n%s", err, out)
		}
	})
	if err != nil {
		t.Fatalf("starting a test cluster on port %d: %v\n%s", first, err, out)
	}
	return &testCluster{first: first, dir: filepath.Join(tmp, fmt.Sprintf("hallpass-redis-cluster-%d", first)), url: strings.TrimSpace(string(out))}
}

// freePortRange returns a port p such that p..p+5 and their cluster bus
// ports p+10000..p+10005 are free.
func freePortRange(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := 20000 + mrand.IntN(10000)
		free := true
		for i := range 6 {
			for _, port := range []int{p + i, p + i + 10000} {
				ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
				if err != nil {
					free = false
					break
				}
				ln.Close()
			}
		}
		if free {
			return p
		}
	}
	t.Fatal("no 6 free consecutive ports found")
	return 0
}

// nodes returns the cluster's view of its nodes from a node other than
// skip: address to role ("master" or "slave") and, for a replica, the
// ID of its master; and whether the cluster state is ok.
func (tc *testCluster) nodes(ctx context.Context, skip string) (roles map[string]string, ids map[string]string, masterOf map[string]string, ok bool) {
	for i := range 6 {
		addr := fmt.Sprintf("127.0.0.1:%d", tc.first+i)
		if addr == skip {
			continue
		}
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
		info, err1 := c.ClusterInfo(ctx).Result()
		text, err2 := c.ClusterNodes(ctx).Result()
		c.Close()
		if err1 != nil || err2 != nil {
			continue
		}
		roles, ids, masterOf = map[string]string{}, map[string]string{}, map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			a, _, _ := strings.Cut(f[1], "@")
			ids[a] = f[0]
			switch {
			case strings.Contains(f[2], "fail") && !strings.Contains(f[2], "fail?"):
				roles[a] = "failed"
			case strings.Contains(f[2], "master"):
				roles[a] = "master"
			default:
				roles[a] = "slave"
				masterOf[a] = f[3]
			}
		}
		return roles, ids, masterOf, strings.Contains(info, "cluster_state:ok")
	}
	return nil, nil, nil, false
}

// kill ends the node on addr with SIGKILL, as a crash would.
func (tc *testCluster) kill(t *testing.T, addr string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	b, err := os.ReadFile(filepath.Join(tc.dir, "redis-"+port+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", addr, pid, err)
	}
}

// quietLogger drops go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A master of a 6-node cluster is killed under traffic: once its replica
// is promoted, requests whose sessions live on that shard succeed again
// within 10 seconds, no session is lost, and the outage is logged once.
func TestClusterFailover(t *testing.T) {
	if os.Getenv("HALLPASS_TEST_REDIS_CLUSTER_URL") == "" {
		t.Skip("HALLPASS_TEST_REDIS_CLUSTER_URL not set; skipping the Redis Cluster failover test")
	}
	if testing.Short() {
		t.Skip("kills a cluster node and waits for the failover; skipped with -short")
	}
	tc := startCluster(t)
	// go-redis prints every failed dial to the dead node; the test counts
	// failures itself.
	redis.SetLogger(quietLogger{})
	client, err := redisstore.ParseURL(tc.url)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	logs := &syncBuffer{}
	m, err := session.New(session.Config{
		Store:  redisstore.New(client, redisstore.Options{}),
		Keys:   [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		if r.Method == http.MethodPost {
			s.Put("n", r.URL.Query().Get("n"))
			return
		}
		var n string
		s.Get("n", &n)
		fmt.Fprint(w, n)
	})))
	defer srv.Close()
	hc := &http.Client{Timeout: 30 * time.Second}

	// Sessions spread over the three shards.
	const nSessions = 48
	cookies := make([]*http.Cookie, nSessions)
	for i := range cookies {
		resp, err := hc.Post(fmt.Sprintf("%s/?n=%d", srv.URL, i), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(resp.Cookies()) != 1 {
			t.Fatalf("creating session %d: %d, %d cookies", i, resp.StatusCode, len(resp.Cookies()))
		}
		cookies[i] = resp.Cookies()[0]
	}
	get := func(i int) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.AddCookie(cookies[i])
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	// Let the replicas catch up with the sessions just written.
	ctx := context.Background()
	if err := client.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.Do(ctx, "WAIT", 1, 2000).Err()
	}); err != nil {
		t.Fatal(err)
	}

	roles, ids, masterOf, ok := tc.nodes(ctx, "")
	if !ok {
		t.Fatalf("test cluster not ok: %v", roles)
	}
	victim := fmt.Sprintf("127.0.0.1:%d", tc.first)
	var replica string
	for a, id := range masterOf {
		if id == ids[victim] {
			replica = a
		}
	}
	if roles[victim] != "master" || replica == "" {
		t.Fatalf("%s is not a master with a replica: %v %v", victim, roles, masterOf)
	}

	// Traffic: every session read in a loop by four clients.
	var (
		mu         sync.Mutex
		firstErr   time.Time
		lastErr    time.Time
		nErr, nReq int
		wrong      []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i = (i + 4) % nSessions {
				select {
				case <-stop:
					return
				default:
				}
				code, body := get(i)
				now := time.Now()
				mu.Lock()
				nReq++
				switch {
				case code != http.StatusOK:
					nErr++
					if firstErr.IsZero() {
						firstErr = now
					}
					lastErr = now
				case body != strconv.Itoa(i):
					wrong = append(wrong, fmt.Sprintf("session %d read %q", i, body))
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	tc.kill(t, victim)

	var promoted time.Time
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		roles, _, _, ok := tc.nodes(ctx, victim)
		if ok && roles[replica] == "master" {
			promoted = time.Now()
			break
		}
	}
	if promoted.IsZero() {
		close(stop)
		wg.Wait()
		t.Fatalf("replica %s not promoted within 30s of killing %s", replica, victim)
	}
	// Run until the errors have stopped for 3 s, at most 75 s.
	for time.Since(promoted) < 75*time.Second {
		time.Sleep(250 * time.Millisecond)
		mu.Lock()
		quiet := time.Since(lastErr) > 3*time.Second && time.Since(promoted) > 3*time.Second
		mu.Unlock()
		if quiet {
			break
		}
	}
	close(stop)
	wg.Wait()

	ms := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	t.Logf("killed %s; promotion seen %s later; %d of %d requests failed, the first %s after the kill, the last %s after the promotion",
		victim, ms(promoted.Sub(killed)), nErr, nReq, ms(firstErr.Sub(killed)), ms(lastErr.Sub(promoted)))
	if !lastErr.IsZero() && lastErr.Sub(promoted) > 10*time.Second {
		t.Errorf("requests failed until %s after the promotion, want within 10s", ms(lastErr.Sub(promoted)))
	}
	if len(wrong) > 0 {
		t.Errorf("%d reads returned the wrong session (lost sessions?), first: %s", len(wrong), wrong[0])
	}
	for i := range nSessions {
		if code, body := get(i); code != http.StatusOK || body != strconv.Itoa(i) {
			t.Errorf("after the failover session %d reads %d %q, want 200 %q", i, code, body, strconv.Itoa(i))
		}
	}
	down := strings.Count(logs.String(), "session store unavailable")
	up := strings.Count(logs.String(), "session store recovered")
	t.Logf("log: %d \"unavailable\", %d \"recovered\" lines", down, up)
	if down > 1 || up > 1 {
		t.Errorf("the outage was logged as %d outages and %d recoveries, want one of each (no flapping)", down, up)
	}
}
