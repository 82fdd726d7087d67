package sqlitestore

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/account/accounttest"
	"github.com/hallpass/hallpass/internal/migrations"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// legacyDB builds the database at path as hallpass releases before
// migration 0005 did: migrations 0001 to n, recorded in schema_migrations,
// with foreign keys on. It returns a handle on it, closed when the test
// ends.
func legacyDB(t *testing.T, path string, n int) *sql.DB {
	t.Helper()
	ctx := t.Context()
	raw, err := sql.Open("sqlite", dsn(path, map[string][]string{"_foreign_keys": {"1"}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range schemaMigrations[:n] {
		if _, err := raw.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("legacy migration %s: %v", m.Name, err)
		}
		if _, err := raw.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, m.Version); err != nil {
			t.Fatal(err)
		}
	}
	return raw
}

// A database that hallpass 0001-0003 created and filled migrates to the
// latest schema with every row intact, under the hallpass_ names, and
// keeps issuing new IDs.
func TestMigrateLegacyDatabase(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "legacy.db")
	raw := legacyDB(t, path, 3)
	now := time.Now().Truncate(time.Millisecond)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO users (id, username, email, roles, password_hash, disabled, created_at, password_changed_at)
		VALUES (1, 'ada', 'ada@example.com', '["admin"]', 'hash-ada', 0, ?, ?), (2, 'bob', 'bob@example.com', '[]', 'hash-bob', 1, ?, ?)`,
		ms(now), ms(now), ms(now), ms(now))
	exec(`INSERT INTO sessions (id, user_id, data, created_at, last_seen, expires_at, ip, user_agent)
		VALUES ('sid', '1', ?, ?, ?, ?, '192.0.2.1', 'Firefox')`,
		session.EncodeValues(map[string][]byte{"k": []byte("v")}), ms(now), ms(now), ms(now.Add(time.Hour)))
	exec(`INSERT INTO remember_tokens (selector, validator_hash, prev_hash, rotated_at, user_id, created_at, expires_at)
		VALUES ('sel', ?, ?, ?, 1, ?, ?)`, digest("v2"), digest("v1"), ms(now), ms(now), ms(now.Add(time.Hour)))
	for i, name := range []string{"ci", "gone", "deploy"} {
		exec(`INSERT INTO api_tokens (user_id, name, hash, created_at, scopes) VALUES (1, ?, ?, ?, ?)`,
			name, digest(name), ms(now.Add(time.Duration(i)*time.Second)), "read")
	}
	exec(`DELETE FROM api_tokens WHERE name = 'deploy'`) // ID 3 was issued: it must not be issued again
	raw.Close()

	db := mustOpenPath(t, path, Options{SweepInterval: -1})
	var tables []string
	rows, err := db.read.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type IN ('table', 'index')
		AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	for _, name := range tables {
		if !strings.HasPrefix(name, "hallpass_") {
			t.Errorf("after the upgrade, the database has %q; every table and index should be named hallpass_*", name)
		}
	}
	var versions []int
	rows, err = db.read.QueryContext(ctx, `SELECT version FROM hallpass_schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		rows.Scan(&v)
		versions = append(versions, v)
	}
	rows.Close()
	want := make([]int, len(schemaMigrations))
	for i, m := range schemaMigrations {
		want[i] = m.Version
	}
	if !slices.Equal(versions, want) {
		t.Errorf("after the upgrade, hallpass_schema_migrations = %v, want %v", versions, want)
	}
	for _, table := range []string{"hallpass_remember_tokens", "hallpass_api_tokens"} {
		var fks int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_list(?)`, table).Scan(&fks); err != nil || fks != 0 {
			t.Errorf("%s has %d foreign keys, %v; want none", table, fks, err)
		}
	}

	a := db.Accounts()
	ada, err := a.UserByUsername(ctx, "ADA")
	if err != nil || ada.ID != "1" || ada.Email != "ada@example.com" || !slices.Equal(ada.Roles, []string{"admin"}) ||
		ada.PasswordHash != "hash-ada" || !ada.CreatedAt.Equal(now) {
		t.Errorf("after the upgrade, ada = %+v, %v", ada, err)
	}
	if bob, err := a.UserByID(ctx, "2"); err != nil || !bob.Disabled {
		t.Errorf("after the upgrade, bob = %+v, %v; want disabled", bob, err)
	}
	r, err := db.Sessions().Load(ctx, "sid")
	if err != nil || r.UserID != "1" || string(r.Values["k"]) != "v" || r.IP != "192.0.2.1" || r.UserAgent != "Firefox" {
		t.Errorf("after the upgrade, the session = %+v, %v", r, err)
	}
	if list, err := db.Sessions().ListByUser(ctx, "1"); err != nil || len(list) != 1 {
		t.Errorf("after the upgrade, ListByUser(1) = %v, %v; want the session", list, err)
	}
	rt, err := a.RememberBySelector(ctx, "sel", now)
	if err != nil || rt.UserID != "1" || string(rt.ValidatorHash) != string(digest("v2")) ||
		string(rt.PrevHash) != string(digest("v1")) || !rt.RotatedAt.Equal(now) {
		t.Errorf("after the upgrade, the remember-me token = %+v, %v", rt, err)
	}
	toks, err := a.ListTokens(ctx, "1")
	if err != nil || len(toks) != 2 || toks[0].Name != "gone" || toks[1].Name != "ci" || !slices.Equal(toks[1].Scopes, []string{"read"}) {
		t.Errorf("after the upgrade, ListTokens(1) = %v, %v; want gone and ci", toks, err)
	}
	if n, err := a.DeleteTokensByUser(ctx, "1"); err != nil || n != 2 {
		t.Errorf("after the upgrade, DeleteTokensByUser(1) = %d, %v; want 2", n, err)
	}
	fresh := &account.APIToken{UserID: "1", Name: "new", Hash: digest("new"), CreatedAt: now}
	if err := a.CreateToken(ctx, fresh); err != nil || fresh.ID != "4" {
		t.Errorf("after the upgrade, CreateToken assigned ID %q, %v; want 4 (IDs 1-3 were issued)", fresh.ID, err)
	}
	if u := mustCreateUser(t, a, "cy"); u.ID != "3" {
		t.Errorf("after the upgrade, CreateUser assigned ID %q, want 3", u.ID)
	}
	if n, err := a.DeleteRememberByUser(ctx, "1"); err != nil || n != 1 {
		t.Errorf("after the upgrade, DeleteRememberByUser(1) = %d, %v; want 1", n, err)
	}
}

// schemaOf describes the tables and indexes of the database behind db:
// columns (name, type, not null, default, primary key), indexes (name,
// uniqueness, columns, partial condition), foreign keys, AUTOINCREMENT.
func schemaOf(t *testing.T, db *sql.DB) []string {
	t.Helper()
	ctx := t.Context()
	query := func(q string, args ...any) [][]string {
		t.Helper()
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
			}
			out = append(out, row)
		}
		return out
	}
	var desc []string
	for _, tbl := range query(`SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`) {
		name := tbl[0]
		desc = append(desc, fmt.Sprintf("table %s strict=%v autoincrement=%v", name,
			strings.HasSuffix(strings.TrimSpace(tbl[1]), "STRICT"), strings.Contains(tbl[1], "AUTOINCREMENT")))
		for _, c := range query(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_xinfo(?) ORDER BY cid`, name) {
			desc = append(desc, fmt.Sprintf("  column %q", c))
		}
		for _, fk := range query(`SELECT "table", "from", "to" FROM pragma_foreign_key_list(?)`, name) {
			desc = append(desc, fmt.Sprintf("  foreign key %q", fk))
		}
		for _, ix := range query(`SELECT l.name, l."unique", l.origin, l.partial, COALESCE(s.sql, '')
			FROM pragma_index_list(?) l LEFT JOIN sqlite_schema s ON s.name = l.name ORDER BY l.name`, name) {
			idx := ix[0]
			if strings.HasPrefix(idx, "sqlite_autoindex_") {
				idx = "autoindex" // named after the table's name at creation
			}
			var cols []string
			for _, c := range query(`SELECT COALESCE(name, '<expr>'), coll, "desc" FROM pragma_index_xinfo(?) WHERE key ORDER BY seqno`, ix[0]) {
				cols = append(cols, strings.Join(c, " "))
			}
			desc = append(desc, fmt.Sprintf("  index %s unique=%s origin=%s partial=%s cols=%q sql=%q",
				idx, ix[1], ix[2], ix[3], cols, strings.Join(strings.Fields(ix[4]), " ")))
		}
	}
	return desc
}

// The baseline that a new database gets is the schema the migrations
// build step by step from a database of the first release.
func TestBaselineMatchesMigrations(t *testing.T) {
	if latest := migrations.Latest(schemaMigrations); schemaBaseline.Version != latest {
		t.Fatalf("baseline %s is version %d, the latest migration %d: write the baseline of the new schema",
			schemaBaseline.Name, schemaBaseline.Version, latest)
	}
	fresh, _ := mustOpen(t, Options{SweepInterval: -1})
	oldPath := filepath.Join(t.TempDir(), "old.db")
	legacyDB(t, oldPath, 1).Close()
	migrated := mustOpenPath(t, oldPath, Options{SweepInterval: -1})
	got, want := schemaOf(t, fresh.read), schemaOf(t, migrated.read)
	if !slices.Equal(got, want) {
		t.Errorf("the baseline schema differs from the migrated one:\nbaseline:\n%s\nmigrated:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Database files hallpass creates are readable by their owner only.
func TestFileModes(t *testing.T) {
	db, path := mustOpen(t, Options{SweepInterval: -1})
	if err := db.Sessions().Create(t.Context(), "id", record("u", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat %s: %v", p, err)
			continue
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), mode)
		}
	}
}

// appDB opens a database as an app would, with its own users and sessions
// tables and a schema_migrations of another tool, closed when the test
// ends.
func appDB(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE users (id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, pw TEXT NOT NULL)`,
		`CREATE TABLE sessions (token TEXT PRIMARY KEY)`,
		`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, dirty INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (20240101120000, 0)`,
		`INSERT INTO users VALUES ('u-1', 'ada', 'x')`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// mustNew keeps hallpass's tables in the app's db, until the test ends.
func mustNew(t *testing.T, db *sql.DB, opts Options) *DB {
	t.Helper()
	if opts.SweepInterval == 0 {
		opts.SweepInterval = -1
	}
	d, err := New(t.Context(), db, opts)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestNewSessionStore(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
		return mustNew(t, appDB(t), Options{Now: clock.Now}).Sessions()
	})
}

func TestNewAccountStore(t *testing.T) {
	accounttest.Run(t, func(t *testing.T) accounttest.Stores {
		s := mustNew(t, appDB(t), Options{}).Accounts()
		return accounttest.Stores{Users: s, Remember: s, Tokens: s}
	})
}

// New leaves the app's own tables, and another tool's schema_migrations,
// as they were, and Close leaves the app's handle open.
func TestNewKeepsAppTables(t *testing.T) {
	ctx := t.Context()
	db := appDB(t)
	d := mustNew(t, db, Options{})
	if err := d.Sessions().Create(ctx, "sid", record("u-1", time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	var login string
	if err := db.QueryRowContext(ctx, `SELECT login FROM users WHERE id = 'u-1'`).Scan(&login); err != nil || login != "ada" {
		t.Errorf("after New and Close, the app's user = %q, %v; want ada", login, err)
	}
	var version int64
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_migrations`).Scan(&version); err != nil || version != 20240101120000 {
		t.Errorf("after New, the app's schema_migrations = %d, %v; want it untouched", version, err)
	}
	// Opening again finds the schema up to date and the data kept.
	d = mustNew(t, db, Options{})
	if _, err := d.Sessions().Load(ctx, "sid"); err != nil {
		t.Errorf("after New again, Load = %v, want the session", err)
	}
}

func TestNewRejectsNil(t *testing.T) {
	if _, err := New(t.Context(), nil, Options{}); err == nil {
		t.Error("New(nil) succeeded, want an error")
	}
}
