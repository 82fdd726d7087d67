package memcachestore

import (
	"errors"
	"testing"
	"time"

	"github.com/hallpass/hallpass/session"
)

func TestRecordRoundTrip(t *testing.T) {
	now := time.Now()
	want := &session.Record{UserID: "u\x00ü", Values: map[string][]byte{"": {}, "k": {0, 1, 2}},
		CreatedAt: now.Add(-time.Hour), LastSeen: now, Expiry: now.Add(time.Hour), IP: "::1", UserAgent: "ua"}
	got, err := decodeRecord(encodeRecord(want))
	if err != nil {
		t.Fatalf("decodeRecord(encodeRecord(r)) = %v", err)
	}
	if got.UserID != want.UserID || got.IP != want.IP || got.UserAgent != want.UserAgent ||
		!got.CreatedAt.Equal(want.CreatedAt.Truncate(time.Microsecond)) || !got.LastSeen.Equal(want.LastSeen.Truncate(time.Microsecond)) ||
		!got.Expiry.Equal(want.Expiry.Truncate(time.Microsecond)) || len(got.Values) != 2 || string(got.Values["k"]) != "\x00\x01\x02" {
		t.Errorf("decodeRecord(encodeRecord(%+v)) = %+v", want, got)
	}
	if zero, err := decodeRecord(encodeRecord(&session.Record{})); err != nil || !zero.CreatedAt.IsZero() || !zero.Expiry.IsZero() {
		t.Errorf("round trip of a zero Record = %+v, %v; want zero times", zero, err)
	}
}

func TestDecodeCorrupt(t *testing.T) {
	now := time.Now()
	good := encodeRecord(&session.Record{UserID: "u", Values: map[string][]byte{"k": []byte("v")}, CreatedAt: now, LastSeen: now, Expiry: now})
	inputs := [][]byte{nil, {}, {0}, {2}, append([]byte{}, good[:len(good)-1]...), append(append([]byte{}, good...), 0)}
	for n := range len(good) - 1 {
		inputs = append(inputs, good[:n])
	}
	for _, in := range inputs {
		if r, err := decodeRecord(in); !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("decodeRecord(%q) = %+v, %v; want ErrCorrupt", in, r, err)
		}
	}
	// A truncated index either fails to decode or, cut between entries,
	// decodes to the entries before the cut.
	entries := []indexEntry{{id: "a", expiry: now}, {id: "bb", expiry: now.Add(time.Hour)}}
	idx := encodeIndex(entries)
	for n := range len(idx) {
		got, err := decodeIndex(idx[:n])
		if err != nil {
			if !errors.Is(err, session.ErrCorrupt) {
				t.Errorf("decodeIndex(%q) = %v, want ErrCorrupt", idx[:n], err)
			}
			continue
		}
		if len(got) >= len(entries) || (len(got) == 1 && got[0].id != "a") {
			t.Errorf("decodeIndex(%q) = %v, want an error or the first entries", idx[:n], got)
		}
	}
}
