package pgstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// testURL returns HALLPASS_TEST_POSTGRES_URL, or skips the test.
func testURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("HALLPASS_TEST_POSTGRES_URL")
	if url == "" {
		tb.Skip("HALLPASS_TEST_POSTGRES_URL not set; skipping PostgreSQL store tests")
	}
	return url
}

// testSchema returns the name of a fresh schema, which is dropped when
// the test ends.
func testSchema(tb testing.TB, url string) string {
	tb.Helper()
	schema := "hallpass_test_" + strings.ToLower(rand.Text()[:12])
	tb.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("cleanup: connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("cleanup: drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// mustOpen opens a database in a fresh schema, without a background
// sweep, and closes it when the test ends.
func mustOpen(tb testing.TB, now func() time.Time) *pgstore.DB {
	tb.Helper()
	url := testURL(tb)
	db, err := pgstore.Open(tb.Context(), url, pgstore.Options{Schema: testSchema(tb, url), Now: now, SweepInterval: -1})
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestSessionStore(t *testing.T) {
	testURL(t)
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		return mustOpen(t, clock.Now).Sessions()
	})
}

func TestSweepInBatches(t *testing.T) {
	clock := sessiontest.NewClock()
	db := mustOpen(t, clock.Now)
	s := db.Sessions()
	ctx := t.Context()
	now := clock.Now()
	const expired, live = 23, 4
	for i := range expired + live {
		exp := now.Add(time.Minute)
		if i >= expired {
			exp = now.Add(time.Hour)
		}
		rec := &session.Record{UserID: "u", CreatedAt: now, LastSeen: now, Expiry: exp}
		if err := s.Create(ctx, fmt.Sprintf("id-%03d", i), rec); err != nil {
			t.Fatalf("Create = %v", err)
		}
	}
	clock.Advance(time.Minute)
	n, statements, err := s.SweepInBatches(ctx, 5)
	if err != nil || n != expired {
		t.Fatalf("sweep in batches of 5 = %d, %v; want %d, nil", n, err, expired)
	}
	if want := expired/5 + 1; statements != want {
		t.Errorf("sweep of %d rows in batches of 5 ran %d statements, want %d", expired, statements, want)
	}
	var rows int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM hallpass_sessions`).Scan(&rows); err != nil || rows != live {
		t.Errorf("after the sweep, %d rows (err %v), want %d", rows, err, live)
	}
}

func TestBackgroundSweep(t *testing.T) {
	url := testURL(t)
	clock := sessiontest.NewClock()
	db, err := pgstore.Open(t.Context(), url, pgstore.Options{Schema: testSchema(t, url), Now: clock.Now, SweepInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer db.Close()
	now := clock.Now()
	rec := &session.Record{CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Minute)}
	if err := db.Sessions().Create(t.Context(), "id", rec); err != nil {
		t.Fatalf("Create = %v", err)
	}
	clock.Advance(time.Minute)
	for deadline := time.Now().Add(5 * time.Second); ; {
		var rows int
		if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM hallpass_sessions`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not delete an expired row within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

// versions returns the migration versions recorded in schema.
func versions(t *testing.T, db *pgstore.DB) []int {
	t.Helper()
	rows, err := db.Pool().Query(t.Context(), `SELECT version FROM hallpass_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read hallpass_schema_migrations: %v", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("read hallpass_schema_migrations: %v", err)
	}
	return vs
}

func TestMigrationsIdempotent(t *testing.T) {
	url := testURL(t)
	schema := testSchema(t, url)
	opts := pgstore.Options{Schema: schema, SweepInterval: -1}
	db, err := pgstore.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("first Open = %v", err)
	}
	now := time.Now()
	rec := &session.Record{UserID: "u", Values: map[string][]byte{"k": []byte("v")}, CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}
	if err := db.Sessions().Create(t.Context(), "kept", rec); err != nil {
		t.Fatalf("Create = %v", err)
	}
	db.Close()

	db, err = pgstore.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("second Open = %v", err)
	}
	defer db.Close()
	if got, want := versions(t, db), pgstore.Migrations(); !slices.Equal(got, want) {
		t.Errorf("after two Opens, versions recorded = %v, want %v", got, want)
	}
	if got, err := db.Sessions().Load(t.Context(), "kept"); err != nil || string(got.Values["k"]) != "v" {
		t.Errorf("after reopening, Load = %v, %v; want the record created before", got, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	url := testURL(t)
	opts := pgstore.Options{Schema: testSchema(t, url), SweepInterval: -1}
	db, err := pgstore.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	next := slices.Max(pgstore.Migrations()) + 1
	_, err = db.Pool().Exec(t.Context(), `INSERT INTO hallpass_schema_migrations (version, applied_at) VALUES ($1, now())`, next)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if db, err := pgstore.Open(t.Context(), url, opts); err == nil || !strings.Contains(err.Error(), "newer") {
		if err == nil {
			db.Close()
		}
		t.Errorf("Open of a database at schema version %d = %v, want an error saying it is newer", next, err)
	}
}

func TestMigrationsConcurrent(t *testing.T) {
	url := testURL(t)
	schema := testSchema(t, url)
	const n = 4
	dbs := make([]*pgstore.DB, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = pgstore.Open(t.Context(), url, pgstore.Options{Schema: schema, SweepInterval: -1})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open %d = %v", i, err)
		} else {
			defer dbs[i].Close()
		}
	}
	if t.Failed() {
		return
	}
	if got, want := versions(t, dbs[0]), pgstore.Migrations(); !slices.Equal(got, want) {
		t.Errorf("after %d concurrent Opens, versions recorded = %v, want %v", n, got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, url := range []string{"postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1", "postgres://u:hunter2@[bad/db"} {
		db, err := pgstore.Open(ctx, url, pgstore.Options{SweepInterval: -1})
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) = nil error, want an error", url)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) = %v, which shows the password", url, err)
		}
	}
}

func TestPing(t *testing.T) {
	db := mustOpen(t, time.Now)
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("DB.Ping = %v, want nil", err)
	}
	if err := db.Sessions().Ping(t.Context()); err != nil {
		t.Errorf("SessionStore.Ping = %v, want nil", err)
	}
}

// go test -run '^$' -bench . ./pgstore/ (with HALLPASS_TEST_POSTGRES_URL)
func BenchmarkSessionStore(b *testing.B) {
	sessiontest.Benchmark(b, mustOpen(b, time.Now).Sessions())
}
