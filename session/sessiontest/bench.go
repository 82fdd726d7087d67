package sessiontest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/hallpass/hallpass/session"
)

// Benchmark measures a store's hot paths with the same workload for every
// engine, so their figures compare side by side:
//
//   - Load: a read-only request (one Load);
//   - Update: a request that changes a value (Load, then an Update that
//     sets a key and refreshes the timestamps);
//   - Renew: a login's token renewal (Create of the new ID, Delete of the
//     old one).
//
// store must be empty and use the real clock. A store's test file calls it
// from one benchmark function:
//
//	func BenchmarkSessionStore(b *testing.B) { sessiontest.Benchmark(b, newStore(b)) }
func Benchmark(b *testing.B, store session.Store) {
	b.Run("Load", func(b *testing.B) {
		ctx, id := ctxAndStored(b, store, benchRecord())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := store.Load(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Loads from 16 goroutines per core, as concurrent requests make them:
	// the figure a store that batches round trips improves.
	b.Run("LoadParallel", func(b *testing.B) {
		ctx, id := ctxAndStored(b, store, benchRecord())
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := store.Load(ctx, id); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Update", func(b *testing.B) {
		ctx, id := ctxAndStored(b, store, benchRecord())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := store.Load(ctx, id); err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			u := &session.Update{Set: map[string][]byte{"flash": []byte(`["saved"]`)}, LastSeen: now, Expiry: now.Add(time.Hour)}
			if err := store.Update(ctx, id, u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Renew", func(b *testing.B) {
		rec := benchRecord()
		ctx, id := ctxAndStored(b, store, rec)
		b.ReportAllocs()
		for b.Loop() {
			next := session.IDOf([]byte(rand.Text()))
			if err := store.Create(ctx, next, rec); err != nil {
				b.Fatal(err)
			}
			if err := store.Delete(ctx, id); err != nil {
				b.Fatal(err)
			}
			id = next
		}
	})
}

// ctxAndStored returns b's context and the ID of a new session that holds
// rec in store.
func ctxAndStored(b *testing.B, store session.Store, rec *session.Record) (context.Context, string) {
	b.Helper()
	id := session.IDOf([]byte(rand.Text()))
	if err := store.Create(b.Context(), id, rec); err != nil {
		b.Fatal(err)
	}
	return b.Context(), id
}

// benchRecord returns a typical record: a user's session with a few small
// values.
func benchRecord() *session.Record {
	now := time.Now()
	return &session.Record{
		UserID:    "bench-user",
		Values:    map[string][]byte{"_user": []byte(`{"id":"42","u":"ada","r":["admin"]}`), "_csrf": []byte(`"0123456789abcdef0123456789abcdef"`), "n": []byte("7")},
		CreatedAt: now,
		LastSeen:  now,
		Expiry:    now.Add(time.Hour),
		IP:        "192.0.2.1",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	}
}
