package sqlitestore

import (
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/account/accounttest"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

func TestAccountStore(t *testing.T) {
	accounttest.Run(t, func(t *testing.T) accounttest.Stores {
		db, _ := mustOpen(t, Options{SweepInterval: -1})
		s := db.Accounts()
		return accounttest.Stores{Users: s, Remember: s, Tokens: s}
	})
}

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// mustCreateUser creates a user named name and returns it.
func mustCreateUser(t *testing.T, s account.Store, name string) *account.User {
	t.Helper()
	u := &account.User{Username: name, Email: name + "@example.com", PasswordHash: "$argon2id$" + name}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q) = %v", name, err)
	}
	return u
}

func TestAccountsShareFileAndSurviveReopen(t *testing.T) {
	ctx := t.Context()
	db, path := mustOpen(t, Options{SweepInterval: -1})
	now := time.Now()
	if err := db.Sessions().Create(ctx, "sid", record("1", now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	a := db.Accounts()
	u := mustCreateUser(t, a, "Ada")
	rt := &account.RememberToken{Selector: "sel", ValidatorHash: digest("v"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateRemember(ctx, rt); err != nil {
		t.Fatal(err)
	}
	at := &account.APIToken{UserID: u.ID, Name: "ci", Hash: digest("secret"), CreatedAt: now}
	if err := a.CreateToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpenPath(t, path, Options{SweepInterval: -1})
	a = db.Accounts()
	if _, err := db.Sessions().Load(ctx, "sid"); err != nil {
		t.Errorf("after reopening, Load(sid) = %v, want the session", err)
	}
	if got, err := a.UserByUsername(ctx, "ada"); err != nil || got.ID != u.ID || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf(`after reopening, UserByUsername("ada") = %+v, %v; want %+v`, got, err, u)
	}
	if got, err := a.RememberBySelector(ctx, "sel", now); err != nil || got.UserID != u.ID {
		t.Errorf("after reopening, RememberBySelector = %+v, %v; want the token of user %q", got, err, u.ID)
	}
	if got, err := a.TokenByHash(ctx, digest("secret"), now); err != nil || got.ID != at.ID {
		t.Errorf("after reopening, TokenByHash = %+v, %v; want token %q", got, err, at.ID)
	}
	// IDs are not reused after reopening.
	if v := mustCreateUser(t, a, "Bob"); v.ID == u.ID {
		t.Errorf("after reopening, CreateUser reused ID %q", v.ID)
	}
}

func TestMigrateFromSessionsOnly(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	// A database as the first release of hallpass left it: schema 0001
	// only, with a session in it.
	raw := legacyDB(t, path, 1)
	now := time.Now()
	if _, err := raw.ExecContext(ctx, `INSERT INTO sessions (id, user_id, data, created_at, last_seen, expires_at)
		VALUES ('old', 'u', ?, ?, ?, ?)`, session.EncodeValues(nil), ms(now), ms(now), ms(now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'users'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("before upgrade, users tables = %d, %v; want 0", tables, err)
	}
	raw.Close()

	db := mustOpenPath(t, path, Options{SweepInterval: -1})
	var versions int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM hallpass_schema_migrations`).Scan(&versions); err != nil || versions != len(schemaMigrations) {
		t.Errorf("after upgrade, hallpass_schema_migrations has %d rows, %v; want %d", versions, err, len(schemaMigrations))
	}
	if _, err := db.Sessions().Load(ctx, "old"); err != nil {
		t.Errorf("after upgrade, Load(old) = %v, want the session", err)
	}
	u := mustCreateUser(t, db.Accounts(), "Ada")
	if _, err := db.Accounts().UserByID(ctx, u.ID); err != nil {
		t.Errorf("after upgrade, UserByID = %v", err)
	}
}

// Tokens are kept for any user ID, whoever keeps the user (an app's own
// table): nothing refers to hallpass_users.
func TestTokensOfAnyUser(t *testing.T) {
	ctx := t.Context()
	db, _ := mustOpen(t, Options{SweepInterval: -1})
	a := db.Accounts()
	now := time.Now()
	for _, uid := range []string{"abc", "01", "999", "7f3c2a9e-6b1d-4c0e-9a51-2f8d6b7e4c10"} {
		rt := &account.RememberToken{Selector: "s" + uid, ValidatorHash: digest(uid), UserID: uid, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := a.CreateRemember(ctx, rt); err != nil {
			t.Errorf("CreateRemember for user %q = %v", uid, err)
		} else if got, err := a.RememberBySelector(ctx, rt.Selector, now); err != nil || got.UserID != uid {
			t.Errorf("RememberBySelector for user %q = %+v, %v", uid, got, err)
		}
		at := &account.APIToken{UserID: uid, Hash: digest(uid), CreatedAt: now}
		if err := a.CreateToken(ctx, at); err != nil {
			t.Errorf("CreateToken for user %q = %v", uid, err)
		} else if list, err := a.ListTokens(ctx, uid); err != nil || len(list) != 1 || list[0].UserID != uid {
			t.Errorf("ListTokens(%q) = %v, %v; want the token", uid, list, err)
		}
	}
	// A selector or digest in use is an error, not a replacement.
	rt := &account.RememberToken{Selector: "s", ValidatorHash: digest("1"), UserID: "1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateRemember(ctx, rt); err != nil {
		t.Fatal(err)
	}
	rt2 := *rt
	rt2.ValidatorHash = digest("2")
	if err := a.CreateRemember(ctx, &rt2); err == nil {
		t.Error("CreateRemember with a selector in use succeeded, want an error")
	}
	at := &account.APIToken{UserID: "1", Hash: digest("h"), CreatedAt: now}
	if err := a.CreateToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	at2 := *at
	if err := a.CreateToken(ctx, &at2); err == nil {
		t.Error("CreateToken with a digest in use succeeded, want an error")
	}
}

func TestListUsersBadAfter(t *testing.T) {
	db, _ := mustOpen(t, Options{SweepInterval: -1})
	for _, after := range []string{"abc", "01", "-1", "0"} {
		if _, err := db.Accounts().ListUsers(t.Context(), account.ListOptions{After: after}); !errors.Is(err, account.ErrInvalid) {
			t.Errorf("ListUsers(After %q) = %v, want ErrInvalid", after, err)
		}
	}
}

// accountRows returns the number of rows of hallpass_remember_tokens and
// hallpass_api_tokens.
func accountRows(t *testing.T, db *DB) (remember, tokens int) {
	t.Helper()
	if err := db.read.QueryRowContext(t.Context(),
		`SELECT (SELECT count(*) FROM hallpass_remember_tokens), (SELECT count(*) FROM hallpass_api_tokens)`).Scan(&remember, &tokens); err != nil {
		t.Fatal(err)
	}
	return remember, tokens
}

// tokensToSweep creates, at the clock's now, remember-me tokens that
// expire in a minute and in twice ExpiredTokenRetention, and API tokens that never expire,
// expire in a minute, and expire in a minute plus ExpiredTokenRetention.
func tokensToSweep(t *testing.T, db *DB, clock *sessiontest.Clock) {
	t.Helper()
	ctx := t.Context()
	a := db.Accounts()
	u := mustCreateUser(t, a, "Ada")
	now := clock.Now()
	for i, ttl := range []time.Duration{time.Minute, 2 * account.ExpiredTokenRetention} {
		rt := &account.RememberToken{Selector: string(rune('a' + i)), ValidatorHash: digest("v"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
		if err := a.CreateRemember(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	for i, exp := range []time.Time{{}, now.Add(time.Minute), now.Add(time.Minute + account.ExpiredTokenRetention)} {
		at := &account.APIToken{UserID: u.ID, Hash: digest(string(rune('a' + i))), CreatedAt: now, ExpiresAt: exp}
		if err := a.CreateToken(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAccountSweep(t *testing.T) {
	clock := sessiontest.NewClock()
	db, _ := mustOpen(t, Options{Now: clock.Now, SweepInterval: -1})
	tokensToSweep(t, db, clock)
	a := db.Accounts()

	tests := []struct {
		advance         time.Duration
		swept           int
		remember, token int // rows left
	}{
		{0, 0, 2, 3},
		{time.Minute, 1, 1, 3}, // a remember-me token expired; the API token is kept
		{account.ExpiredTokenRetention - time.Second, 0, 1, 3}, // not yet kept long enough
		{time.Second, 1, 1, 2},                                 // the API token expired ExpiredTokenRetention ago
		{account.ExpiredTokenRetention, 2, 0, 1},               // the other remember-me token, the other API token
		{100 * account.ExpiredTokenRetention, 0, 0, 1},         // the token that never expires stays
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		n, err := a.Sweep(t.Context())
		if err != nil || n != tt.swept {
			t.Errorf("after advancing %v, Sweep = %d, %v; want %d, nil", tt.advance, n, err, tt.swept)
		}
		if r, k := accountRows(t, db); r != tt.remember || k != tt.token {
			t.Errorf("after advancing %v and sweeping, %d remember-me and %d API tokens are left, want %d and %d",
				tt.advance, r, k, tt.remember, tt.token)
		}
	}
}

func TestAccountBackgroundSweep(t *testing.T) {
	clock := sessiontest.NewClock()
	db, _ := mustOpen(t, Options{Now: clock.Now, SweepInterval: 10 * time.Millisecond})
	tokensToSweep(t, db, clock)
	clock.Advance(100 * account.ExpiredTokenRetention)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, k := accountRows(t, db)
		if r == 0 && k == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background sweep left %d remember-me and %d API tokens after 30s, want 0 and 1", r, k)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// API tokens made before scopes existed keep read and write, not admin.
func TestMigrateTokenScopes(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	raw := legacyDB(t, path, 2)
	now := time.Now()
	if _, err := raw.ExecContext(ctx, `INSERT INTO users (id, username, email, password_hash, created_at, password_changed_at)
		VALUES (1, 'ada', 'ada@example.com', 'x', ?, ?)`, ms(now), ms(now)); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO api_tokens (user_id, name, hash, created_at) VALUES (1, 'old', ?, ?)`,
		digest("old secret"), ms(now)); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db := mustOpenPath(t, path, Options{SweepInterval: -1})
	got, err := db.Accounts().TokenByHash(ctx, digest("old secret"), now)
	if err != nil {
		t.Fatalf("after upgrade, TokenByHash = %v", err)
	}
	if want := []string{"read", "write"}; !slices.Equal(got.Scopes, want) {
		t.Errorf("after upgrade, the old token's Scopes = %q, want %q", got.Scopes, want)
	}
}
