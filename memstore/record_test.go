package memstore

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hallpass/hallpass/session"
)

// TestSharedPrefix checks IDs whose digests share their first 8 bytes,
// the key of the records map: each keeps its own record, through every
// operation, whichever of them came first.
func TestSharedPrefix(t *testing.T) {
	ctx := t.Context()
	now := time.Now()
	var ids []string
	for i := range 3 {
		var k key
		copy(k[:8], "samepref")
		k[31] = byte(i)
		ids = append(ids, base64.RawURLEncoding.EncodeToString(k[:]))
	}
	s := NewSessionStore(SessionOptions{SweepInterval: -1})
	defer s.Close()
	rec := func(i int) *session.Record {
		return &session.Record{UserID: "u", Values: map[string][]byte{"n": []byte(fmt.Sprint(i))},
			CreatedAt: now.Add(time.Duration(i) * time.Second), LastSeen: now, Expiry: now.Add(time.Hour)}
	}
	check := func(step string, want map[string]int) {
		t.Helper()
		for _, id := range ids {
			r, err := s.Load(ctx, id)
			n, ok := want[id]
			switch {
			case !ok && err == nil:
				t.Errorf("%s: Load(%s) found a record, want none", step, id)
			case ok && err != nil:
				t.Errorf("%s: Load(%s) = %v, want record %d", step, id, err, n)
			case ok && string(r.Values["n"]) != fmt.Sprint(n):
				t.Errorf("%s: Load(%s) = record %s, want %d", step, id, r.Values["n"], n)
			}
		}
		if got := s.Len(); got != len(want) {
			t.Errorf("%s: Len() = %d, want %d", step, got, len(want))
		}
		list, err := s.ListByUser(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, in := range list {
			listed = append(listed, in.ID)
		}
		var wantIDs []string
		for id := range want {
			wantIDs = append(wantIDs, id)
		}
		slices.Sort(listed)
		slices.Sort(wantIDs)
		if !slices.Equal(listed, wantIDs) {
			t.Errorf("%s: ListByUser lists %q, want %q", step, listed, wantIDs)
		}
	}
	for i, id := range ids {
		if err := s.Create(ctx, id, rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	check("created", map[string]int{ids[0]: 0, ids[1]: 1, ids[2]: 2})
	s.Delete(ctx, ids[0])
	check("first deleted", map[string]int{ids[1]: 1, ids[2]: 2})
	// ids[1] lives in others; creating it again must not store it twice.
	s.Create(ctx, ids[1], rec(4))
	check("second replaced", map[string]int{ids[1]: 4, ids[2]: 2})
	if err := s.Update(ctx, ids[2], &session.Update{Set: map[string][]byte{"n": []byte("5")}}); err != nil {
		t.Fatal(err)
	}
	check("third updated", map[string]int{ids[1]: 4, ids[2]: 5})
	if n, err := s.DeleteByUser(ctx, "u", ids[2]); n != 1 || err != nil {
		t.Errorf("DeleteByUser = %d, %v; want 1", n, err)
	}
	check("deleted by user", map[string]int{ids[2]: 5})
}

// TestInternedStringsDropped checks that the strings a shard shares
// between records (user agents, value keys) are dropped with the last
// record that uses them, however it goes: deleted, replaced, updated,
// deleted by user or swept.
func TestInternedStringsDropped(t *testing.T) {
	ctx := t.Context()
	clock := time.Now()
	s := NewSessionStore(SessionOptions{Now: func() time.Time { return clock }, SweepInterval: -1})
	defer s.Close()
	var ids []string
	for i := range 400 {
		id := session.IDOf(fmt.Appendf(nil, "token %d", i))
		if i%5 == 0 {
			id = fmt.Sprintf("odd id %d", i) // not of the form IDOf returns
		}
		ids = append(ids, id)
		rec := &session.Record{UserID: fmt.Sprint("user", i%3), UserAgent: fmt.Sprint("agent ", i%7),
			Values:    map[string][]byte{fmt.Sprint("key ", i%11): []byte("v"), "shared": nil},
			CreatedAt: clock, LastSeen: clock, Expiry: clock.Add(time.Duration(1+i%2) * time.Hour)}
		if err := s.Create(ctx, id, rec); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		switch i % 4 {
		case 0:
			s.Delete(ctx, id)
		case 1:
			s.Create(ctx, id, &session.Record{UserAgent: "replaced", Values: map[string][]byte{"new key": nil},
				CreatedAt: clock, LastSeen: clock, Expiry: clock.Add(time.Hour)})
		case 2:
			s.Update(ctx, id, &session.Update{Set: map[string][]byte{"set key": nil}, Delete: []string{"shared"}})
		}
	}
	if _, err := s.DeleteByUser(ctx, "user1"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Hour)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len() = %d after sweeping everything, want 0", n)
	}
	for i := range s.shards {
		if st := &s.shards[i].strs; len(st.slots) != 0 {
			t.Errorf("shard %d still holds %d strings with no record using them: %q", i, len(st.slots), st.strs)
		}
	}
}
