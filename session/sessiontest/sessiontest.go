// Package sessiontest checks a session.Store against every promise of its
// contract, the way testing/fstest checks an fs.FS.
//
// A store's own test is a few lines:
//
//	func TestStore(t *testing.T) {
//		sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
//			s := mystore.New(mystore.Options{Now: clock.Now, SweepInterval: -1})
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run calls newStore once per subtest, and each call must return a fresh,
// empty store whose notion of "now" is clock.Now; the store's test
// registers whatever cleanup the store needs. The suite moves the clock
// forward instead of sleeping, so expiry tests are instant. If the store
// sweeps expired records in the background, newStore should turn that
// off: the suite checks the counts that Sweep returns.
//
// Timestamps are compared with a tolerance of one millisecond, so a store
// may keep times at millisecond precision (truncated or rounded), but no
// coarser.
//
// The optional capabilities session.UserIndex and session.Sweeper are
// tested when the store implements them; otherwise their subtests are
// skipped with a message that names the missing capability, so `go test
// -v` shows what a store does not offer.
//
// Run the suite with -race: the concurrency subtests are written so that
// the race detector sees a store's unsynchronised access.
package sessiontest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/session"
)

// Clock is a fake clock for expiry tests, safe for concurrent use. Its zero
// value, like NewClock, starts at the real current time truncated to the
// second, read on first use, and it moves only when Advance is called.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to the real current time truncated to the
// second.
func NewClock() *Clock {
	return &Clock{now: time.Now().Truncate(time.Second)}
}

// Now returns the clock's current time. Pass it (as a method value,
// clock.Now) to the store under test.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.now = c.now.Add(d)
}

func (c *Clock) init() {
	if c.now.IsZero() {
		c.now = time.Now().Truncate(time.Second)
	}
}

// Lifetimes used throughout the suite, as a Manager would set them.
const (
	idle     = 30 * time.Minute
	absolute = 2 * time.Hour
)

// precision is the coarsest timestamp precision a store may keep.
const precision = time.Millisecond

// Run checks the store that newStore returns against the session.Store
// contract, with one subtest per promise. See the package documentation
// for what newStore must do.
func Run(t *testing.T, newStore func(t *testing.T, clock *Clock) session.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"LoadUnknown", testLoadUnknown},
		{"OddIDs", testOddIDs},
		{"CreateReplaces", testCreateReplaces},
		{"Update", testUpdate},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateExpired", testUpdateExpired},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"ExpiryIdle", testExpiryIdle},
		{"ExpiryAbsolute", testExpiryAbsolute},
		{"UpdateExtendsExpiry", testUpdateExtendsExpiry},
		{"LargeValue", testLargeValue},
		{"ManyKeys", testManyKeys},
		{"EmptyValues", testEmptyValues},
		{"BinaryValues", testBinaryValues},
		{"OddKeys", testOddKeys},
		{"NotAliased", testNotAliased},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentSessions", testConcurrentSessions},
		{"CancelledContext", testCancelledContext},
		{"UserIndex/ListByUser", testListByUser},
		{"UserIndex/ListByUserReplaced", testListByUserReplaced},
		{"UserIndex/DeleteByUser", testDeleteByUser},
		{"UserIndex/DeleteByUserExcept", testDeleteByUserExcept},
		{"Sweeper/Sweep", testSweep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			s := newStore(t, clock)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			tt.fn(t, &harness{t: t, s: s, clock: clock, ctx: t.Context()})
		})
	}
}

// harness bundles what every subtest uses, with helpers that fail the test
// themselves.
type harness struct {
	t     *testing.T
	s     session.Store
	clock *Clock
	ctx   context.Context
}

// newID returns a fresh session ID of the form the Manager uses.
func newID() string {
	return session.IDOf([]byte(rand.Text()))
}

// record returns a record created now for userID, with the usual
// lifetimes and a few values. Its timestamps carry sub-millisecond parts
// so that the round trip checks millisecond precision.
func (h *harness) record(userID string) *session.Record {
	now := h.clock.Now()
	return &session.Record{
		UserID:    userID,
		Values:    map[string][]byte{"csrf": []byte(`"token"`), "n": []byte("1")},
		CreatedAt: now,
		LastSeen:  now,
		Expiry:    now.Add(idle),
		IP:        "192.0.2.7",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) sessiontest",
	}
}

func (h *harness) create(id string, rec *session.Record) {
	h.t.Helper()
	if err := h.s.Create(h.ctx, id, rec); err != nil {
		h.t.Fatalf("Create(%q) = %v, want nil", id, err)
	}
}

func (h *harness) update(id string, u *session.Update) {
	h.t.Helper()
	if err := h.s.Update(h.ctx, id, u); err != nil {
		h.t.Fatalf("Update(%q) = %v, want nil", id, err)
	}
}

func (h *harness) mustLoad(id string) *session.Record {
	h.t.Helper()
	r, err := h.s.Load(h.ctx, id)
	if err != nil {
		h.t.Fatalf("Load(%q) = %v, want a record", id, err)
	}
	if r == nil {
		h.t.Fatalf("Load(%q) = nil, nil; want a record", id)
	}
	return r
}

func (h *harness) mustNotFind(id string) {
	h.t.Helper()
	r, err := h.s.Load(h.ctx, id)
	if !errors.Is(err, session.ErrNotFound) {
		h.t.Fatalf("Load(%.80q) = %v, %v; want ErrNotFound", id, r, err)
	}
}

func (h *harness) mustUpdateNotFound(id string, u *session.Update) {
	h.t.Helper()
	if err := h.s.Update(h.ctx, id, u); !errors.Is(err, session.ErrNotFound) {
		h.t.Fatalf("Update(%.80q) = %v, want ErrNotFound", id, err)
	}
}

// checkRecord reports every field of got that differs from want. Times
// may differ by less than precision; a nil and an empty Values map are
// equal.
func checkRecord(t *testing.T, id string, got, want *session.Record) {
	t.Helper()
	if got.UserID != want.UserID {
		t.Errorf("Load(%q).UserID = %q, want %q", id, got.UserID, want.UserID)
	}
	if got.IP != want.IP {
		t.Errorf("Load(%q).IP = %q, want %q", id, got.IP, want.IP)
	}
	if got.UserAgent != want.UserAgent {
		t.Errorf("Load(%q).UserAgent = %q, want %q", id, got.UserAgent, want.UserAgent)
	}
	checkTime(t, fmt.Sprintf("Load(%q).CreatedAt", id), got.CreatedAt, want.CreatedAt)
	checkTime(t, fmt.Sprintf("Load(%q).LastSeen", id), got.LastSeen, want.LastSeen)
	checkTime(t, fmt.Sprintf("Load(%q).Expiry", id), got.Expiry, want.Expiry)
	checkValues(t, fmt.Sprintf("Load(%q).Values", id), got.Values, want.Values)
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d <= -precision || d >= precision {
		t.Errorf("%s = %v, want %v (within %v)", what, got, want, precision)
	}
}

func checkValues(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s[%q] is missing, want %s", what, k, show(w))
		case !bytes.Equal(g, w):
			t.Errorf("%s[%q] = %s, want %s", what, k, show(g), show(w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s[%q] = %s, want no such key", what, k, show(g))
		}
	}
}

// show abbreviates a value for a failure message.
func show(v []byte) string {
	if len(v) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", v[:40], len(v))
	}
	return fmt.Sprintf("%q", v)
}

func testRoundTrip(t *testing.T, h *harness) {
	now := h.clock.Now()
	// Sub-millisecond parts check that the store keeps at least
	// millisecond precision.
	want := &session.Record{
		UserID:    "user-42",
		Values:    map[string][]byte{"a": []byte("1"), "flash": []byte(`["saved"]`)},
		CreatedAt: now.Add(-time.Hour + 123456789*time.Nanosecond),
		LastSeen:  now.Add(-time.Minute + 987654321*time.Nanosecond),
		Expiry:    now.Add(idle + 555555555*time.Nanosecond),
		IP:        "2001:db8::1",
		UserAgent: "curl/8.5.0 \"quoted\" ünïcode",
	}
	id := newID()
	h.create(id, want)
	checkRecord(t, id, h.mustLoad(id), want)

	anon := h.record("")
	anonID := newID()
	h.create(anonID, anon)
	checkRecord(t, anonID, h.mustLoad(anonID), anon)
}

func testLoadUnknown(t *testing.T, h *harness) {
	h.mustNotFind(newID())
	h.create(newID(), h.record("u"))
	h.mustNotFind(newID())
}

func testOddIDs(t *testing.T, h *harness) {
	stored := newID()
	h.create(stored, h.record("u"))
	ids := []struct{ name, id string }{
		{"empty", ""},
		{"space", " "},
		{"short", "abc"},
		{"prefix of stored", stored[:len(stored)-1]},
		{"stored plus suffix", stored + "A"},
		{"stored upper-cased", strings.ToUpper(stored)},
		{"not base64", "not a session id!"},
		{"10KB", strings.Repeat("A", 10<<10)},
		{"non-UTF-8", "\xff\xfe\xfd" + stored[3:]},
		{"NUL", stored[:10] + "\x00" + stored[11:]},
		{"SQL", "' OR '1'='1"},
		{"LIKE pattern", "%"},
		{"glob", "*"},
		{"path", "../../etc/passwd"},
	}
	for _, tt := range ids {
		t.Run(tt.name, func(t *testing.T) {
			h := *h
			h.t = t
			h.mustNotFind(tt.id)
			h.mustUpdateNotFound(tt.id, &session.Update{Set: map[string][]byte{"k": []byte("v")}})
			h.mustNotFind(tt.id)
			if err := h.s.Delete(h.ctx, tt.id); err != nil {
				t.Errorf("Delete(%.80q) = %v, want nil", tt.id, err)
			}
		})
	}
	// None of those may have touched the stored record.
	checkRecord(t, stored, h.mustLoad(stored), h.record("u"))
}

func testCreateReplaces(t *testing.T, h *harness) {
	id := newID()
	h.create(id, h.record("first"))
	h.clock.Advance(time.Minute)
	second := h.record("second")
	second.Values = map[string][]byte{"other": []byte("x")}
	second.IP = "198.51.100.1"
	h.create(id, second)
	checkRecord(t, id, h.mustLoad(id), second)
}

func testUpdate(t *testing.T, h *harness) {
	id := newID()
	rec := h.record("u")
	rec.Values = map[string][]byte{"keep": []byte("k"), "change": []byte("old"), "drop": []byte("d"), "both": []byte("b0")}
	h.create(id, rec)

	h.clock.Advance(5 * time.Minute)
	now := h.clock.Now()
	h.update(id, &session.Update{
		Set:      map[string][]byte{"change": []byte("new"), "add": []byte("a"), "both": []byte("b1")},
		Delete:   []string{"drop", "both", "absent"},
		LastSeen: now,
		Expiry:   now.Add(idle),
	})
	want := rec.Clone()
	want.Values = map[string][]byte{"keep": []byte("k"), "change": []byte("new"), "add": []byte("a"), "both": []byte("b1")}
	want.LastSeen = now
	want.Expiry = now.Add(idle)
	checkRecord(t, id, h.mustLoad(id), want)

	// Zero timestamps leave the stored ones alone.
	h.clock.Advance(time.Minute)
	h.update(id, &session.Update{Set: map[string][]byte{"keep": []byte("k2")}})
	want.Values["keep"] = []byte("k2")
	checkRecord(t, id, h.mustLoad(id), want)

	// An empty Update changes nothing.
	h.update(id, &session.Update{})
	checkRecord(t, id, h.mustLoad(id), want)

	// A timestamps-only Update keeps every value.
	h.clock.Advance(time.Minute)
	now = h.clock.Now()
	h.update(id, &session.Update{LastSeen: now, Expiry: now.Add(idle)})
	want.LastSeen, want.Expiry = now, now.Add(idle)
	checkRecord(t, id, h.mustLoad(id), want)
}

func testUpdateMissing(t *testing.T, h *harness) {
	id := newID()
	now := h.clock.Now()
	h.mustUpdateNotFound(id, &session.Update{Set: map[string][]byte{"k": []byte("v")}, LastSeen: now, Expiry: now.Add(idle)})
	h.mustNotFind(id)

	// Nor does Update bring back a deleted record.
	h.create(id, h.record("u"))
	if err := h.s.Delete(h.ctx, id); err != nil {
		t.Fatalf("Delete(%q) = %v, want nil", id, err)
	}
	h.mustUpdateNotFound(id, &session.Update{Set: map[string][]byte{"k": []byte("v")}, LastSeen: now, Expiry: now.Add(idle)})
	h.mustNotFind(id)
}

func testUpdateExpired(t *testing.T, h *harness) {
	id := newID()
	h.create(id, h.record("u"))
	h.clock.Advance(idle)
	// An Update that would extend the Expiry must not revive the record.
	now := h.clock.Now()
	h.mustUpdateNotFound(id, &session.Update{Set: map[string][]byte{"k": []byte("v")}, LastSeen: now, Expiry: now.Add(idle)})
	h.mustUpdateNotFound(id, &session.Update{LastSeen: now, Expiry: now.Add(idle)})
	h.mustNotFind(id)
}

func testDelete(t *testing.T, h *harness) {
	id, other := newID(), newID()
	h.create(id, h.record("u"))
	h.create(other, h.record("u"))
	if err := h.s.Delete(h.ctx, id); err != nil {
		t.Fatalf("Delete(%q) = %v, want nil", id, err)
	}
	h.mustNotFind(id)
	h.mustLoad(other)
	if err := h.s.Delete(h.ctx, id); err != nil {
		t.Errorf("second Delete(%q) = %v, want nil", id, err)
	}
}

func testDeleteMissing(t *testing.T, h *harness) {
	id := newID()
	if err := h.s.Delete(h.ctx, id); err != nil {
		t.Errorf("Delete(%q) of a missing record = %v, want nil", id, err)
	}
	// Deleting an expired record is not an error either.
	h.create(id, h.record("u"))
	h.clock.Advance(idle)
	if err := h.s.Delete(h.ctx, id); err != nil {
		t.Errorf("Delete(%q) of an expired record = %v, want nil", id, err)
	}
	h.mustNotFind(id)
}

func testExpiryIdle(t *testing.T, h *harness) {
	id := newID()
	h.create(id, h.record("u")) // Expiry = LastSeen + idle
	h.clock.Advance(idle - time.Second)
	h.mustLoad(id)
	h.clock.Advance(time.Second) // now == Expiry
	h.mustNotFind(id)
	h.clock.Advance(time.Hour)
	h.mustNotFind(id)
}

func testExpiryAbsolute(t *testing.T, h *harness) {
	id := newID()
	rec := h.record("u")
	deadline := rec.CreatedAt.Add(absolute)
	h.create(id, rec)
	// The session is used every 20 minutes, so it never idles out; each
	// use moves LastSeen and pushes Expiry to min(now+idle, deadline).
	for h.clock.Now().Add(20 * time.Minute).Before(deadline) {
		h.clock.Advance(20 * time.Minute)
		now := h.clock.Now()
		exp := now.Add(idle)
		if exp.After(deadline) {
			exp = deadline
		}
		h.update(id, &session.Update{LastSeen: now, Expiry: exp})
	}
	// The last refreshes leave Expiry at the deadline: LastSeen moves,
	// Expiry does not.
	h.clock.Advance(deadline.Sub(h.clock.Now()) - time.Second)
	now := h.clock.Now()
	h.update(id, &session.Update{LastSeen: now})
	got := h.mustLoad(id)
	checkTime(t, fmt.Sprintf("Load(%q).LastSeen", id), got.LastSeen, now)
	checkTime(t, fmt.Sprintf("Load(%q).Expiry", id), got.Expiry, deadline)
	h.clock.Advance(time.Second) // now == deadline, though LastSeen was 1s ago
	h.mustNotFind(id)
}

func testUpdateExtendsExpiry(t *testing.T, h *harness) {
	id := newID()
	h.create(id, h.record("u"))
	h.clock.Advance(20 * time.Minute)
	now := h.clock.Now()
	h.update(id, &session.Update{LastSeen: now, Expiry: now.Add(idle)})
	h.clock.Advance(20 * time.Minute) // past the first Expiry
	got := h.mustLoad(id)
	checkTime(t, fmt.Sprintf("Load(%q).Expiry", id), got.Expiry, now.Add(idle))
	h.clock.Advance(10 * time.Minute) // at the new Expiry
	h.mustNotFind(id)
}

func testLargeValue(t *testing.T, h *harness) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	id := newID()
	rec := h.record("u")
	rec.Values = map[string][]byte{"big": big, "small": []byte("s")}
	h.create(id, rec)
	checkRecord(t, id, h.mustLoad(id), rec)

	// The big value survives an Update of another key.
	h.update(id, &session.Update{Set: map[string][]byte{"small": []byte("t")}})
	want := rec.Clone()
	want.Values["small"] = []byte("t")
	checkRecord(t, id, h.mustLoad(id), want)
}

func testManyKeys(t *testing.T, h *harness) {
	id := newID()
	rec := h.record("u")
	rec.Values = make(map[string][]byte, 1000)
	for i := range 1000 {
		rec.Values[fmt.Sprintf("key-%04d", i)] = fmt.Appendf(nil, `{"i":%d}`, i)
	}
	h.create(id, rec)
	checkRecord(t, id, h.mustLoad(id), rec)

	u := &session.Update{Set: map[string][]byte{}}
	want := rec.Clone()
	for i := 0; i < 1000; i += 3 {
		k := fmt.Sprintf("key-%04d", i)
		u.Delete = append(u.Delete, k)
		delete(want.Values, k)
	}
	for i := 1; i < 1000; i += 3 {
		k := fmt.Sprintf("key-%04d", i)
		u.Set[k] = []byte("updated")
		want.Values[k] = []byte("updated")
	}
	h.update(id, u)
	checkRecord(t, id, h.mustLoad(id), want)
}

func testEmptyValues(t *testing.T, h *harness) {
	for _, tt := range []struct {
		name   string
		values map[string][]byte
	}{
		{"empty map", map[string][]byte{}},
		{"nil map", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := *h
			h.t = t
			id := newID()
			rec := h.record("u")
			rec.Values = tt.values
			h.create(id, rec)
			got := h.mustLoad(id)
			if len(got.Values) != 0 {
				t.Errorf("Load(%q).Values has %d keys, want 0", id, len(got.Values))
			}
			h.update(id, &session.Update{Set: map[string][]byte{"k": []byte("v")}})
			want := rec.Clone()
			want.Values = map[string][]byte{"k": []byte("v")}
			checkRecord(t, id, h.mustLoad(id), want)
			h.update(id, &session.Update{Delete: []string{"k"}})
			if got := h.mustLoad(id); len(got.Values) != 0 {
				t.Errorf("after deleting the only key, Load(%q).Values has %d keys, want 0", id, len(got.Values))
			}
		})
	}
}

func testBinaryValues(t *testing.T, h *harness) {
	id := newID()
	rec := h.record("u")
	rec.Values = map[string][]byte{
		"zeros":    {0, 0, 0, 0},
		"embedded": []byte("a\x00b\x00"),
		"invalid":  {0xff, 0xfe, 0xc3, 0x28, 0x80},
		"all":      allBytes(),
		"empty":    {},
		"nil":      nil,
	}
	h.create(id, rec)
	got := h.mustLoad(id)
	checkRecord(t, id, got, rec)

	h.update(id, &session.Update{Set: map[string][]byte{"set-empty": {}, "set-zero": {0}}})
	want := rec.Clone()
	want.Values["set-empty"] = []byte{}
	want.Values["set-zero"] = []byte{0}
	checkRecord(t, id, h.mustLoad(id), want)
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func testOddKeys(t *testing.T, h *harness) {
	id := newID()
	rec := h.record("u")
	rec.Values = map[string][]byte{
		"":                        []byte("empty key"),
		" ":                       []byte("space"),
		"with spaces  and tabs\t": []byte("1"),
		"héllo wörld":             []byte("2"),
		"日本語のキー":                  []byte("3"),
		"emoji 🔑":                 []byte("4"),
		"quote\"'`;--":            []byte("5"),
		"line\nbreak":             []byte("6"),
		"%_*?[]{}":                []byte("7"),
		strings.Repeat("k", 1000): []byte("8"),
	}
	h.create(id, rec)
	checkRecord(t, id, h.mustLoad(id), rec)

	h.update(id, &session.Update{Set: map[string][]byte{"日本語のキー": []byte("updated")}, Delete: []string{"", "emoji 🔑"}})
	want := rec.Clone()
	want.Values["日本語のキー"] = []byte("updated")
	delete(want.Values, "")
	delete(want.Values, "emoji 🔑")
	checkRecord(t, id, h.mustLoad(id), want)
}

func testNotAliased(t *testing.T, h *harness) {
	id := newID()
	given := h.record("u")
	snapshot := given.Clone()
	h.create(id, given)
	before := h.mustLoad(id)
	beforeSnapshot := before.Clone()

	h.clock.Advance(time.Minute)
	now := h.clock.Now()
	h.update(id, &session.Update{
		Set:      map[string][]byte{"n": []byte("2"), "new": []byte("x")},
		Delete:   []string{"csrf"},
		LastSeen: now,
		Expiry:   now.Add(idle),
	})
	after := h.mustLoad(id)
	want := snapshot.Clone()
	want.Values = map[string][]byte{"n": []byte("2"), "new": []byte("x")}
	want.LastSeen, want.Expiry = now, now.Add(idle)
	checkRecord(t, id, after, want)

	// Records are immutable: the Update built a new one. Neither the
	// Record given to Create nor one returned by an earlier Load changed.
	checkRecord(t, id+" (loaded before Update)", before, beforeSnapshot)
	checkRecord(t, id+" (given to Create)", given, snapshot)
}

func testConcurrentUpdates(t *testing.T, h *harness) {
	const n = 50
	id := newID()
	rec := h.record("u")
	rec.Values = map[string][]byte{"shared": []byte("untouched")}
	for i := range n {
		if i%2 == 0 {
			rec.Values[fmt.Sprintf("old-%d", i)] = []byte("delete me")
		}
	}
	h.create(id, rec)

	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := range n {
		wg.Go(func() {
			<-start
			// Each goroutine writes its own key a few times, deletes its
			// own old key, and reads the record in between.
			for round := range 3 {
				u := &session.Update{Set: map[string][]byte{fmt.Sprintf("key-%d", i): fmt.Appendf(nil, "%d/%d", i, round)}}
				if i%2 == 0 && round == 1 {
					u.Delete = []string{fmt.Sprintf("old-%d", i)}
				}
				if err := h.s.Update(h.ctx, id, u); err != nil {
					errs <- fmt.Errorf("Update(%q) in goroutine %d = %v, want nil", id, i, err)
					return
				}
				r, err := h.s.Load(h.ctx, id)
				if err != nil {
					errs <- fmt.Errorf("Load(%q) in goroutine %d = %v, want a record", id, i, err)
					return
				}
				if got := r.Values[fmt.Sprintf("key-%d", i)]; len(got) == 0 {
					errs <- fmt.Errorf("Load(%q) in goroutine %d just after its Update lacks key-%d", id, i, i)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	want := map[string][]byte{"shared": []byte("untouched")}
	for i := range n {
		want[fmt.Sprintf("key-%d", i)] = fmt.Appendf(nil, "%d/2", i)
	}
	checkValues(t, fmt.Sprintf("after %d concurrent Updates, Load(%q).Values", n, id), h.mustLoad(id).Values, want)
}

func testConcurrentSessions(t *testing.T, h *harness) {
	const workers, perWorker = 8, 25
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	ids := make([][]string, workers)
	for w := range workers {
		ids[w] = make([]string, perWorker)
		for j := range ids[w] {
			ids[w][j] = newID()
		}
		wg.Go(func() {
			<-start
			for j, id := range ids[w] {
				rec := h.record(fmt.Sprintf("user-%d", w))
				rec.Values = map[string][]byte{"j": fmt.Append(nil, j)}
				if err := h.s.Create(h.ctx, id, rec); err != nil {
					errs <- fmt.Errorf("Create(%q) = %v, want nil", id, err)
					return
				}
				r, err := h.s.Load(h.ctx, id)
				if err != nil {
					errs <- fmt.Errorf("Load(%q) just after Create = %v, want a record", id, err)
					return
				}
				if r.UserID != rec.UserID || string(r.Values["j"]) != fmt.Sprint(j) {
					errs <- fmt.Errorf("Load(%q) = {UserID %q, j %q}, want {%q, %q}", id, r.UserID, r.Values["j"], rec.UserID, fmt.Sprint(j))
					return
				}
				// Also read another worker's sessions, which may or may
				// not exist yet.
				other := ids[(w+1)%workers][j]
				if _, err := h.s.Load(h.ctx, other); err != nil && !errors.Is(err, session.ErrNotFound) {
					errs <- fmt.Errorf("Load(%q) = %v, want a record or ErrNotFound", other, err)
					return
				}
				if j%5 == 0 {
					if err := h.s.Delete(h.ctx, id); err != nil {
						errs <- fmt.Errorf("Delete(%q) = %v, want nil", id, err)
						return
					}
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for w := range workers {
		for j, id := range ids[w] {
			if j%5 == 0 {
				h.mustNotFind(id)
			} else if r := h.mustLoad(id); r.UserID != fmt.Sprintf("user-%d", w) {
				t.Errorf("Load(%q).UserID = %q, want %q", id, r.UserID, fmt.Sprintf("user-%d", w))
			}
		}
	}
}

func testCancelledContext(t *testing.T, h *harness) {
	id := newID()
	h.create(id, h.record("u"))

	cancelled, cancel := context.WithCancel(h.ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(h.ctx, time.Unix(0, 0))
	defer cancel2()

	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline", expired, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			check := func(call string, err error) {
				t.Helper()
				if !errors.Is(err, c.want) {
					t.Errorf("%s with a %s context = %v, want an error wrapping %v", call, c.name, err, c.want)
				}
			}
			_, err := h.s.Load(c.ctx, id)
			check(fmt.Sprintf("Load(%q)", id), err)
			check(fmt.Sprintf("Create(%q)", id), h.s.Create(c.ctx, newID(), h.record("u")))
			check(fmt.Sprintf("Update(%q)", id), h.s.Update(c.ctx, id, &session.Update{Set: map[string][]byte{"k": []byte("v")}}))
			check(fmt.Sprintf("Delete(%q)", id), h.s.Delete(c.ctx, id))
			if ix, ok := h.s.(session.UserIndex); ok {
				_, err := ix.ListByUser(c.ctx, "u")
				check(`ListByUser("u")`, err)
				_, err = ix.DeleteByUser(c.ctx, "u")
				check(`DeleteByUser("u")`, err)
			}
			if sw, ok := h.s.(session.Sweeper); ok {
				_, err := sw.Sweep(c.ctx)
				check("Sweep", err)
			}
		})
	}
	// The record is still there and unchanged.
	checkRecord(t, id, h.mustLoad(id), h.record("u"))
}

// userIndex returns the store's UserIndex, or skips the test.
func (h *harness) userIndex() session.UserIndex {
	h.t.Helper()
	ix, ok := h.s.(session.UserIndex)
	if !ok {
		h.t.Skipf("store %T does not implement session.UserIndex (ListByUser, DeleteByUser)", h.s)
	}
	return ix
}

func (h *harness) list(ix session.UserIndex, userID string) []session.Info {
	h.t.Helper()
	list, err := ix.ListByUser(h.ctx, userID)
	if err != nil {
		h.t.Fatalf("ListByUser(%q) = %v, want nil error", userID, err)
	}
	return list
}

// checkList checks that ListByUser(userID) returns exactly want, in order.
func (h *harness) checkList(ix session.UserIndex, userID string, want []session.Info) {
	h.t.Helper()
	got := h.list(ix, userID)
	ids := func(list []session.Info) []string {
		var s []string
		for _, in := range list {
			s = append(s, in.ID)
		}
		return s
	}
	if !slices.Equal(ids(got), ids(want)) {
		h.t.Fatalf("ListByUser(%q) IDs = %q, want %q (newest first)", userID, ids(got), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		what := fmt.Sprintf("ListByUser(%q)[%d]", userID, i)
		if g.UserID != w.UserID || g.IP != w.IP || g.UserAgent != w.UserAgent {
			h.t.Errorf("%s = {UserID %q, IP %q, UserAgent %q}, want {%q, %q, %q}", what, g.UserID, g.IP, g.UserAgent, w.UserID, w.IP, w.UserAgent)
		}
		checkTime(h.t, what+".CreatedAt", g.CreatedAt, w.CreatedAt)
		checkTime(h.t, what+".LastSeen", g.LastSeen, w.LastSeen)
		checkTime(h.t, what+".Expiry", g.Expiry, w.Expiry)
	}
}

// users creates, a minute apart, the sessions the UserIndex tests share:
// three live ones of alice, one of bob, two anonymous ones. It returns
// alice's Infos newest first, bob's ID and the anonymous IDs.
func (h *harness) users() (alice []session.Info, bob string, anon []string) {
	h.t.Helper()
	for i := range 3 {
		id := newID()
		rec := h.record("alice")
		rec.IP = fmt.Sprintf("192.0.2.%d", i+1)
		h.create(id, rec)
		alice = append([]session.Info{session.InfoOf(id, rec)}, alice...)

		a := newID()
		h.create(a, h.record(""))
		anon = append(anon, a)
		h.clock.Advance(time.Minute)
	}
	bob = newID()
	h.create(bob, h.record("bob"))
	return alice, bob, anon
}

func testListByUser(t *testing.T, h *harness) {
	ix := h.userIndex()
	alice, bob, anon := h.users()

	// Also: one deleted session of alice, and one that expires sooner.
	deleted := newID()
	h.create(deleted, h.record("alice"))
	if err := h.s.Delete(h.ctx, deleted); err != nil {
		t.Fatalf("Delete(%q) = %v", deleted, err)
	}
	short := newID()
	shortRec := h.record("alice")
	shortRec.Expiry = h.clock.Now().Add(5 * time.Minute)
	h.create(short, shortRec)

	h.checkList(ix, "alice", append([]session.Info{session.InfoOf(short, shortRec)}, alice...))
	h.clock.Advance(5 * time.Minute) // short expires; alice's others have 22 to 24 minutes left
	h.checkList(ix, "alice", alice)

	if list := h.list(ix, "bob"); len(list) != 1 || list[0].ID != bob {
		t.Errorf("ListByUser(%q) = %v, want only %q", "bob", list, bob)
	}
	for _, u := range []string{"nobody", "ALICE", "alice ", "alic", ""} {
		if list := h.list(ix, u); len(list) != 0 {
			t.Errorf("ListByUser(%q) = %v, want an empty slice", u, list)
		}
	}
	for _, a := range anon {
		h.mustLoad(a)
	}

	// A refreshed session is listed with its new LastSeen.
	h.clock.Advance(time.Minute)
	now := h.clock.Now()
	h.update(alice[1].ID, &session.Update{LastSeen: now, Expiry: now.Add(idle)})
	alice[1].LastSeen, alice[1].Expiry = now, now.Add(idle)
	h.checkList(ix, "alice", alice)

	// All of alice's sessions expire.
	h.clock.Advance(idle)
	h.checkList(ix, "alice", nil)
}

func testListByUserReplaced(t *testing.T, h *harness) {
	ix := h.userIndex()
	// Create replaces a record even when the new one has another owner; the
	// index must follow.
	id := newID()
	h.create(id, h.record("alice"))
	h.create(id, h.record("bob"))
	h.checkList(ix, "alice", nil)
	if list := h.list(ix, "bob"); len(list) != 1 || list[0].ID != id {
		t.Errorf("ListByUser(%q) = %v, want only %q", "bob", list, id)
	}
	h.create(id, h.record(""))
	h.checkList(ix, "bob", nil)
	h.create(id, h.record("alice"))
	if list := h.list(ix, "alice"); len(list) != 1 || list[0].ID != id {
		t.Errorf("ListByUser(%q) = %v, want only %q", "alice", list, id)
	}
}

func (h *harness) deleteByUser(ix session.UserIndex, userID string, except ...string) int {
	h.t.Helper()
	n, err := ix.DeleteByUser(h.ctx, userID, except...)
	if err != nil {
		h.t.Fatalf("DeleteByUser(%q, %q) = %v, want nil error", userID, except, err)
	}
	return n
}

func testDeleteByUser(t *testing.T, h *harness) {
	ix := h.userIndex()
	alice, bob, anon := h.users()

	if n := h.deleteByUser(ix, "nobody"); n != 0 {
		t.Errorf(`DeleteByUser("nobody") = %d, want 0`, n)
	}
	// Anonymous sessions have no user: "" deletes none of them.
	if n := h.deleteByUser(ix, ""); n != 0 {
		t.Errorf(`DeleteByUser("") = %d, want 0`, n)
	}
	if n := h.deleteByUser(ix, "alice"); n != len(alice) {
		t.Errorf(`DeleteByUser("alice") = %d, want %d`, n, len(alice))
	}
	for _, in := range alice {
		h.mustNotFind(in.ID)
	}
	h.checkList(ix, "alice", nil)
	h.mustLoad(bob)
	for _, a := range anon {
		h.mustLoad(a)
	}
	if n := h.deleteByUser(ix, "alice"); n != 0 {
		t.Errorf(`second DeleteByUser("alice") = %d, want 0`, n)
	}

	// An expired session may or may not be counted, but live ones are.
	expired := newID()
	rec := h.record("bob")
	rec.Expiry = h.clock.Now().Add(time.Minute)
	h.create(expired, rec)
	h.clock.Advance(time.Minute)
	if n := h.deleteByUser(ix, "bob"); n != 1 && n != 2 {
		t.Errorf(`DeleteByUser("bob") with one live and one expired session = %d, want 1 (or 2)`, n)
	}
	h.mustNotFind(bob)
	h.mustNotFind(expired)
}

func testDeleteByUserExcept(t *testing.T, h *harness) {
	ix := h.userIndex()
	alice, bob, anon := h.users()
	keep := alice[1].ID

	// IDs in except that are not alice's (bob's, unknown ones) change nothing.
	n := h.deleteByUser(ix, "alice", keep, bob, newID(), "")
	if n != len(alice)-1 {
		t.Errorf(`DeleteByUser("alice", %q, ...) = %d, want %d`, keep, n, len(alice)-1)
	}
	h.checkList(ix, "alice", alice[1:2])
	h.mustLoad(keep)
	h.mustNotFind(alice[0].ID)
	h.mustNotFind(alice[2].ID)
	h.mustLoad(bob)
	for _, a := range anon {
		h.mustLoad(a)
	}
	if n := h.deleteByUser(ix, "alice", keep); n != 0 {
		t.Errorf(`second DeleteByUser("alice", %q) = %d, want 0`, keep, n)
	}
	h.mustLoad(keep)
}

func testSweep(t *testing.T, h *harness) {
	sw, ok := h.s.(session.Sweeper)
	if !ok {
		t.Skipf("store %T does not implement session.Sweeper (it must expire records by itself)", h.s)
	}
	var soon, later []string
	for i := range 5 {
		id := newID()
		rec := h.record(fmt.Sprintf("user-%d", i%2))
		if i < 3 {
			rec.Expiry = h.clock.Now().Add(10 * time.Minute)
			soon = append(soon, id)
		} else {
			later = append(later, id)
		}
		h.create(id, rec)
	}
	n, err := sw.Sweep(h.ctx)
	if err != nil || n != 0 {
		t.Fatalf("Sweep before any expiry = %d, %v; want 0, nil", n, err)
	}
	h.clock.Advance(10 * time.Minute) // soon's Expiry is now: expired
	n, err = sw.Sweep(h.ctx)
	if err != nil || n != len(soon) {
		t.Fatalf("Sweep = %d, %v; want %d, nil", n, err, len(soon))
	}
	for _, id := range soon {
		h.mustNotFind(id)
	}
	for _, id := range later {
		h.mustLoad(id)
	}
	if n, err := sw.Sweep(h.ctx); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0, nil", n, err)
	}
	// A swept ID is free for a new record.
	h.create(soon[0], h.record("again"))
	h.mustLoad(soon[0])
}
