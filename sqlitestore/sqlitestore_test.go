package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/migrations"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// mustOpen opens a database in a fresh temporary directory, closed when
// the test ends.
func mustOpen(tb testing.TB, opts Options) (*DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "hallpass.db")
	db := mustOpenPath(tb, path, opts)
	return db, path
}

func mustOpenPath(tb testing.TB, path string, opts Options) *DB {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := Open(tb.Context(), path, opts)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close = %v", err)
		}
	})
	return db
}

func TestSessionStore(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		db, _ := mustOpen(t, Options{Now: clock.Now, SweepInterval: -1})
		return db.Sessions()
	})
}

// record returns a record created at now that expires after ttl.
func record(userID string, now time.Time, ttl time.Duration) *session.Record {
	return &session.Record{UserID: userID, Values: map[string][]byte{"k": []byte("v")},
		CreatedAt: now, LastSeen: now, Expiry: now.Add(ttl)}
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "a dir?#with odd%20chars", "hallpass.db")
	if _, err := Open(ctx, path, Options{SweepInterval: -1}); err == nil {
		t.Fatalf("Open(%q) in a missing directory succeeded, want an error", path)
	}
	path = filepath.Join(t.TempDir(), "odd ?#%20 name.db")
	db := mustOpenPath(t, path, Options{SweepInterval: -1})
	if _, err := os.Stat(path); err != nil {
		t.Errorf("after Open(%q): %v", path, err)
	}
	now := time.Now()
	if err := db.Sessions().Create(ctx, "id", record("u", now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	// Reopening applies no migration twice and keeps the data.
	for i := range 2 {
		db = mustOpenPath(t, path, Options{SweepInterval: -1})
		var versions, max int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*), max(version) FROM hallpass_schema_migrations`).Scan(&versions, &max); err != nil {
			t.Fatal(err)
		}
		if versions != len(schemaMigrations) || max != migrations.Latest(schemaMigrations) {
			t.Errorf("after reopening %d times, schema_migrations has %d rows up to version %d, want %d up to %d", i+1, versions, max, len(schemaMigrations), migrations.Latest(schemaMigrations))
		}
		if _, err := db.Sessions().Load(ctx, "id"); err != nil {
			t.Errorf("after reopening, Load = %v, want the record", err)
		}
		db.Close()
	}

	// A database from a later hallpass is refused.
	raw, err := sql.Open("sqlite", dsn(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `INSERT INTO hallpass_schema_migrations VALUES (?, 0)`, migrations.Latest(schemaMigrations)+1); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(ctx, path, Options{SweepInterval: -1}); err == nil || !strings.Contains(err.Error(), "newer") {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open of a database with a newer schema = %v, want an error saying so", err)
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file::memory:?cache=shared", "file:x.db"} {
		if db, err := Open(t.Context(), path, Options{SweepInterval: -1}); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	if len(schemaMigrations) == 0 || schemaMigrations[0].Version != 1 {
		t.Fatalf("embedded migrations = %v, want versions from 1", schemaMigrations)
	}
}

// createMany inserts n records expiring at exp in one transaction.
func createMany(t *testing.T, db *DB, prefix string, n int, now time.Time, ttl time.Duration) {
	t.Helper()
	tx, err := db.write.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	data := session.EncodeValues(nil)
	for i := range n {
		if _, err := tx.ExecContext(t.Context(), `INSERT INTO hallpass_sessions (id, data, created_at, last_seen, expires_at)
			VALUES (?, ?, ?, ?, ?)`, fmt.Sprintf("%s-%d", prefix, i), data, ms(now), ms(now), ms(now.Add(ttl))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.read.QueryRowContext(t.Context(), `SELECT count(*) FROM hallpass_sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSweepBatches(t *testing.T) {
	clock := sessiontest.NewClock()
	db, _ := mustOpen(t, Options{Now: clock.Now, SweepInterval: -1})
	createMany(t, db, "old", 1200, clock.Now(), time.Minute)
	createMany(t, db, "new", 10, clock.Now(), time.Hour)
	clock.Advance(time.Minute)

	n, statements, err := db.Sessions().sweep(t.Context(), sweepBatch)
	if err != nil || n != 1200 || statements != 3 {
		t.Errorf("sweep(%d) = %d rows in %d statements, %v; want 1200 rows in 3 statements", sweepBatch, n, statements, err)
	}
	if got := count(t, db); got != 10 {
		t.Errorf("after sweep, %d rows left, want 10", got)
	}
}

func TestBackgroundSweep(t *testing.T) {
	clock := sessiontest.NewClock()
	db, _ := mustOpen(t, Options{Now: clock.Now, SweepInterval: 10 * time.Millisecond})
	createMany(t, db, "old", 1200, clock.Now(), time.Minute)
	createMany(t, db, "new", 10, clock.Now(), time.Hour)
	clock.Advance(time.Minute)

	deadline := time.Now().Add(30 * time.Second)
	for count(t, db) != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("background sweep left %d rows after 30s, want 10", count(t, db))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := db.Sessions().Load(t.Context(), "new-0"); err != nil {
		t.Errorf(`Load("new-0") = %v, want the live record`, err)
	}
}

func TestCorruptData(t *testing.T) {
	ctx := t.Context()
	db, _ := mustOpen(t, Options{SweepInterval: -1})
	s := db.Sessions()
	if err := s.Create(ctx, "id", record("u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{{}, {0xff}, {1, 5, 1}, []byte("{\"json\":1}")} {
		if _, err := db.write.ExecContext(ctx, `UPDATE hallpass_sessions SET data = ? WHERE id = 'id'`, data); err != nil {
			t.Fatal(err)
		}
		if r, err := s.Load(ctx, "id"); !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("Load of a row with data %x = %v, %v; want ErrCorrupt", data, r, err)
		}
		u := &session.Update{Set: map[string][]byte{"k": []byte("v2")}}
		if err := s.Update(ctx, "id", u); !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("Update of a row with data %x = %v; want ErrCorrupt", data, err)
		}
	}
}

func TestContextInterruptsWait(t *testing.T) {
	// A write that waits for the writer connection gives up with the
	// context's error.
	db, _ := mustOpen(t, Options{SweepInterval: -1})
	tx, err := db.write.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err = db.Sessions().Create(ctx, "id", record("u", time.Now(), time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Create while the writer is busy = %v, want an error wrapping DeadlineExceeded", err)
	}
}

// go test -run '^$' -bench . ./sqlitestore/
func BenchmarkSessionStore(b *testing.B) {
	db, _ := mustOpen(b, Options{SweepInterval: -1})
	sessiontest.Benchmark(b, db.Sessions())
}

// TestLoadCacheSeesOtherWriters checks that the read cache of Load never
// hides a change committed by another connection to the same file: a
// second DB (a second server) or a bare *sql.DB (the CLI, a script).
func TestLoadCacheSeesOtherWriters(t *testing.T) {
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	other := mustOpenPath(t, path, Options{SweepInterval: -1})
	bare, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	s := db.Sessions()
	now := time.Now()

	load := func(step, id, want string) {
		t.Helper()
		r, err := s.Load(ctx, id)
		switch {
		case want == "" && !errors.Is(err, session.ErrNotFound):
			t.Errorf("%s: Load(%s) = %v, want ErrNotFound", step, id, err)
		case want != "" && err != nil:
			t.Errorf("%s: Load(%s) = %v, want k=%s", step, id, err, want)
		case want != "" && string(r.Values["k"]) != want:
			t.Errorf("%s: Load(%s) has k=%s, want k=%s", step, id, r.Values["k"], want)
		}
	}
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		if err := s.Create(ctx, id, record("u", now, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		load("created", id, "v")
		load("cached", id, "v")
	}
	if n := len(s.cache.records); n != 3 {
		t.Fatalf("the cache holds %d records after loading 3 twice, want 3", n)
	}

	if err := other.Sessions().Update(ctx, "a", &session.Update{Set: map[string][]byte{"k": []byte("changed")}}); err != nil {
		t.Fatal(err)
	}
	load("changed by a second DB", "a", "changed")
	if err := other.Sessions().Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	load("deleted by a second DB", "b", "")
	load("cached again", "c", "v")
	if _, err := bare.ExecContext(ctx, `DELETE FROM hallpass_sessions WHERE id = 'c'`); err != nil {
		t.Fatal(err)
	}
	load("deleted by a bare connection", "c", "")
	if _, err := bare.ExecContext(ctx, `UPDATE hallpass_sessions SET expires_at = ? WHERE id = 'a'`, now.Add(-time.Minute).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	load("expired by a bare connection", "a", "")
}
