package memstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

func TestSessionStore(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		s := memstore.NewSessionStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestSessionStoreCollisions runs the conformance suite on a store whose
// hashes collide all the time.
func TestSessionStoreCollisions(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		s := memstore.NewCollidingSessionStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSessionStoreBackgroundSweep(t *testing.T) {
	clock := sessiontest.NewClock()
	s := memstore.NewSessionStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: time.Millisecond})
	defer s.Close()
	ctx := t.Context()
	now := clock.Now()
	for i, id := range []string{"soon", "later"} {
		rec := &session.Record{UserID: "u", CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Duration(i+1) * time.Hour)}
		if err := s.Create(ctx, id, rec); err != nil {
			t.Fatalf("Create(%q) = %v", id, err)
		}
	}
	clock.Advance(time.Hour)

	// The expired record is gone from the store, not only hidden: a sweep
	// run now finds nothing left to remove.
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(5 * time.Millisecond)
		if n, err := s.Sweep(ctx); err != nil {
			t.Fatalf("Sweep = %v", err)
		} else if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background sweep did not remove the expired record within 10s")
		}
	}
	if _, err := s.Load(ctx, "soon"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf(`Load("soon") = %v, want ErrNotFound`, err)
	}
	if _, err := s.Load(ctx, "later"); err != nil {
		t.Errorf(`Load("later") = %v, want a record`, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestSessionStoreLen(t *testing.T) {
	clock := sessiontest.NewClock()
	s := memstore.NewSessionStore(memstore.SessionOptions{Now: clock.Now, SweepInterval: -1})
	defer s.Close()
	ctx := t.Context()
	now := clock.Now()
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Create(ctx, id, &session.Record{Expiry: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Delete(ctx, "a")
	clock.Advance(time.Minute)
	if n := s.Len(); n != 2 {
		t.Errorf("Len() = %d, want 2 (expired records count until swept)", n)
	}
	s.Sweep(ctx)
	if n := s.Len(); n != 0 {
		t.Errorf("after Sweep, Len() = %d, want 0", n)
	}
}

// go test -run '^$' -bench . ./memstore/
func BenchmarkSessionStore(b *testing.B) {
	s := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	defer s.Close()
	sessiontest.Benchmark(b, s)
}
