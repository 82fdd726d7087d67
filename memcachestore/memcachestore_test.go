package memcachestore_test

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/hallpass/hallpass/memcachestore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// minItemSize is the item size limit the suite needs: it stores a 1 MiB
// value, which with its key and the rest of the record exceeds
// memcached's default limit of 1 MiB.
const minItemSize = 2 << 20

// testClient connects to the server named by HALLPASS_TEST_MEMCACHED_ADDR,
// or skips the test. It fails the test if the server's item size limit is
// too small for the suite.
func testClient(tb testing.TB) (*memcache.Client, string) {
	tb.Helper()
	addr := os.Getenv("HALLPASS_TEST_MEMCACHED_ADDR")
	if addr == "" {
		tb.Skip("HALLPASS_TEST_MEMCACHED_ADDR not set; skipping Memcached store tests")
	}
	size, err := itemSizeMax(addr)
	if err != nil {
		tb.Fatalf("memcached at %s: %v", addr, err)
	}
	if size < minItemSize {
		tb.Fatalf("memcached at %s has an item size limit of %d bytes; the tests store a 1 MiB value: start it with -I 4m", addr, size)
	}
	c := memcache.New(addr)
	c.Timeout = 2 * time.Second // large values under -race
	tb.Cleanup(func() { c.Close() })
	return c, addr
}

// itemSizeMax asks the memcached at addr for its item size limit.
func itemSizeMax(addr string) (int, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("stats settings\r\n")); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := sc.Text()
		if line == "END" {
			break
		}
		if v, ok := strings.CutPrefix(line, "STAT item_size_max "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("stats settings: no item_size_max (err %v)", sc.Err())
}

// newStore returns a store on c whose keys start with a prefix of its
// own. Memcached cannot list keys, so the test's items are not deleted:
// they expire by themselves, like the sessions they hold.
func newStore(c *memcache.Client, now func() time.Time) *memcachestore.SessionStore {
	return memcachestore.New(c, memcachestore.Options{Prefix: "hallpass-test:" + rand.Text()[:12] + ":", Now: now})
}

func TestSessionStore(t *testing.T) {
	c, _ := testClient(t)
	t.Log("memcachestore limitations: the user index is a best-effort item; if memcached evicts it, " +
		"ListByUser misses the user's sessions and DeleteByUser cannot end them (see the package documentation)")
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		return newStore(c, clock.Now)
	})
}

func newRecord(now time.Time, userID string) *session.Record {
	return &session.Record{UserID: userID, Values: map[string][]byte{"a": []byte("1")},
		CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}
}

// TestUpdateCASConflict makes another Update land between the read and
// the write of an Update, so the first one must retry, and checks that
// both changes survive.
func TestUpdateCASConflict(t *testing.T) {
	c, _ := testClient(t)
	s := newStore(c, time.Now)
	ctx := t.Context()
	id := session.IDOf([]byte(rand.Text()))
	if err := s.Create(ctx, id, newRecord(time.Now(), "u")); err != nil {
		t.Fatalf("Create = %v", err)
	}
	var interfered atomic.Bool
	var calls atomic.Int32
	s.SetBeforeCAS(func() {
		calls.Add(1)
		if interfered.CompareAndSwap(false, true) {
			if err := s.Update(ctx, id, &session.Update{Set: map[string][]byte{"other": []byte("o")}}); err != nil {
				t.Errorf("interfering Update = %v", err)
			}
		}
	})
	if err := s.Update(ctx, id, &session.Update{Set: map[string][]byte{"mine": []byte("m")}}); err != nil {
		t.Fatalf("Update = %v", err)
	}
	// The interfering Update writes once; the first one reads, loses,
	// reads again and writes.
	if n := calls.Load(); n != 3 {
		t.Errorf("Update reached its write %d times, want 3 (one retry after a conflict)", n)
	}
	got, err := s.Load(ctx, id)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	for _, k := range []string{"a", "mine", "other"} {
		if _, ok := got.Values[k]; !ok {
			t.Errorf("after conflicting Updates, Load().Values lacks %q: %q", k, got.Values)
		}
	}
}

// TestIndexEvicted shows the limitation the package documents: without
// its index item, a user's sessions can be neither listed nor revoked.
func TestIndexEvicted(t *testing.T) {
	c, _ := testClient(t)
	prefix := "hallpass-test:" + rand.Text()[:12] + ":"
	s := memcachestore.New(c, memcachestore.Options{Prefix: prefix})
	ctx := t.Context()
	id := session.IDOf([]byte(rand.Text()))
	if err := s.Create(ctx, id, newRecord(time.Now(), "carol")); err != nil {
		t.Fatalf("Create = %v", err)
	}
	if list, err := s.ListByUser(ctx, "carol"); err != nil || len(list) != 1 {
		t.Fatalf("ListByUser = %v, %v; want 1 session", list, err)
	}
	// Evict the index, as memcached may under memory pressure.
	sum := sha256.Sum256([]byte("carol"))
	indexKey := prefix + "u:" + base64.RawURLEncoding.EncodeToString(sum[:])
	if err := c.Delete(indexKey); err != nil {
		t.Fatalf("delete the index item %s: %v", indexKey, err)
	}
	if list, err := s.ListByUser(ctx, "carol"); err != nil || len(list) != 0 {
		t.Errorf("ListByUser after the index was evicted = %v, %v; want none (the documented limitation)", list, err)
	}
	if n, err := s.DeleteByUser(ctx, "carol"); err != nil || n != 0 {
		t.Errorf("DeleteByUser after the index was evicted = %d, %v; want 0", n, err)
	}
	if _, err := s.Load(ctx, id); err != nil {
		t.Errorf("Load after DeleteByUser without an index = %v; want the session, still valid (the documented limitation)", err)
	}
}

func TestLoadCorrupt(t *testing.T) {
	c, _ := testClient(t)
	prefix := "hallpass-test:" + rand.Text()[:12] + ":"
	s := memcachestore.New(c, memcachestore.Options{Prefix: prefix})
	id := session.IDOf([]byte(rand.Text()))
	if err := c.Set(&memcache.Item{Key: prefix + "s:" + id, Value: []byte("garbage"), Expiration: 60}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Load(t.Context(), id); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Load of an undecodable item = %v, %v; want ErrCorrupt", r, err)
	}
	if err := s.Delete(t.Context(), id); err != nil {
		t.Errorf("Delete of an undecodable item = %v, want nil", err)
	}
}

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := memcachestore.New(memcache.New("127.0.0.1:1"), memcachestore.Options{Now: func() time.Time { return now }})
	for _, tt := range []struct {
		expiry time.Time
		want   int32
	}{
		{now.Add(30 * time.Minute), 30*60 + 1},
		{now.Add(1500 * time.Millisecond), 3},
		{now, 1},
		{now.Add(-time.Hour), 1},
		{now.Add(30*24*time.Hour - 2*time.Second), 30*24*60*60 - 1},
		{now.Add(40 * 24 * time.Hour), int32(now.Add(40*24*time.Hour).Unix() + 2)}, // absolute
	} {
		if got := s.Expiration(tt.expiry); got != tt.want {
			t.Errorf("Expiration(now%+v) = %d, want %d", tt.expiry.Sub(now), got, tt.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	c, addr := testClient(t)
	size, _ := itemSizeMax(addr)
	s := newStore(c, time.Now)
	rec := newRecord(time.Now(), "u")
	rec.Values = map[string][]byte{"huge": make([]byte, size+1)}
	err := s.Create(t.Context(), session.IDOf([]byte(rand.Text())), rec)
	if !errors.Is(err, memcachestore.ErrTooLarge) {
		t.Errorf("Create of a record over the item size limit = %v, want ErrTooLarge", err)
	}
	// The connection is still usable.
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after a refused item = %v", err)
	}
}

func TestNewPanicsOnBadPrefix(t *testing.T) {
	for _, prefix := range []string{"has space:", "tab\t", strings.Repeat("p", memcachestore.MaxPrefixLen+1), "é:"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New with Prefix %q did not panic", prefix)
				}
			}()
			memcachestore.New(memcache.New("127.0.0.1:1"), memcachestore.Options{Prefix: prefix})
		}()
	}
}

func TestPing(t *testing.T) {
	c, _ := testClient(t)
	if err := newStore(c, time.Now).Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
	if err := newStore(memcache.New("127.0.0.1:1"), time.Now).Ping(t.Context()); err == nil {
		t.Error("Ping of a closed port = nil, want an error")
	}
}

// go test -run '^$' -bench . ./memcachestore/ (with HALLPASS_TEST_MEMCACHED_ADDR)
func BenchmarkSessionStore(b *testing.B) {
	c, _ := testClient(b)
	sessiontest.Benchmark(b, newStore(c, time.Now))
}
