package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingStore wraps a Store, counting calls and failing on demand.
type countingStore struct {
	session.Store
	loads, creates, updates, deletes atomic.Int64
	down                             atomic.Bool
}

var errDown = errors.New("connection refused")

func (c *countingStore) Load(ctx context.Context, id string) (*session.Record, error) {
	c.loads.Add(1)
	if c.down.Load() {
		return nil, errDown
	}
	return c.Store.Load(ctx, id)
}

func (c *countingStore) Create(ctx context.Context, id string, r *session.Record) error {
	c.creates.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Store.Create(ctx, id, r)
}

func (c *countingStore) Update(ctx context.Context, id string, u *session.Update) error {
	c.updates.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Store.Update(ctx, id, u)
}

func (c *countingStore) Delete(ctx context.Context, id string) error {
	c.deletes.Add(1)
	if c.down.Load() {
		return errDown
	}
	return c.Store.Delete(ctx, id)
}

func (c *countingStore) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	return c.Store.(session.UserIndex).ListByUser(ctx, userID)
}

func (c *countingStore) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	return c.Store.(session.UserIndex).DeleteByUser(ctx, userID, except...)
}

func (c *countingStore) writes() int64 {
	return c.creates.Load() + c.updates.Load() + c.deletes.Load()
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

type fixture struct {
	t     *testing.T
	m     *session.Manager
	store *countingStore
	mem   *memstore.SessionStore
	clock *clock
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, mod ...func(*session.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: newClock(), logs: new(bytes.Buffer)}
	f.mem = memstore.NewSessionStore(memstore.SessionOptions{Now: f.clock.Now, SweepInterval: -1})
	t.Cleanup(func() { f.mem.Close() })
	f.store = &countingStore{Store: f.mem}
	cfg := session.Config{
		Store:  f.store,
		Keys:   [][]byte{testKey},
		Now:    f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: f.logs}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	for _, fn := range mod {
		fn(&cfg)
	}
	m, err := session.New(cfg)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	f.m = m
	return f
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// do runs h behind the middleware with the given cookie value ("" for
// none) and returns the response.
func (f *fixture) do(cookie string, h func(w http.ResponseWriter, r *http.Request, s *session.Session)) *http.Response {
	f.t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("User-Agent", "test-agent/1.0")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: f.m.CookieName(), Value: cookie})
	}
	rec := httptest.NewRecorder()
	f.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, session.FromRequest(r))
	})).ServeHTTP(rec, req)
	return rec.Result()
}

// sessionCookie returns the session cookie a response set, or nil.
func (f *fixture) sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == f.m.CookieName() {
			return c
		}
	}
	return nil
}

// login creates a session with a value and returns its cookie value.
func (f *fixture) start(kv ...string) string {
	f.t.Helper()
	resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		for i := 0; i+1 < len(kv); i += 2 {
			if err := s.Put(kv[i], kv[i+1]); err != nil {
				f.t.Fatalf("Put: %v", err)
			}
		}
	})
	c := f.sessionCookie(resp)
	if c == nil || c.Value == "" {
		f.t.Fatalf("no session cookie set; headers %v", resp.Header)
	}
	return c.Value
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("name", "ada")
	var got string
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		got = s.GetString("name")
	})
	if got != "ada" {
		t.Errorf(`GetString("name") = %q, want "ada"`, got)
	}
}

func TestCookieAttributes(t *testing.T) {
	tests := []struct {
		name       string
		cfg        func(*session.Config)
		wantName   string
		wantSecure bool
		persistent bool
	}{
		{"default", func(*session.Config) {}, "hallpass_session", false, false},
		{"secure", func(c *session.Config) { c.Secure = true }, "__Host-hallpass_session", true, false},
		{"persistent", func(c *session.Config) { c.Persistent = true }, "hallpass_session", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) { s.Put("k", 1) })
			c := f.sessionCookie(resp)
			if c == nil {
				t.Fatalf("no cookie named %q in %v", f.m.CookieName(), resp.Header["Set-Cookie"])
			}
			if c.Name != tt.wantName {
				t.Errorf("cookie name = %q, want %q", c.Name, tt.wantName)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tt.wantSecure {
				t.Errorf("cookie = %+v, want HttpOnly, SameSite=Lax, Path=/, Secure=%v", c, tt.wantSecure)
			}
			if got := c.MaxAge > 0; got != tt.persistent {
				t.Errorf("persistent cookie = %v (MaxAge %d), want %v", got, c.MaxAge, tt.persistent)
			}
			if tt.persistent && c.MaxAge != int((12*time.Hour)/time.Second) {
				t.Errorf("MaxAge = %d, want the absolute lifetime (12h)", c.MaxAge)
			}
			if v := resp.Header.Get("Vary"); v != "Cookie" {
				t.Errorf("Vary = %q, want Cookie", v)
			}
		})
	}
}

// Cookies that were not issued by this server must yield a new empty
// session without any store round trip.
func TestBadCookiesNoStoreLookup(t *testing.T) {
	f := newFixture(t)
	good := f.start("k", "v")
	otherKey, err := session.New(session.Config{Store: f.mem, Keys: [][]byte{bytes.Repeat([]byte("x"), 32)}})
	if err != nil {
		t.Fatal(err)
	}
	_ = otherKey
	flip := []byte(good)
	if flip[10] == 'A' {
		flip[10] = 'B'
	} else {
		flip[10] = 'A'
	}
	tests := []struct{ name, cookie string }{
		{"tampered", string(flip)},
		{"truncated", good[:len(good)-1]},
		{"extended", good + "A"},
		{"oversized", strings.Repeat("A", 4000)},
		{"not base64", strings.Repeat("!", len(good))},
		{"padding", good[:len(good)-2] + "=="},
		{"empty-ish", "x"},
		{"unicode", strings.Repeat("é", len(good)/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.store.loads.Load()
			var got string
			var isNew bool
			resp := f.do(tt.cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
				got = s.GetString("k")
				isNew = s.IsNew()
			})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d, want 200", resp.StatusCode)
			}
			if got != "" || !isNew {
				t.Errorf("session from cookie %q: value %q, new %v; want an empty new session", tt.cookie, got, isNew)
			}
			if n := f.store.loads.Load() - before; n != 0 {
				t.Errorf("store loads = %d, want 0 for a cookie that fails verification", n)
			}
		})
	}
}

// base64url is the alphabet of cookie values.
const base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// A cookie has exactly one valid spelling: the other characters that
// differ from the last one only in its spare low bits (which a lenient
// base64 decoder ignores) must not verify.
func TestCookieHasOneSpelling(t *testing.T) {
	f := newFixture(t)
	good := f.start("k", "v")
	accepted := 0
	for _, c := range base64url {
		variant := good[:len(good)-1] + string(c)
		var got string
		f.do(variant, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
		if got == "v" {
			accepted++
			if variant != good {
				t.Errorf("variant %q of cookie %q verified", variant, good)
			}
		}
	}
	if accepted != 1 {
		t.Errorf("%d spellings of the last character of cookie %q accepted, want exactly 1", accepted, good)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	newKey := bytes.Repeat([]byte("n"), 32)
	rotated, err := session.New(session.Config{Store: f.store, Keys: [][]byte{newKey, testKey}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := session.New(session.Config{Store: f.store, Keys: [][]byte{newKey}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		m    *session.Manager
		want string
	}{{"old key still verifies", rotated, "v"}, {"old key dropped", dropped, ""}} {
		f.m = tt.m
		var got string
		f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	// A new cookie is signed with the first key: the old-key-only manager
	// rejects it.
	f.m = rotated
	fresh := f.start("k", "w")
	oldOnly, _ := session.New(session.Config{Store: f.store, Keys: [][]byte{testKey}, Now: f.clock.Now})
	f.m = oldOnly
	var got string
	f.do(fresh, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
	if got != "" {
		t.Errorf("cookie signed with the new key verified under the old one")
	}
}

func TestReadOnlyRequestWritesNothing(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("name", "ada")
	before := f.store.writes()
	for range 5 {
		f.clock.Advance(10 * time.Second)
		resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
			if s.GetString("name") != "ada" {
				t.Error("value lost")
			}
		})
		if c := f.sessionCookie(resp); c != nil {
			t.Errorf("read-only request set a cookie: %v", c)
		}
	}
	if n := f.store.writes() - before; n != 0 {
		t.Errorf("store writes on read-only requests = %d, want 0", n)
	}
}

func TestUntouchedSessionNoRoundTrip(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("name", "ada")
	f.store.loads.Store(0)
	before := f.store.writes()
	resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		io.WriteString(w, "static")
	})
	if n := f.store.loads.Load() + f.store.writes() - before; n != 0 {
		t.Errorf("store calls on a request that never touched the session = %d, want 0", n)
	}
	if v := resp.Header.Get("Vary"); v != "" {
		t.Errorf("untouched session: Vary = %q, want none", v)
	}
}

func TestTouchRule(t *testing.T) {
	f := newFixture(t) // idle 30m: touch every 3m at most
	cookie := f.start("k", "v")
	before := f.store.updates.Load()
	read := func() {
		f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { s.GetString("k") })
	}
	f.clock.Advance(2*time.Minute + 59*time.Second)
	read()
	if n := f.store.updates.Load() - before; n != 0 {
		t.Fatalf("updates before the touch interval = %d, want 0", n)
	}
	f.clock.Advance(time.Second)
	read()
	if n := f.store.updates.Load() - before; n != 1 {
		t.Fatalf("updates after the touch interval = %d, want 1", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	f.clock.Advance(29 * time.Minute)
	var got string
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
	if got != "v" {
		t.Fatalf("after 29m idle: got %q, want v", got)
	}
	// That read refreshed the session; 30 idle minutes from now it ends.
	f.clock.Advance(30 * time.Minute)
	var isNew bool
	resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		got, isNew = s.GetString("k"), s.IsNew()
	})
	if got != "" || !isNew {
		t.Errorf("after 30m idle: got %q new=%v, want an empty new session", got, isNew)
	}
	if c := f.sessionCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Errorf("expired session: cookie %v, want it deleted", c)
	}
}

func TestAbsoluteTimeout(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	alive := func() bool {
		var got string
		f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
		return got == "v"
	}
	// Active every 10 minutes: the idle timeout never fires.
	for elapsed := 10 * time.Minute; elapsed < 12*time.Hour; elapsed += 10 * time.Minute {
		f.clock.Advance(10 * time.Minute)
		if !alive() {
			t.Fatalf("session ended after %v of activity, want it alive until 12h", elapsed)
		}
	}
	f.clock.Advance(10 * time.Minute)
	if alive() {
		t.Errorf("session alive after the 12h absolute lifetime")
	}
}

// The manager enforces timeouts from stored timestamps even when a store
// would still return the record (here: a shorter timeout configured later).
func TestTimeoutsFromStoredTimestamps(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	short, err := session.New(session.Config{Store: f.store, Keys: [][]byte{testKey}, Now: f.clock.Now, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	f.m = short
	var got string
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
	if got != "" {
		t.Errorf("session idle for 2m under a 1m timeout still loaded")
	}
}

func TestRenew(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	var oldID, newID string
	resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		oldID = s.ID()
		if err := s.Renew(); err != nil {
			t.Fatalf("Renew: %v", err)
		}
		newID = s.ID()
		s.Put("after", "renew")
	})
	c := f.sessionCookie(resp)
	if c == nil || c.Value == cookie {
		t.Fatalf("Renew did not issue a new cookie: %v", c)
	}
	if oldID == newID || newID == "" {
		t.Errorf("ID before %q, after %q: want a new ID", oldID, newID)
	}
	var got, after string
	f.do(c.Value, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		got, after = s.GetString("k"), s.GetString("after")
	})
	if got != "v" || after != "renew" {
		t.Errorf("renewed session: k=%q after=%q, want v and renew", got, after)
	}
	var stale string
	var staleNew bool
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		stale, staleNew = s.GetString("k"), s.IsNew()
	})
	if stale != "" || !staleNew {
		t.Errorf("old token after Renew: got %q, new %v; want it dead", stale, staleNew)
	}
}

func TestSetUserListAndDestroyByUser(t *testing.T) {
	f := newFixture(t)
	login := func(user, ua string) string {
		req := httptest.NewRequest("POST", "/login", nil)
		req.Header.Set("User-Agent", ua)
		rec := httptest.NewRecorder()
		f.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := session.FromRequest(r)
			if err := s.SetUser(user); err != nil {
				t.Fatalf("SetUser: %v", err)
			}
			if s.UserID() != user {
				t.Errorf("UserID() = %q after SetUser(%q)", s.UserID(), user)
			}
		})).ServeHTTP(rec, req)
		return f.sessionCookie(rec.Result()).Value
	}
	a1 := login("alice", "phone")
	f.clock.Advance(time.Second)
	a2 := login("alice", "laptop")
	login("bob", "desktop")
	ctx := context.Background()
	list, err := f.m.ListByUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].UserAgent != "laptop" || list[1].UserAgent != "phone" {
		t.Fatalf("ListByUser(alice) = %+v, want laptop then phone", list)
	}
	var keep string
	f.do(a2, func(w http.ResponseWriter, r *http.Request, s *session.Session) { keep = s.ID() })
	n, err := f.m.DestroyByUser(ctx, "alice", keep)
	if err != nil || n != 1 {
		t.Fatalf("DestroyByUser = %d, %v; want 1, nil", n, err)
	}
	users := map[string]string{}
	for name, c := range map[string]string{"a1": a1, "a2": a2} {
		f.do(c, func(w http.ResponseWriter, r *http.Request, s *session.Session) { users[name] = s.UserID() })
	}
	if users["a1"] != "" || users["a2"] != "alice" {
		t.Errorf("after DestroyByUser sparing a2: a1=%q a2=%q, want a1 ended and a2 alice", users["a1"], users["a2"])
	}
	if err := f.m.DestroyUserSession(ctx, "bob", keep); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("bob revoking alice's session: err = %v, want ErrNotFound", err)
	}
	if err := f.m.DestroyUserSession(ctx, "alice", keep); err != nil {
		t.Errorf("DestroyUserSession(alice, own) = %v", err)
	}
	if list, _ := f.m.ListByUser(ctx, "alice"); len(list) != 0 {
		t.Errorf("alice still has %d sessions", len(list))
	}
}

func TestDestroy(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		if err := s.Destroy(); err != nil {
			t.Fatal(err)
		}
	})
	if c := f.sessionCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Errorf("Destroy: cookie %v, want an expired cookie", c)
	}
	var got string
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
	if got != "" {
		t.Errorf("destroyed session still readable: %q", got)
	}
}

// Two concurrent requests of one session that change different keys must
// both survive: saves are deltas, not blind overwrites.
func TestConcurrentRequestsDifferentKeys(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("base", "1")
	const n = 20
	var loaded sync.WaitGroup
	loaded.Add(n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
				s.GetString("base") // every request loads the same old state...
				loaded.Done()
				<-release // ...before any of them saves
				s.Put(fmt.Sprintf("k%d", i), i)
				if i == 0 {
					s.Delete("base")
				}
			})
		}()
	}
	loaded.Wait()
	close(release)
	wg.Wait()
	var keys []string
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { keys = s.Keys() })
	if len(keys) != n {
		t.Errorf("after %d concurrent saves of distinct keys: keys %v, want %d keys and no base", n, keys, n)
	}
	for _, k := range keys {
		if k == "base" {
			t.Errorf("deleted key survived a concurrent save")
		}
	}
}

func TestFlash(t *testing.T) {
	f := newFixture(t)
	resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		s.AddFlash("success", "Account created. Please log in.")
	})
	cookie := f.sessionCookie(resp).Value
	var got []session.Flash
	resp = f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.Flashes() })
	if len(got) != 1 || got[0].Message != "Account created. Please log in." || got[0].Category != "success" {
		t.Fatalf("Flashes() = %+v", got)
	}
	// The anonymous session held only the flash: it is gone now.
	if c := f.sessionCookie(resp); c == nil || c.MaxAge >= 0 {
		t.Errorf("emptied anonymous session: cookie %v, want it deleted", c)
	}
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.Flashes() })
	if len(got) != 0 {
		t.Errorf("flash shown twice: %+v", got)
	}
	if n := f.mem.Len(); n != 0 {
		t.Errorf("store holds %d sessions, want 0 after the flash was read", n)
	}
}

func TestAnonymousVisitorCreatesNothing(t *testing.T) {
	f := newFixture(t)
	for range 100 {
		resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) {
			s.GetString("user")
			s.Flashes()
		})
		if c := f.sessionCookie(resp); c != nil {
			t.Fatalf("anonymous read set a cookie %v", c)
		}
	}
	if n := f.store.writes(); n != 0 {
		t.Errorf("store writes = %d, want 0", n)
	}
}

func TestStoreDown(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	f.store.down.Store(true)
	// Each way of writing the page: the session's writer has Write and
	// WriteString.
	writes := []func(http.ResponseWriter, string){
		func(w http.ResponseWriter, s string) { io.WriteString(w, s) },
		func(w http.ResponseWriter, s string) { w.Write([]byte(s)) },
		func(w http.ResponseWriter, s string) { fmt.Fprint(w, s) },
	}
	for i, write := range writes {
		resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
			s.GetString("k")
			w.Header().Set("Content-Type", "text/html")
			write(w, "secret page")
		})
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "secret") {
			t.Fatalf("request %d with the store down: %d %q, want 503 without the page", i, resp.StatusCode, body)
		}
	}
	if n := strings.Count(f.logs.String(), "session store unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, f.logs)
	}
	// A handler can check early.
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		if err := s.Load(); !errors.Is(err, session.ErrStoreUnavailable) {
			t.Errorf("Load() = %v, want ErrStoreUnavailable", err)
		}
	})
	f.store.down.Store(false)
	var got string
	resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { got = s.GetString("k") })
	if resp.StatusCode != 200 || got != "v" {
		t.Errorf("after recovery: %d %q, want 200 v", resp.StatusCode, got)
	}
	// Recovery is logged once the store has gone 3 seconds without a
	// failure, and once.
	f.clock.Advance(3 * time.Second)
	for range 3 {
		f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { s.GetString("k") })
	}
	if n := strings.Count(f.logs.String(), "session store recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, f.logs)
	}
}

// A store call that finds the store unavailable in a handler (a login's
// SetUser, a Renew, a logout's Destroy) is the request's answer: the
// commit does not call the store again, which would only wait out another
// deadline for the same 503 (a login to a silent store took twice
// HALLPASS_STORE_TIMEOUT).
func TestStoreFailureAnswersAtCommit(t *testing.T) {
	tests := []struct {
		name   string
		cookie bool // a stored session, else a new one
		act    func(*session.Session) error
	}{
		{"login of a new session", false, func(s *session.Session) error { return s.SetUser("u1") }},
		{"login of a stored session", true, func(s *session.Session) error { return s.SetUser("u1") }},
		{"renew", true, func(s *session.Session) error { return s.Renew() }},
		{"logout", true, func(s *session.Session) error { return s.Destroy() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			cookie := ""
			if tt.cookie {
				cookie = f.start("k", "v")
			}
			var actErr error
			var before int64
			resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
				s.Put("flash", "hello") // a change the commit would save
				if err := s.Load(); err != nil {
					t.Fatal(err)
				}
				before = f.store.writes()
				f.store.down.Store(true)
				actErr = tt.act(s)
				s.Put("next", "/account") // and one more after the failure
				io.WriteString(w, "page")
			})
			if !errors.Is(actErr, session.ErrStoreUnavailable) {
				t.Errorf("%s with the store down: %v, want ErrStoreUnavailable", tt.name, actErr)
			}
			if n := f.store.writes() - before; n != 1 {
				t.Errorf("%d store writes from the failure on, want 1 (the failed call; none at commit)", n)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(body), "page") {
				t.Errorf("response: %d %q, want 503 without the page", resp.StatusCode, body)
			}
			if c := f.sessionCookie(resp); c != nil && c.Value != "" {
				t.Errorf("a session cookie was set after the store failed: %v", c)
			}
		})
	}
	// A handler that tries again once the store is back gets its page and
	// its session.
	f := newFixture(t)
	resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		s.Put("flash", "hello")
		f.store.down.Store(true)
		if err := s.SetUser("u1"); !errors.Is(err, session.ErrStoreUnavailable) {
			t.Errorf("SetUser with the store down: %v, want ErrStoreUnavailable", err)
		}
		f.store.down.Store(false)
		if err := s.SetUser("u1"); err != nil {
			t.Errorf("SetUser with the store back: %v", err)
		}
		io.WriteString(w, "page")
	})
	if c := f.sessionCookie(resp); resp.StatusCode != http.StatusOK || c == nil || c.Value == "" {
		t.Errorf("after a failed then a successful SetUser: %d, cookie %v; want 200 with the session's cookie", resp.StatusCode, c)
	}
}

// A store that fails for some calls and answers others, as a Redis Cluster
// with one dead master does, is one outage in the log, not one per
// failure: the end is logged only after 3 seconds without a failure.
func TestStoreFlappingIsOneOutage(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	read := func() int {
		resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { s.GetString("k") })
		return resp.StatusCode
	}
	for i := range 21 { // the last call, 1s before the loop ends, fails
		f.store.down.Store(i%2 == 0)
		code := read()
		if want := map[bool]int{true: 503, false: 200}[i%2 == 0]; code != want {
			t.Fatalf("request %d: %d, want %d", i, code, want)
		}
		f.clock.Advance(time.Second)
	}
	f.store.down.Store(false)
	f.clock.Advance(time.Second)
	read()
	if n := strings.Count(f.logs.String(), "session store unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, f.logs)
	}
	if n := strings.Count(f.logs.String(), "session store recovered"); n != 0 {
		t.Errorf("recovery logged %d times while calls still failed within 3s, want 0:\n%s", n, f.logs)
	}
	f.clock.Advance(time.Second)
	read()
	if n := strings.Count(f.logs.String(), "session store recovered"); n != 1 {
		t.Errorf("recovery logged %d times after 3s without a failure, want once:\n%s", n, f.logs)
	}
}

// hangingStore never answers a load: it waits until the call's context
// ends, as a store behind a network that went silent does.
type hangingStore struct{ session.Store }

func (hangingStore) Load(ctx context.Context, id string) (*session.Record, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("test: read: %w", ctx.Err())
}

// A store call that does not answer within StoreTimeout fails the request
// with 503, logged as an outage, instead of hanging it.
func TestStoreTimeout(t *testing.T) {
	f := newFixture(t, func(c *session.Config) { c.StoreTimeout = 20 * time.Millisecond })
	cookie := f.start("k", "v")
	f.store.Store = hangingStore{f.mem}
	var loadErr error
	done := make(chan int)
	go func() {
		resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { loadErr = s.Load() })
		done <- resp.StatusCode
	}()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable {
			t.Errorf("request with a hanging store: %d, want 503", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("request with a hanging store still running after 30s; want it to fail after StoreTimeout")
	}
	if !errors.Is(loadErr, session.ErrStoreUnavailable) || !errors.Is(loadErr, context.DeadlineExceeded) {
		t.Errorf("Load() = %v, want ErrStoreUnavailable wrapping context.DeadlineExceeded", loadErr)
	}
	if n := strings.Count(f.logs.String(), "session store unavailable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, f.logs)
	}
}

// corruptStore returns ErrCorrupt for every load.
type corruptStore struct{ session.Store }

func (corruptStore) Load(context.Context, string) (*session.Record, error) {
	return nil, fmt.Errorf("test: %w", session.ErrCorrupt)
}

func TestCorruptRecordIsMissing(t *testing.T) {
	f := newFixture(t)
	cookie := f.start("k", "v")
	f.store.Store = corruptStore{f.mem}
	var isNew bool
	resp := f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) { isNew = s.IsNew() })
	if resp.StatusCode != 200 || !isNew {
		t.Errorf("corrupt record: status %d new %v, want 200 and a new session", resp.StatusCode, isNew)
	}
	if !strings.Contains(f.logs.String(), "cannot be decoded") {
		t.Errorf("corrupt record not logged:\n%s", f.logs)
	}
}

func TestValues(t *testing.T) {
	f := newFixture(t)
	type cart struct{ Items []string }
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		s.Put("s", "str")
		s.Put("n", 42)
		s.Put("b", true)
		s.Put("t", when)
		s.Put("c", cart{Items: []string{"a", "b"}})
		s.Put("gone", 1)
		s.Delete("gone")
		if err := s.Put("bad", func() {}); err == nil {
			t.Error("Put of a func: want an encoding error")
		}
	})
	cookie := f.sessionCookie(resp).Value
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		var c cart
		ok, err := s.Get("c", &c)
		if !ok || err != nil || len(c.Items) != 2 {
			t.Errorf("Get(c) = %v, %v, %+v", ok, err, c)
		}
		if s.GetString("s") != "str" || s.GetInt("n") != 42 || !s.GetBool("b") || !s.GetTime("t").Equal(when) {
			t.Errorf("typed getters: %q %d %v %v", s.GetString("s"), s.GetInt("n"), s.GetBool("b"), s.GetTime("t"))
		}
		if s.Has("gone") || s.Has("bad") {
			t.Error("deleted or failed key present")
		}
		var wrong int
		if _, err := s.Get("s", &wrong); err == nil {
			t.Error("Get of a string into an int: want an error")
		}
		if v := s.PopString("s"); v != "str" || s.Has("s") {
			t.Errorf("PopString = %q, Has after = %v", v, s.Has("s"))
		}
	})
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		if s.Has("s") {
			t.Error("popped key came back on the next request")
		}
	})
}

func TestNilSession(t *testing.T) {
	var s *session.Session
	if s.GetString("k") != "" || s.Has("k") || s.UserID() != "" || !s.IsNew() || s.Flashes() != nil {
		t.Error("nil session reads should find nothing")
	}
	if err := s.Put("k", 1); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("nil Put = %v, want ErrNoSession", err)
	}
	// Answered by autherr.WriteHTTP: a 500 that names the mistake, not
	// a 503 that blames a store.
	w := httptest.NewRecorder()
	autherr.WriteHTTP(w, httptest.NewRequest("GET", "/", nil), s.AddFlash("info", "hi"))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "session middleware is missing") {
		t.Errorf("ErrNoSession answered %d %q, want 500 naming the missing middleware", w.Code, w.Body)
	}
	if session.FromContext(context.Background()) != nil {
		t.Error("FromContext outside the middleware should be nil")
	}
}

// TestMiddlewareKeepsContext checks that the context the handler's request
// carries is the incoming one plus the session: its values, its deadline,
// its cancellation (with its cause) and their propagation to a context the
// handler derives from it.
func TestMiddlewareKeepsContext(t *testing.T) {
	type key struct{}
	f := newFixture(t)
	deadline := time.Now().Add(time.Hour)
	cause := errors.New("client went away")
	ctx, cancelDeadline := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), deadline)
	defer cancelDeadline()
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var handlerErr error
	h := f.m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		rc := r.Context()
		if session.FromContext(rc) == nil {
			handlerErr = errors.New("no session in the request's context")
			return
		}
		if v := rc.Value(key{}); v != "v" {
			handlerErr = fmt.Errorf("Value(key) = %v, want v", v)
			return
		}
		if d, ok := rc.Deadline(); !ok || !d.Equal(deadline) {
			handlerErr = fmt.Errorf("Deadline() = %v, %v; want %v, true", d, ok, deadline)
			return
		}
		child, stop := context.WithCancel(rc)
		defer stop()
		if rc.Err() != nil || child.Err() != nil {
			handlerErr = fmt.Errorf("Err() = %v before the cancellation", rc.Err())
			return
		}
		cancel(cause)
		for _, c := range []context.Context{rc, child} {
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				handlerErr = errors.New("Done() not closed after the incoming context was cancelled")
				return
			}
		}
		if !errors.Is(rc.Err(), context.Canceled) || context.Cause(rc) != cause || context.Cause(child) != cause {
			handlerErr = fmt.Errorf("after cancel: Err() = %v, Cause = %v, child's Cause = %v; want Canceled, %v", rc.Err(), context.Cause(rc), context.Cause(child), cause)
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	<-done
	if handlerErr != nil {
		t.Error(handlerErr)
	}
}

func TestNewValidates(t *testing.T) {
	mem := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	defer mem.Close()
	tests := []struct {
		name string
		cfg  session.Config
	}{
		{"no store", session.Config{Keys: [][]byte{testKey}}},
		{"no keys", session.Config{Store: mem}},
		{"short key", session.Config{Store: mem, Keys: [][]byte{[]byte("short")}}},
		{"negative timeout", session.Config{Store: mem, Keys: [][]byte{testKey}, IdleTimeout: -time.Second}},
		{"cookie name with a space", session.Config{Store: mem, Keys: [][]byte{testKey}, CookieName: "my session"}},
		{"cookie name with =", session.Config{Store: mem, Keys: [][]byte{testKey}, CookieName: "a=b"}},
		{"cookie name with ;", session.Config{Store: mem, Keys: [][]byte{testKey}, CookieName: "a;b"}},
		{"cookie name not ASCII", session.Config{Store: mem, Keys: [][]byte{testKey}, CookieName: "séance"}},
		{"touch as long as idle", session.Config{Store: mem, Keys: [][]byte{testKey}, IdleTimeout: time.Minute, TouchInterval: time.Minute}},
		{"touch longer than the default idle", session.Config{Store: mem, Keys: [][]byte{testKey}, TouchInterval: time.Hour}},
		{"SameSite None without Secure", session.Config{Store: mem, Keys: [][]byte{testKey}, SameSite: http.SameSiteNoneMode}},
	}
	for _, tt := range tests {
		if _, err := session.New(tt.cfg); err == nil {
			t.Errorf("New(%s): want an error", tt.name)
		}
	}
	m, err := session.New(session.Config{Store: mem, Keys: [][]byte{testKey}, CookieName: "app.sid-1", Secure: true})
	if err != nil || m.CookieName() != "__Host-app.sid-1" {
		t.Errorf("New with a valid cookie name = %v, %v; want __Host-app.sid-1", m, err)
	}
	for _, cfg := range []session.Config{
		{Store: mem, Keys: [][]byte{testKey}, SameSite: http.SameSiteNoneMode, Secure: true},
		{Store: mem, Keys: [][]byte{testKey}, IdleTimeout: time.Minute, TouchInterval: 59 * time.Second},
	} {
		if _, err := session.New(cfg); err != nil {
			t.Errorf("New(SameSite %v, Secure %v, idle %v, touch %v) = %v, want no error", cfg.SameSite, cfg.Secure, cfg.IdleTimeout, cfg.TouchInterval, err)
		}
	}
}

func TestCookieKeepsStricterCacheControl(t *testing.T) {
	f := newFixture(t)
	resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		w.Header().Set("Cache-Control", "no-store")
		s.Put("k", "v")
	})
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want the handler's no-store kept", got)
	}
}

// TestTypedGetters checks that GetBytes and GetTime, which read the
// encoding directly, give what Get gives for the values Put writes, and
// the zero value for anything else.
func TestTypedGetters(t *testing.T) {
	when := time.Date(2026, 11, 29, 2, 30, 0, 123456789, time.FixedZone("x", 3600))
	f := newFixture(t)
	values := map[string]any{"bytes": []byte{0, 1, 2, 0xfb, 0xff}, "empty": []byte{}, "time": when,
		"string": "not base64!", "number": 42, "null": nil}
	resp := f.do("", func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		for k, v := range values {
			if err := s.Put(k, v); err != nil {
				t.Fatal(err)
			}
		}
	})
	cookie := f.sessionCookie(resp).Value
	f.do(cookie, func(w http.ResponseWriter, r *http.Request, s *session.Session) {
		tests := []struct {
			key       string
			wantBytes []byte
			wantTime  time.Time
		}{
			{"bytes", []byte{0, 1, 2, 0xfb, 0xff}, time.Time{}},
			{"empty", []byte{}, time.Time{}},
			{"time", nil, when},
			{"string", nil, time.Time{}},
			{"number", nil, time.Time{}},
			{"null", nil, time.Time{}},
			{"missing", nil, time.Time{}},
		}
		for _, tt := range tests {
			got := s.GetBytes(tt.key)
			if !bytes.Equal(got, tt.wantBytes) || (got == nil) != (tt.wantBytes == nil) {
				t.Errorf("GetBytes(%q) = %#v, want %#v", tt.key, got, tt.wantBytes)
			}
			var viaGet []byte
			if ok, err := s.Get(tt.key, &viaGet); ok && err == nil && !bytes.Equal(viaGet, got) {
				t.Errorf("GetBytes(%q) = %x, Get = %x", tt.key, got, viaGet)
			}
			if got := s.GetTime(tt.key); !got.Equal(tt.wantTime) {
				t.Errorf("GetTime(%q) = %v, want %v", tt.key, got, tt.wantTime)
			}
		}
	})
}
