package login_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
	"github.com/hallpass/hallpass/sqlitestore"
)

// profile is the app's own data about a user, carried in User.Extra.
type profile struct {
	DisplayName string
}

// appDB is the little an app's own user table needs of its database
// driver: database/sql for SQLite, pgx for PostgreSQL.
type appDB struct {
	queryRow func(ctx context.Context, q string, args ...any) interface{ Scan(...any) error }
	exec     func(ctx context.Context, q string, args ...any) error
	param    func(n int) string // "?" or "$n"
}

// appUsers is the account.Source an app writes for its own users table
// (its own columns, its own IDs): two queries, no other method.
type appUsers struct {
	db    appDB
	calls atomic.Int64 // UserByID calls
}

func (a *appUsers) user(ctx context.Context, where string, arg any) (*account.User, error) {
	var (
		u       account.User
		p       profile
		isAdmin bool
	)
	err := a.db.queryRow(ctx, `SELECT id, login, pw_hash, is_admin, banned, display_name FROM users WHERE `+where+` = `+a.db.param(1), arg).
		Scan(&u.ID, &u.Username, &u.PasswordHash, &isAdmin, &u.Disabled, &p.DisplayName)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if isAdmin {
		u.Roles = []string{"admin"}
	}
	u.Extra = &p
	return &u, nil
}

func (a *appUsers) UserByID(ctx context.Context, id string) (*account.User, error) {
	a.calls.Add(1)
	return a.user(ctx, "id", id)
}

func (a *appUsers) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	return a.user(ctx, "login", strings.ToLower(name))
}

// ownStores are hallpass's stores in the app's database.
type ownStores struct {
	sessions session.Store
	tokens   interface {
		account.RememberStore
		account.TokenStore
	}
	// accountRows counts the rows of hallpass's own users table, which an
	// app with its own users never fills.
	accountRows func() int
}

// sqliteApp opens an app's SQLite database holding its own users table
// and hallpass's tables (sqlitestore.New on the app's handle).
func sqliteApp(t *testing.T, clock *sessiontest.Clock) (appDB, ownStores) {
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE users (
		id           TEXT PRIMARY KEY,
		login        TEXT NOT NULL UNIQUE,
		pw_hash      TEXT NOT NULL,
		is_admin     INTEGER NOT NULL DEFAULT 0,
		banned       INTEGER NOT NULL DEFAULT 0,
		display_name TEXT NOT NULL
	)`); err != nil {
		t.Fatal(err)
	}
	hp, err := sqlitestore.New(t.Context(), db, sqlitestore.Options{Now: clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Close() })
	app := appDB{
		queryRow: func(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
			return db.QueryRowContext(ctx, q, args...)
		},
		exec: func(ctx context.Context, q string, args ...any) error {
			_, err := db.ExecContext(ctx, q, args...)
			return err
		},
		param: func(int) string { return "?" },
	}
	return app, ownStores{sessions: hp.Sessions(), tokens: hp.Accounts(), accountRows: func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM hallpass_users`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}}
}

// postgresApp does the same on PostgreSQL (pgstore.New on the app's pool),
// in a schema of its own that is dropped when the test ends.
func postgresApp(t *testing.T, clock *sessiontest.Clock) (appDB, ownStores) {
	url := os.Getenv("HALLPASS_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("HALLPASS_TEST_POSTGRES_URL not set; skipping the PostgreSQL app")
	}
	ctx := t.Context()
	schema := fmt.Sprintf("login_ownusers_%d", time.Now().UnixNano())
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		pool.Close()
	})
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+schema+`;
		CREATE TABLE users (
			id           uuid PRIMARY KEY,
			login        text NOT NULL UNIQUE,
			pw_hash      text NOT NULL,
			is_admin     boolean NOT NULL DEFAULT false,
			banned       boolean NOT NULL DEFAULT false,
			display_name text NOT NULL
		)`); err != nil {
		t.Fatal(err)
	}
	hp, err := pgstore.New(ctx, pool, pgstore.Options{Now: clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hp.Close() })
	app := appDB{
		queryRow: func(ctx context.Context, q string, args ...any) interface{ Scan(...any) error } {
			return pool.QueryRow(ctx, q, args...)
		},
		exec: func(ctx context.Context, q string, args ...any) error {
			_, err := pool.Exec(ctx, q, args...)
			return err
		},
		param: func(n int) string { return fmt.Sprintf("$%d", n) },
	}
	return app, ownStores{sessions: hp.Sessions(), tokens: hp.Accounts(), accountRows: func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM hallpass_users`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}}
}

// An app with its own users table, in the same database as hallpass's
// tables, gives login.Manager only an account.Source: its users log in,
// are remembered after their session ends, use API tokens, carry the
// app's own fields, and are logged out at once when the app bans or
// deletes them or calls RevokeUser. hallpass's users table stays empty.
func TestOwnUserTable(t *testing.T) {
	for name, open := range map[string]func(*testing.T, *sessiontest.Clock) (appDB, ownStores){
		"sqlite":   sqliteApp,
		"postgres": postgresApp,
	} {
		t.Run(name, func(t *testing.T) {
			clock := sessiontest.NewClock()
			db, stores := open(t, clock)
			testOwnUserTable(t, clock, db, stores)
		})
	}
}

func testOwnUserTable(t *testing.T, clock *sessiontest.Clock, db appDB, stores ownStores) {
	ctx := t.Context()
	e := &env{t: t, clock: clock, logs: &syncBuf{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	var err error
	e.sessions, err = session.New(session.Config{Store: stores.sessions, Keys: [][]byte{key}, Now: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e.hasher = &password.Hasher{Params: cheap}
	e.tokens = &apitoken.Service{Store: stores.tokens, Now: clock.Now}
	protector, err := csrf.New(csrf.Config{Keys: [][]byte{key}, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	users := &appUsers{db: db}
	e.lm, err = login.New(login.Config{
		Sessions:  e.sessions,
		Users:     users,
		Passwords: e.hasher,
		Remember:  stores.tokens,
		Tokens:    e.tokens,
		CSRF:      protector,
		Audit:     audit.New(logger),
		Logger:    logger,
		Now:       clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", e.mux())
	mux.Handle("GET /profile", e.lm.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := login.CurrentUser(r.Context())
		p, _ := u.Extra.(*profile)
		if p == nil {
			http.Error(w, "no profile", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s (%s) admin=%v", p.DisplayName, u.Username, u.HasRole("admin"))
	})))
	e.srv = httptest.NewServer(e.sessions.Middleware(e.lm.Middleware(e.lm.CSRF(mux))))
	t.Cleanup(e.srv.Close)

	// The app registers its user itself, in its own table.
	const uid = "7f3c2a9e-6b1d-4c0e-9a51-2f8d6b7e4c10"
	hash, err := e.hasher.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	p := db.param
	if err := db.exec(ctx, fmt.Sprintf(`INSERT INTO users (id, login, pw_hash, is_admin, display_name) VALUES (%s, %s, %s, %s, %s)`,
		p(1), p(2), p(3), p(4), p(5)), uid, "ada", hash, true, "Ada Lovelace"); err != nil {
		t.Fatal(err)
	}
	setBanned := func(banned bool) {
		t.Helper()
		if err := db.exec(ctx, fmt.Sprintf(`UPDATE users SET banned = %s WHERE id = %s`, p(1), p(2)), banned, uid); err != nil {
			t.Fatal(err)
		}
	}

	// What needs more than a Source says so.
	if _, err := e.lm.Register(ctx, "bob", "bob@example.com", "correct horse battery"); !errors.Is(err, account.ErrNotSupported) || autherr.KindOf(err) != autherr.Unsupported {
		t.Errorf("Register with an app's Source = %v (kind %q), want ErrNotSupported (kind not_supported)", err, autherr.KindOf(err))
	}
	if err := e.lm.SetDisabled(ctx, "root", uid, true); !errors.Is(err, account.ErrNotSupported) {
		t.Errorf("SetDisabled with an app's Source = %v, want ErrNotSupported", err)
	}
	if err := e.lm.DeleteUser(ctx, "root", uid); !errors.Is(err, account.ErrNotSupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("DeleteUser with an app's Source = %v, want ErrNotSupported", err)
	}
	if err := e.lm.SetPassword(ctx, "root", uid, "a new long password"); !errors.Is(err, account.ErrNotSupported) {
		t.Errorf("SetPassword with an app's Source = %v, want ErrNotSupported", err)
	}
	if err := e.lm.SetRoles(ctx, "root", uid, nil); !errors.Is(err, account.ErrNotSupported) {
		t.Errorf("SetRoles with an app's Source = %v, want ErrNotSupported", err)
	}

	// Log in with remember-me; the app's fields reach its handlers.
	b := e.browser()
	if r := b.login("ADA", "wrong password", false); r.code != http.StatusUnauthorized {
		t.Errorf("login with a wrong password: %d, want 401", r.code)
	}
	if r := b.login("ada", "correct horse battery", true); r.code != http.StatusSeeOther {
		t.Fatalf("login: %d %q, want 303", r.code, r.body)
	}
	if r := b.get("/me"); r.body != "ada session" {
		t.Fatalf("/me after login = %d %q, want ada session", r.code, r.body)
	}
	if r := b.get("/profile"); r.body != "Ada Lovelace (ada) admin=true" {
		t.Errorf("/profile = %d %q, want the app's display name", r.code, r.body)
	}
	if r := b.get("/admin"); r.code != http.StatusOK {
		t.Errorf("/admin for the app's admin: %d, want 200", r.code)
	}
	if r := b.post("/password", url.Values{"current": {"correct horse battery"}, "new": {"another horse battery"}}); r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "no SetPassword method") {
		t.Errorf("ChangePassword with an app's Source: %d %q, want the not-supported error", r.code, r.body)
	}
	// Each request asks the Source, which is what lets the app's own
	// changes take effect: one UserByID per logged-in request.
	before := users.calls.Load()
	b.get("/me")
	if n := users.calls.Load() - before; n != 1 {
		t.Errorf("a logged-in request called UserByID %d times, want 1", n)
	}

	// The session ends on the server (idle timeout); remember-me restores
	// the login, with a new session.
	clock.Advance(31 * time.Minute)
	if r := b.get("/me"); r.body != "ada remember" {
		t.Fatalf("/me after the session ended = %d %q, want ada remember", r.code, r.body)
	}
	if r := b.get("/profile"); !strings.HasPrefix(r.body, "Ada Lovelace") {
		t.Errorf("/profile after remember-me = %d %q, want the app's display name", r.code, r.body)
	}

	// An API token for the app's user.
	secret, _, err := e.tokens.Create(ctx, uid, "script", []string{"read"}, 0)
	if err != nil {
		t.Fatalf("create an API token for the app's user: %v", err)
	}
	api := e.browser()
	bearer := []string{"Authorization", "Bearer " + secret}
	if r := api.get("/profile", bearer...); r.body != "Ada Lovelace (ada) admin=true" {
		t.Errorf("/profile with a bearer token = %d %q", r.code, r.body)
	}

	// RevokeUser, as after a password change in the app's table, ends the
	// sessions of both browsers, the remember-me token and the API token.
	other := e.browser()
	other.login("ada", "correct horse battery", false)
	remembered := b.withOnly(rememberCookie)
	n, err := e.lm.RevokeUser(ctx, uid)
	if err != nil || n != 4 {
		t.Errorf("RevokeUser = %d, %v; want 4 (two sessions, a remember-me token, an API token)", n, err)
	}
	for name, c := range map[string]*client{"first browser": b, "second browser": other, "remember-me cookie": remembered} {
		if r := c.get("/me"); r.code != http.StatusSeeOther {
			t.Errorf("%s after RevokeUser: /me = %d %q, want 303 to the login form", name, r.code, r.body)
		}
	}
	if r := api.get("/api/me", bearer...); r.code != http.StatusUnauthorized {
		t.Errorf("API token after RevokeUser: %d, want 401", r.code)
	}

	// A user the app bans is logged out on the next request, API tokens
	// refused; so is one it deletes.
	b.login("ada", "correct horse battery", true)
	secret, _, err = e.tokens.Create(ctx, uid, "script", []string{"read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	bearer = []string{"Authorization", "Bearer " + secret}
	if r := b.get("/me"); r.body != "ada session" {
		t.Fatalf("/me after logging in again = %d %q", r.code, r.body)
	}
	setBanned(true)
	if r := b.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("/me of a banned user: %d %q, want 303", r.code, r.body)
	}
	if r := b.withOnly(rememberCookie).get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("remember-me of a banned user: %d %q, want 303", r.code, r.body)
	}
	if r := api.get("/api/me", bearer...); r.code != http.StatusUnauthorized {
		t.Errorf("API token of a banned user: %d, want 401", r.code)
	}
	if r := b.login("ada", "correct horse battery", false); r.code != http.StatusUnauthorized {
		t.Errorf("login of a banned user: %d, want 401", r.code)
	}
	setBanned(false)
	b.login("ada", "correct horse battery", false)
	if r := b.get("/me"); r.body != "ada session" {
		t.Fatalf("/me after the ban is lifted = %d %q", r.code, r.body)
	}
	if err := db.exec(ctx, `DELETE FROM users WHERE id = `+p(1), uid); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/me"); r.code != http.StatusSeeOther {
		t.Errorf("/me of a deleted user: %d %q, want 303", r.code, r.body)
	}
	if r := api.get("/api/me", bearer...); r.code != http.StatusUnauthorized {
		t.Errorf("API token of a deleted user: %d, want 401", r.code)
	}

	if n := stores.accountRows(); n != 0 {
		t.Errorf("hallpass_users has %d rows, want none: the app keeps its own users", n)
	}
}
