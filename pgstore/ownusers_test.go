package pgstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/account/accounttest"
	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// appPool returns a pool as an app has it: on a fresh schema (its
// search_path) that already holds the app's own users and sessions
// tables. It is closed when the test ends.
func appPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := testURL(t)
	schema := testSchema(t, url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(t.Context(), `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()+`;
		CREATE TABLE users (id uuid PRIMARY KEY, login text NOT NULL UNIQUE, pw text NOT NULL);
		CREATE TABLE sessions (token text PRIMARY KEY);
		INSERT INTO users VALUES ('7f3c2a9e-6b1d-4c0e-9a51-2f8d6b7e4c10', 'ada', 'x')`); err != nil {
		t.Fatal(err)
	}
	return pool
}

// mustNew keeps hallpass's tables in the app's pool, until the test ends.
func mustNew(t *testing.T, pool *pgxpool.Pool, now func() time.Time) *pgstore.DB {
	t.Helper()
	db, err := pgstore.New(t.Context(), pool, pgstore.Options{Now: now, SweepInterval: -1})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewSessionStore(t *testing.T) {
	testURL(t)
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		return mustNew(t, appPool(t), clock.Now).Sessions()
	})
}

func TestNewAccountStore(t *testing.T) {
	testURL(t)
	accounttest.Run(t, func(t *testing.T) accounttest.Stores {
		s := mustNew(t, appPool(t), time.Now).Accounts()
		return accounttest.Stores{Users: s, Remember: s, Tokens: s}
	})
}

// New leaves the app's own tables as they were, and Close leaves the
// app's pool open.
func TestNewKeepsAppTables(t *testing.T) {
	ctx := t.Context()
	pool := appPool(t)
	if _, err := pgstore.New(ctx, pool, pgstore.Options{Schema: "elsewhere"}); err == nil {
		t.Error("New with Options.Schema succeeded, want an error saying to set search_path")
	}
	if _, err := pgstore.New(ctx, nil, pgstore.Options{}); err == nil {
		t.Error("New(nil) succeeded, want an error")
	}
	db := mustNew(t, pool, time.Now)
	uid := "7f3c2a9e-6b1d-4c0e-9a51-2f8d6b7e4c10"
	now := time.Now()
	if err := db.Sessions().Create(ctx, "sid", &session.Record{UserID: uid, CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Accounts().CreateToken(ctx, &account.APIToken{UserID: uid, Name: "ci", Hash: digest("s"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var login string
	if err := pool.QueryRow(ctx, `SELECT login FROM users WHERE id = $1`, uid).Scan(&login); err != nil || login != "ada" {
		t.Errorf("after New and Close, the app's user = %q, %v; want ada (and the pool open)", login, err)
	}
	db = mustNew(t, pool, time.Now)
	if list, err := db.Accounts().ListTokens(ctx, uid); err != nil || len(list) != 1 {
		t.Errorf("after New again, ListTokens = %v, %v; want the token", list, err)
	}
}

// A database that pgstore 0001-0003 created and filled migrates to the
// latest schema with every row intact; the token tables lose their
// foreign keys and keep user IDs as text.
func TestMigrateLegacyDatabase(t *testing.T) {
	ctx := t.Context()
	pool := appPool(t)
	if err := pgstore.MigrateTo(ctx, pool, 3); err != nil {
		t.Fatalf("migrate to 0003 = %v", err)
	}
	now := time.Now().Truncate(time.Microsecond)
	for _, q := range []string{
		`INSERT INTO hallpass_users (id, username, email, roles, password_hash, created_at, password_changed_at)
			VALUES (1, 'ada', 'ada@example.com', '{admin}', 'hash-ada', $1, $1)`,
		`INSERT INTO hallpass_remember_tokens (selector, validator_hash, user_id, created_at, expires_at)
			VALUES ('sel', '\x01', 1, $1, $1::timestamptz + interval '1 hour')`,
		`INSERT INTO hallpass_api_tokens (user_id, name, hash, created_at, scopes) VALUES (1, 'ci', '\x02', $1, '{read}')`,
	} {
		if _, err := pool.Exec(ctx, q, now); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := pool.Exec(ctx, `SELECT setval('hallpass_users_id_seq', 1)`); err != nil {
		t.Fatal(err)
	}
	db := mustNew(t, pool, time.Now)

	var versions []int
	rows, err := pool.Query(ctx, `SELECT version FROM hallpass_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil || !slices.Equal(versions, pgstore.Migrations()) {
		t.Errorf("after the upgrade, versions = %v, %v; want %v", versions, err, pgstore.Migrations())
	}
	var fks int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE contype = 'f'
		AND connamespace = current_schema()::regnamespace`).Scan(&fks); err != nil || fks != 0 {
		t.Errorf("after the upgrade, %d foreign keys, %v; want none", fks, err)
	}
	for _, table := range []string{"hallpass_remember_tokens", "hallpass_api_tokens"} {
		var typ string
		if err := pool.QueryRow(ctx, `SELECT data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'user_id'`, table).Scan(&typ); err != nil || typ != "text" {
			t.Errorf("after the upgrade, %s.user_id is %q, %v; want text", table, typ, err)
		}
	}
	a := db.Accounts()
	if u, err := a.UserByUsername(ctx, "ADA"); err != nil || u.ID != "1" || !slices.Equal(u.Roles, []string{"admin"}) || !u.CreatedAt.Equal(now) {
		t.Errorf("after the upgrade, ada = %+v, %v", u, err)
	}
	if rt, err := a.RememberBySelector(ctx, "sel", now); err != nil || rt.UserID != "1" {
		t.Errorf("after the upgrade, the remember-me token = %+v, %v; want user 1's", rt, err)
	}
	toks, err := a.ListTokens(ctx, "1")
	if err != nil || len(toks) != 1 || toks[0].Name != "ci" || !slices.Equal(toks[0].Scopes, []string{"read"}) {
		t.Errorf("after the upgrade, ListTokens(1) = %v, %v; want ci", toks, err)
	}
	// Deleting the user still deletes its tokens, with no cascade.
	if err := a.DeleteUser(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if rt, err := a.RememberBySelector(ctx, "sel", now); err == nil {
		t.Errorf("after DeleteUser, RememberBySelector = %+v, want ErrNotFound", rt)
	}
	if toks, err := a.ListTokens(ctx, "1"); err != nil || len(toks) != 0 {
		t.Errorf("after DeleteUser, ListTokens = %v, %v; want none", toks, err)
	}
}
