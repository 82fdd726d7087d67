package session

import (
	"context"
	"testing"
	"time"
)

// deadlineProbe is a Store whose Load records whether its context had a
// deadline.
type deadlineProbe struct {
	Store
	hadDeadline bool
}

func (p *deadlineProbe) Load(ctx context.Context, id string) (*Record, error) {
	_, p.hadDeadline = ctx.Deadline()
	return nil, ErrNotFound
}

type inProcessProbe struct{ *deadlineProbe }

func (inProcessProbe) InProcess() {}

// wrapped is a store wrapper (as metrics are) that can be seen through.
type wrapped struct{ Store }

func (w wrapped) Unwrap() Store { return w.Store }

func TestDeadlinePerCall(t *testing.T) {
	tests := []struct {
		name  string
		store func(*deadlineProbe) Store
		want  bool // a deadline on the call
	}{
		{"a store", func(p *deadlineProbe) Store { return p }, true},
		{"an in-process store", func(p *deadlineProbe) Store { return inProcessProbe{p} }, false},
		{"an in-process store behind a wrapper", func(p *deadlineProbe) Store { return wrapped{inProcessProbe{p}} }, false},
		{"a store behind a wrapper", func(p *deadlineProbe) Store { return wrapped{p} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &deadlineProbe{}
			ds := newDeadlineStore(tt.store(p), time.Second)
			ds.Load(context.Background(), "x")
			if p.hadDeadline != tt.want {
				t.Errorf("Load had a deadline: %v, want %v", p.hadDeadline, tt.want)
			}
		})
	}
}

// cachedProbe is a deadlineProbe that holds one record in a cache.
type cachedProbe struct {
	*deadlineProbe
	id  string
	rec *Record
}

func (c cachedProbe) LoadCached(id string) (*Record, bool) {
	if id == c.id {
		return c.rec, true
	}
	return nil, false
}

// TestCachedLoaderFirst checks that a CachedLoader answers from its cache
// without a Load (and so without a timer), seen through a wrapper, and
// that a miss goes on to Load with the deadline.
func TestCachedLoaderFirst(t *testing.T) {
	rec := &Record{UserID: "u"}
	for _, wrap := range []bool{false, true} {
		p := &deadlineProbe{}
		var s Store = cachedProbe{deadlineProbe: p, id: "hit", rec: rec}
		if wrap {
			s = wrapped{s}
		}
		ds := newDeadlineStore(s, time.Second)
		if got, err := ds.Load(context.Background(), "hit"); got != rec || err != nil || p.hadDeadline {
			t.Errorf("wrapped=%v: Load(hit) = %v, %v (store's Load called: %v), want the cached record", wrap, got, err, p.hadDeadline)
		}
		if _, err := ds.Load(context.Background(), "miss"); err != ErrNotFound || !p.hadDeadline {
			t.Errorf("wrapped=%v: Load(miss) = %v, deadline %v; want the store's ErrNotFound, with a deadline", wrap, err, p.hadDeadline)
		}
	}
}

// TestCachedRecordExpiryChecked checks that the Manager checks the expiry
// of a record a CachedLoader returns, which LoadCached need not do.
func TestCachedRecordExpiryChecked(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name   string
		expiry time.Time
		live   bool
	}{
		{"expired", now.Add(-time.Second), false},
		{"expiring now", now, false},
		{"live", now.Add(time.Minute), true},
	} {
		rec := &Record{UserID: "u", CreatedAt: now, LastSeen: now, Expiry: tt.expiry}
		m, err := New(Config{Store: cachedProbe{deadlineProbe: &deadlineProbe{}, id: "hit", rec: rec},
			Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.load(context.Background(), "hit", now)
		if err != nil || (got != nil) != tt.live {
			t.Errorf("%s: load = %v, %v; want live %v", tt.name, got, err, tt.live)
		}
	}
}
