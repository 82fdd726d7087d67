package memstore_test

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// sameRecord reports how got differs from want, or "" when it does not.
func sameRecord(got, want *session.Record) string {
	switch {
	case got.UserID != want.UserID:
		return "UserID " + got.UserID
	case got.IP != want.IP:
		return "IP " + got.IP
	case got.UserAgent != want.UserAgent:
		return "UserAgent " + got.UserAgent
	case !got.CreatedAt.Equal(want.CreatedAt):
		return "CreatedAt " + got.CreatedAt.String()
	case !got.LastSeen.Equal(want.LastSeen):
		return "LastSeen " + got.LastSeen.String()
	case !got.Expiry.Equal(want.Expiry):
		return "Expiry " + got.Expiry.String()
	case !maps.EqualFunc(got.Values, want.Values, bytes.Equal):
		return "Values"
	}
	return ""
}

// newStores are the constructors of the stores the tests run on: the
// store, and one whose hashes collide all the time.
var newStores = []struct {
	name string
	new  func(memstore.SessionOptions) *memstore.SessionStore
}{
	{"distinct hashes", memstore.NewSessionStore},
	{"colliding hashes", memstore.NewCollidingSessionStore},
}

// addOthers fills s with n unrelated records, so that on a colliding store
// the records under test share their hashes with others.
func addOthers(t *testing.T, s *memstore.SessionStore, n int, now time.Time) {
	t.Helper()
	for i := range n {
		if err := s.Create(t.Context(), sessiontest.ScaleID(1000+i), sessiontest.ScaleRecord(1000+i, now, now.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
}

// checkForm fails t unless the record of id is held as wanted.
func checkForm(t *testing.T, s *memstore.SessionStore, id string, wantHot bool) {
	t.Helper()
	hot, cold := s.Form(id)
	if hot != wantHot || cold == wantHot {
		t.Errorf("Form(%.20q) = hot %v, cold %v; want hot %v", id, hot, cold, wantHot)
	}
}

// TestColdRoundTrip checks that records of every shape survive being
// stored compactly (cold), decoded on their first Load (hot), turned cold
// again by two sweeps without a Load, and loaded again.
func TestColdRoundTrip(t *testing.T) {
	clock := sessiontest.NewClock()
	now := clock.Now()
	scale := sessiontest.ScaleRecord(12345, now, now.Add(time.Hour))
	zone := time.FixedZone("X", 2*3600+30*60)
	base := func(change func(r *session.Record)) *session.Record {
		r := scale.Clone()
		change(r)
		return r
	}
	tests := []struct {
		name string
		id   string
		rec  *session.Record
	}{
		{"scale record", sessiontest.ScaleID(1), scale},
		{"odd ID", "not a session id!", scale},
		{"empty ID", "", scale},
		{"43 chars, not base64", strings.Repeat("*", 43), scale},
		{"anonymous", sessiontest.ScaleID(2), base(func(r *session.Record) { r.UserID = "" })},
		{"user ID with leading zero", sessiontest.ScaleID(3), base(func(r *session.Record) { r.UserID = "007" })},
		{"user ID zero", sessiontest.ScaleID(4), base(func(r *session.Record) { r.UserID = "0" })},
		{"huge numeric user ID", sessiontest.ScaleID(5), base(func(r *session.Record) { r.UserID = "99999999999999999999999" })},
		{"user ID of one letter", sessiontest.ScaleID(6), base(func(r *session.Record) {
			r.UserID = "a"
			r.Values["k"] = []byte(`"a b a"`)
		})},
		{"no values", sessiontest.ScaleID(7), base(func(r *session.Record) { r.Values = map[string][]byte{} })},
		{"odd values", sessiontest.ScaleID(8), base(func(r *session.Record) {
			r.Values = map[string][]byte{
				"":                               nil,
				"empty":                          {},
				"binary":                         {0, 0xff, 0xfe, '"', 1},
				"user and FF":                    []byte("\xff" + r.UserID + "\xff"),
				"user":                           []byte(r.UserID + r.UserID + "x" + r.UserID),
				"base64 loose":                   []byte(`"YR=="`),
				"base64 short":                   []byte(`""`),
				"base64 long":                    []byte(`"` + strings.Repeat("QUJD", 300) + `"`),
				"quote":                          []byte(`"`),
				"time zone":                      []byte(`"2026-01-02T03:04:05.123456789+02:30"`),
				"time UTC":                       []byte(`"2026-01-02T03:04:05Z"`),
				"time loose":                     []byte(`"2026-01-02T03:04:05.100Z"`),
				"time far":                       []byte(`"0001-01-01T00:00:00Z"`),
				"not time":                       []byte(`"2026-13-02T03:04:05Z"`),
				strings.Repeat("long key ", 100): []byte("v"),
			}
		})},
		{"IPv6", sessiontest.ScaleID(9), base(func(r *session.Record) { r.IP = "2001:db8::1" })},
		{"IPv4 in IPv6", sessiontest.ScaleID(10), base(func(r *session.Record) { r.IP = "::ffff:192.0.2.1" })},
		{"IPv6 zone", sessiontest.ScaleID(11), base(func(r *session.Record) { r.IP = "fe80::1%eth0" })},
		{"IP padded", sessiontest.ScaleID(12), base(func(r *session.Record) { r.IP = "192.0.2.01" })},
		{"no IP", sessiontest.ScaleID(13), base(func(r *session.Record) { r.IP = "" })},
		{"new user agent", sessiontest.ScaleID(14), base(func(r *session.Record) { r.UserAgent = strings.Repeat("agent ", 200) })},
		{"times apart", sessiontest.ScaleID(15), base(func(r *session.Record) {
			r.CreatedAt = time.Time{}
			r.LastSeen = now.Add(-time.Nanosecond).In(zone)
			r.Expiry = now.Add(200 * 365 * 24 * time.Hour)
		})},
		{"times in milliseconds", sessiontest.ScaleID(16), base(func(r *session.Record) {
			r.LastSeen = r.CreatedAt.Add(1500 * time.Millisecond)
			r.Expiry = r.LastSeen.Add(-time.Millisecond).Add(2 * time.Hour)
		})},
		{"far future", sessiontest.ScaleID(17), base(func(r *session.Record) { r.Expiry = time.Date(9999, 1, 1, 0, 0, 0, 1, time.UTC) })},
	}
	for _, ns := range newStores {
		t.Run(ns.name, func(t *testing.T) {
			s := ns.new(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
			defer s.Close()
			ctx := t.Context()
			addOthers(t, s, 20, now)
			want := make([]*session.Record, len(tests))
			for i, tt := range tests {
				want[i] = tt.rec.Clone()
				if err := s.Create(ctx, tt.id, tt.rec); err != nil {
					t.Fatal(err)
				}
				checkForm(t, s, tt.id, false)
			}
			first := make([]*session.Record, len(tests))
			for i, tt := range tests {
				r, err := s.Load(ctx, tt.id)
				if err != nil {
					t.Fatalf("%s: first Load = %v", tt.name, err)
				}
				if d := sameRecord(r, want[i]); d != "" {
					t.Errorf("%s: first Load (decoded) differs: %s", tt.name, d)
				}
				checkForm(t, s, tt.id, true)
				first[i] = r
			}
			kept := make([]*session.Record, len(tests))
			for i, r := range first {
				kept[i] = r.Clone()
			}

			// A sweep after a Load keeps a record hot; the next, with no
			// Load in between, turns it cold.
			for _, wantHot := range []bool{true, false} {
				if n, err := s.Sweep(ctx); n != 0 || err != nil {
					t.Fatalf("Sweep = %d, %v; want nothing removed", n, err)
				}
				for _, tt := range tests {
					checkForm(t, s, tt.id, wantHot)
				}
				if t.Failed() {
					t.FailNow()
				}
			}
			for i, tt := range tests {
				again, err := s.Load(ctx, tt.id)
				if err != nil {
					t.Fatalf("%s: Load after going cold = %v", tt.name, err)
				}
				if d := sameRecord(again, want[i]); d != "" {
					t.Errorf("%s: Load after going cold differs: %s", tt.name, d)
				}
				// The record first returned was shared: it must not change.
				if d := sameRecord(first[i], kept[i]); d != "" {
					t.Errorf("%s: the record first loaded was modified: %s", tt.name, d)
				}
			}
			if want := 20 + len(tests); s.Len() != want {
				t.Errorf("Len = %d, want %d", s.Len(), want)
			}
		})
	}
}

// TestColdExpiry checks that expiry holds for cold records as for hot
// ones: not loaded, not updated, and removed by the sweep.
func TestColdExpiry(t *testing.T) {
	for _, ns := range newStores {
		for _, hot := range []bool{false, true} {
			t.Run(ns.name+"/"+map[bool]string{false: "cold", true: "hot"}[hot], func(t *testing.T) {
				testColdExpiry(t, ns.new, hot)
			})
		}
	}
}

func testColdExpiry(t *testing.T, newStore func(memstore.SessionOptions) *memstore.SessionStore, hot bool) {
	clock := sessiontest.NewClock()
	s := newStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	now := clock.Now()
	addOthers(t, s, 20, now.Add(time.Minute))
	soon, later := sessiontest.ScaleID(1), sessiontest.ScaleID(2)
	for id, expiry := range map[string]time.Time{soon: now.Add(time.Minute), later: now.Add(time.Hour)} {
		if err := s.Create(ctx, id, sessiontest.ScaleRecord(0, now, expiry)); err != nil {
			t.Fatal(err)
		}
		if hot {
			if _, err := s.Load(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		checkForm(t, s, id, hot)
	}
	clock.Advance(time.Minute)
	if _, err := s.Load(ctx, soon); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load of the expired record = %v, want ErrNotFound", err)
	}
	if err := s.Update(ctx, soon, &session.Update{Set: map[string][]byte{"k": []byte("v")}}); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Update of the expired record = %v, want ErrNotFound", err)
	}
	if n, err := s.Sweep(ctx); n != 1 || err != nil {
		t.Errorf("Sweep = %d, %v; want 1 removed", n, err)
	}
	if n := s.Len(); n != 21 {
		t.Errorf("after Sweep, Len = %d, want 21", n)
	}
	if hot, cold := s.Form(soon); hot || cold {
		t.Errorf("after Sweep, the expired record is still held (hot %v, cold %v)", hot, cold)
	}
	if _, err := s.Load(ctx, later); err != nil {
		t.Errorf("Load of the live record = %v", err)
	}
}

// TestColdUpdate checks that an Update of a cold record keeps the values it
// does not name, and leaves the record hot.
func TestColdUpdate(t *testing.T) {
	for _, ns := range newStores {
		t.Run(ns.name, func(t *testing.T) { testColdUpdate(t, ns.new) })
	}
}

func testColdUpdate(t *testing.T, newStore func(memstore.SessionOptions) *memstore.SessionStore) {
	clock := sessiontest.NewClock()
	s := newStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	now := clock.Now()
	addOthers(t, s, 20, now)
	id := sessiontest.ScaleID(1)
	rec := sessiontest.ScaleRecord(0, now, now.Add(time.Hour))
	if err := s.Create(ctx, id, rec); err != nil {
		t.Fatal(err)
	}
	u := &session.Update{Set: map[string][]byte{"flash": []byte(`["saved"]`)}, Delete: []string{"_csrf"}, LastSeen: now.Add(time.Second), Expiry: now.Add(2 * time.Hour)}
	if err := s.Update(ctx, id, u); err != nil {
		t.Fatal(err)
	}
	checkForm(t, s, id, true)
	got, err := s.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameRecord(got, u.Apply(rec)); d != "" {
		t.Errorf("after Update, Load differs: %s", d)
	}
}

// TestColdUserIndex checks that ListByUser and DeleteByUser see cold
// records as well as hot ones.
func TestColdUserIndex(t *testing.T) {
	for _, ns := range newStores {
		t.Run(ns.name, func(t *testing.T) { testColdUserIndex(t, ns.new) })
	}
}

func testColdUserIndex(t *testing.T, newStore func(memstore.SessionOptions) *memstore.SessionStore) {
	clock := sessiontest.NewClock()
	s := newStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	now := clock.Now()
	addOthers(t, s, 20, now)
	// Records 0 and 1 belong to one user, 2 and 3 to another
	// (sessiontest.ScaleSessionsPerUser), plus one more of the first.
	var ids []string
	for i := range 4 {
		ids = append(ids, sessiontest.ScaleID(i))
		if err := s.Create(ctx, ids[i], sessiontest.ScaleRecord(i, now.Add(time.Duration(i)*time.Second), now.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	extra := "not a digest"
	if err := s.Create(ctx, extra, sessiontest.ScaleRecord(1, now.Add(time.Minute), now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	user := sessiontest.ScaleRecord(0, now, now).UserID
	if _, err := s.Load(ctx, ids[1]); err != nil { // one hot, two cold
		t.Fatal(err)
	}
	checkForm(t, s, ids[0], false)
	checkForm(t, s, ids[1], true)
	checkForm(t, s, extra, false)

	list, err := s.ListByUser(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range list {
		got = append(got, in.ID)
		if in.UserID != user || in.IP == "" || in.UserAgent == "" || !in.Expiry.Equal(now.Add(time.Hour)) {
			t.Errorf("ListByUser: %+v, want the record's user, IP, agent and expiry", in)
		}
	}
	if want := []string{extra, ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("ListByUser = %q, want %q (newest first)", got, want)
	}
	n, err := s.DeleteByUser(ctx, user, ids[0])
	if n != 2 || err != nil {
		t.Errorf("DeleteByUser = %d, %v; want 2", n, err)
	}
	for _, id := range []string{ids[1], extra} {
		if _, err := s.Load(ctx, id); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Load(%.20q) after DeleteByUser = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{ids[0], ids[2], ids[3]} {
		if _, err := s.Load(ctx, id); err != nil {
			t.Errorf("Load(%.20q) after DeleteByUser = %v, want the record", id, err)
		}
	}
	if list, _ := s.ListByUser(ctx, user); len(list) != 1 || list[0].ID != ids[0] {
		t.Errorf("ListByUser after DeleteByUser = %+v, want only the excepted session", list)
	}
}

// TestLoadCached checks the session Manager's path: LoadCached answers
// only for a record held decoded, with the record Load returns, and a hit
// counts as a use, so the sweep keeps the record decoded.
func TestLoadCached(t *testing.T) {
	for _, st := range newStores {
		t.Run(st.name, func(t *testing.T) {
			clock := sessiontest.NewClock()
			s := st.new(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
			defer s.Close()
			ctx := t.Context()
			now := clock.Now()
			addOthers(t, s, 20, now)
			id := sessiontest.ScaleID(7)
			if err := s.Create(ctx, id, sessiontest.ScaleRecord(7, now, now.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
			if r, ok := s.LoadCached(id); ok {
				t.Errorf("LoadCached of a record held compact = %v, true; want a miss", r)
			}
			if r, ok := s.LoadCached(sessiontest.ScaleID(99999)); ok {
				t.Errorf("LoadCached of a missing record = %v, true", r)
			}
			loaded, err := s.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if r, ok := s.LoadCached(id); !ok || r != loaded {
					t.Fatalf("LoadCached after Load = %p, %v; want the record Load returned (%p)", r, ok, loaded)
				}
				if _, err := s.Sweep(ctx); err != nil {
					t.Fatal(err)
				}
				checkForm(t, s, id, true)
			}
		})
	}
}
