package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/redisstore"
)

// buildConfig parses env as the server would at start-up.
func buildConfig(env map[string]string) (*config, error) {
	fs := newFlagSet("test", "test", io.Discard)
	build := registerFlags(fs, func(k string) string { return env[k] })
	fs.Parse(nil)
	return build()
}

func TestStoreSettings(t *testing.T) {
	tests := []struct {
		env     map[string]string
		wantErr string // "" for a valid config
	}{
		{map[string]string{"HALLPASS_SESSION_STORE": "redis+cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000"}, ""},
		{map[string]string{"HALLPASS_SESSION_STORE": "rediss+cluster://:pw@10.0.0.1:7000"}, ""},
		{map[string]string{"HALLPASS_REDIS_URL": "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"}, ""},
		{map[string]string{"HALLPASS_STORE_TIMEOUT": "500ms"}, ""},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a:11211,b:11211?max_idle_conns=128&timeout=250ms"}, ""},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a"}, "not a host:port"},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a:99999"}, "not a host:port"},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a:11211?max_idle_conns=0"}, "max_idle_conns"},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a:11211?max_idle_conns=lots"}, "max_idle_conns"},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a:11211?timeout=2h"}, "timeout"},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a:11211?timeout=soon"}, "timeout"},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://a:11211?pool=3"}, `unknown parameter "pool"`},
		{map[string]string{"HALLPASS_SESSION_STORE": "redis+cluster://10.0.0.1:7000,,10.0.0.2:7000"}, "HALLPASS_SESSION_STORE"},
		{map[string]string{"HALLPASS_SESSION_STORE": "redis+cluster://10.0.0.1:7000/0"}, "HALLPASS_SESSION_STORE"},
		{map[string]string{"HALLPASS_SESSION_STORE": "redis+cluster://:hunter2@10.0.0.1:7000,10.0.0.2"}, "HALLPASS_SESSION_STORE"},
		{map[string]string{"HALLPASS_SESSION_STORE": "redis://localhost/notadb"}, "HALLPASS_SESSION_STORE"},
		{map[string]string{"HALLPASS_REDIS_URL": "redis+cluster://10.0.0.1"}, "HALLPASS_REDIS_URL"},
		{map[string]string{"HALLPASS_REDIS_URL": "postgres://db/x"}, "HALLPASS_REDIS_URL"},
		{map[string]string{"HALLPASS_STORE_TIMEOUT": "0s"}, "HALLPASS_STORE_TIMEOUT"},
		{map[string]string{"HALLPASS_STORE_TIMEOUT": "2h"}, "HALLPASS_STORE_TIMEOUT"},
		{map[string]string{"HALLPASS_STORE_TIMEOUT": "soon"}, "HALLPASS_STORE_TIMEOUT"},
	}
	for _, tt := range tests {
		_, err := buildConfig(tt.env)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("config %v: %v, want it accepted", tt.env, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("config %v: %v, want an error naming %s", tt.env, err, tt.wantErr)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("config %v: error %q shows the password", tt.env, err)
		}
	}
	cfg, err := buildConfig(map[string]string{})
	if err != nil || cfg.StoreTimeout != 3*time.Second {
		t.Errorf("default StoreTimeout = %v (%v), want 3s", cfg.StoreTimeout, err)
	}
}

// The Memcached client keeps memcachedMaxIdle idle connections per server
// unless the URL sets max_idle_conns, and gomemcache's timeout unless it
// sets timeout.
func TestMemcachedClient(t *testing.T) {
	tests := []struct {
		url     string
		maxIdle int
		timeout time.Duration
	}{
		{"memcached://127.0.0.1:11211", memcachedMaxIdle, 0},
		{"memcached://10.0.0.1:11211, 10.0.0.2:11211/", memcachedMaxIdle, 0},
		{"memcached://127.0.0.1:11211?max_idle_conns=200", 200, 0},
		{"memcached://127.0.0.1:11211?timeout=2s&max_idle_conns=8", 8, 2 * time.Second},
	}
	for _, tt := range tests {
		c, err := memcachedClient(tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if c.MaxIdleConns != tt.maxIdle || c.Timeout != tt.timeout {
			t.Errorf("%s: MaxIdleConns %d, Timeout %v; want %d, %v", tt.url, c.MaxIdleConns, c.Timeout, tt.maxIdle, tt.timeout)
		}
		c.Close()
	}
}

// A store that does not answer stops start-up with an error naming it and
// its setting, whichever the store: PostgreSQL always did, Redis and
// Memcached now do too.
func TestStartupUnreachableStore(t *testing.T) {
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"HALLPASS_SESSION_STORE": "redis://" + closed + "/0"}, []string{"redis", "HALLPASS_SESSION_STORE"}},
		{map[string]string{"HALLPASS_SESSION_STORE": "redis+cluster://" + closed}, []string{"HALLPASS_SESSION_STORE"}},
		{map[string]string{"HALLPASS_REDIS_URL": "redis://" + closed + "/0"}, []string{"redis-throttle", "HALLPASS_REDIS_URL"}},
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://" + closed}, []string{"memcached", "HALLPASS_SESSION_STORE"}},
		{map[string]string{"HALLPASS_DATABASE_URL": "postgres://postgres@" + closed + "/x?connect_timeout=2"}, []string{"HALLPASS_DATABASE_URL"}},
	}
	for _, tt := range tests {
		cfg := testConfig(t, tt.env)
		a, err := openApp(context.Background(), cfg, newLogger(io.Discard, 0))
		if err == nil {
			a.close()
			t.Errorf("openApp with %v unreachable = nil error, want start-up to stop", tt.env)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("openApp with %v unreachable: %q, want it to name %s", tt.env, err, w)
			}
		}
	}
}

// The server runs on a Redis Cluster named by the documented
// redis+cluster://host:port,host:port form: sessions and throttle counters
// both live there.
func TestServeOnRedisCluster(t *testing.T) {
	u := os.Getenv("HALLPASS_TEST_REDIS_CLUSTER_URL")
	if u == "" {
		t.Skip("HALLPASS_TEST_REDIS_CLUSTER_URL not set (start a cluster with .ci/redis-cluster); skipping")
	}
	// The cluster outlives the test run: clear the per-address sign-up
	// counts that earlier runs left, or a tenth run within the hour gets
	// 429 at sign-up.
	clearClusterKeys(t, u, "hallpass:t:throttle:reg:*")
	t.Cleanup(func() { clearClusterKeys(t, u, "hallpass:t:throttle:reg:*") })
	cfg := testConfig(t, map[string]string{"HALLPASS_SESSION_STORE": u})
	srv, _ := inProcess(t, cfg)
	signUp(t, srv.URL)
	if r := newBrowser(t).do("GET", srv.URL+"/healthz", nil); r.Code != http.StatusOK {
		t.Errorf("/healthz on the cluster: %d, want 200", r.Code)
	}
}

// clearClusterKeys deletes the keys matching pattern on every master of
// the Redis Cluster at url.
func clearClusterKeys(t *testing.T, url, pattern string) {
	t.Helper()
	c, err := redisstore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("%s is not a Redis Cluster URL", url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		iter := m.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			if err := m.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatalf("clear %s on the cluster: %v", pattern, err)
	}
}
