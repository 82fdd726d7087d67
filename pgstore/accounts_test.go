package pgstore_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/account/accounttest"
	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

func TestAccountStore(t *testing.T) {
	testURL(t)
	accounttest.Run(t, func(t *testing.T) accounttest.Stores {
		s := mustOpen(t, time.Now).Accounts()
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

// Two processes that open the same database and schema see one set of
// accounts.
func TestAccountsSharedBetweenOpens(t *testing.T) {
	url := testURL(t)
	ctx := t.Context()
	opts := pgstore.Options{Schema: testSchema(t, url), SweepInterval: -1}
	var dbs [2]*pgstore.DB
	for i := range dbs {
		db, err := pgstore.Open(ctx, url, opts)
		if err != nil {
			t.Fatalf("Open #%d = %v", i+1, err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	a, b := dbs[0].Accounts(), dbs[1].Accounts()

	now := time.Now()
	u := mustCreateUser(t, a, "Ada")
	rt := &account.RememberToken{Selector: "sel", ValidatorHash: digest("v"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateRemember(ctx, rt); err != nil {
		t.Fatal(err)
	}
	at := &account.APIToken{UserID: u.ID, Name: "ci", Hash: digest("secret"), CreatedAt: now}
	if err := a.CreateToken(ctx, at); err != nil {
		t.Fatal(err)
	}

	if got, err := b.UserByUsername(ctx, "ADA"); err != nil || got.ID != u.ID || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf(`second DB: UserByUsername("ADA") = %+v, %v; want %+v`, got, err, u)
	}
	if got, err := b.UserByID(ctx, u.ID); err != nil || got.Username != "Ada" {
		t.Errorf("second DB: UserByID(%q) = %+v, %v; want Ada", u.ID, got, err)
	}
	if got, err := b.RememberBySelector(ctx, "sel", now); err != nil || got.UserID != u.ID {
		t.Errorf("second DB: RememberBySelector = %+v, %v; want the token of user %q", got, err, u.ID)
	}
	if got, err := b.TokenByHash(ctx, digest("secret"), now); err != nil || got.ID != at.ID {
		t.Errorf("second DB: TokenByHash = %+v, %v; want token %q", got, err, at.ID)
	}
	if err := b.CreateUser(ctx, &account.User{Username: "ada"}); !errors.Is(err, account.ErrUsernameTaken) {
		t.Errorf(`second DB: CreateUser("ada") after the first created "Ada" = %v, want ErrUsernameTaken`, err)
	}
	// A change through one is seen through the other at once.
	if err := b.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if got, err := a.UserByID(ctx, u.ID); err != nil || !got.Disabled {
		t.Errorf("first DB: after the second disabled the user, UserByID = %+v, %v; want Disabled", got, err)
	}
	if v := mustCreateUser(t, b, "Bob"); v.ID == u.ID {
		t.Errorf("second DB: CreateUser reused ID %q", v.ID)
	}
}

// Tokens are kept for any user ID, whoever keeps the user (an app's own
// table): nothing refers to hallpass_users. An ID that PostgreSQL cannot
// hold as text is refused.
func TestTokensOfAnyUser(t *testing.T) {
	ctx := t.Context()
	a := mustOpen(t, time.Now).Accounts()
	u := mustCreateUser(t, a, "Ada")
	now := time.Now()
	for _, uid := range []string{"abc", "01", "999", "99999999999999999999", "7f3c2a9e-6b1d-4c0e-9a51-2f8d6b7e4c10"} {
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
	for _, uid := range []string{"a\x00b", "\xff"} {
		rt := &account.RememberToken{Selector: "bad" + uid, ValidatorHash: digest(uid), UserID: uid, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := a.CreateRemember(ctx, rt); !errors.Is(err, account.ErrInvalid) {
			t.Errorf("CreateRemember for user %q = %v, want ErrInvalid", uid, err)
		}
		if n, err := a.DeleteTokensByUser(ctx, uid); err != nil || n != 0 {
			t.Errorf("DeleteTokensByUser(%q) = %d, %v; want 0, nil", uid, n, err)
		}
	}
	// A selector or digest in use is an error, not a replacement, and not
	// mistaken for a taken username.
	rt := &account.RememberToken{Selector: "s", ValidatorHash: digest("1"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateRemember(ctx, rt); err != nil {
		t.Fatal(err)
	}
	rt2 := *rt
	rt2.ValidatorHash = digest("2")
	if err := a.CreateRemember(ctx, &rt2); err == nil || errors.Is(err, account.ErrUsernameTaken) {
		t.Errorf("CreateRemember with a selector in use = %v, want an error other than ErrUsernameTaken", err)
	}
	if got, err := a.RememberBySelector(ctx, "s", now); err != nil || string(got.ValidatorHash) != string(digest("1")) {
		t.Errorf("after CreateRemember with a selector in use, RememberBySelector = %+v, %v; want the first token", got, err)
	}
	at := &account.APIToken{UserID: u.ID, Hash: digest("h"), CreatedAt: now}
	if err := a.CreateToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	at2 := *at
	if err := a.CreateToken(ctx, &at2); err == nil || errors.Is(err, account.ErrUsernameTaken) {
		t.Errorf("CreateToken with a digest in use = %v, want an error other than ErrUsernameTaken", err)
	}
	// A selector PostgreSQL cannot hold as text is refused, not stored.
	bad := &account.RememberToken{Selector: "a\x00b", ValidatorHash: digest("3"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := a.CreateRemember(ctx, bad); err == nil {
		t.Error("CreateRemember with a NUL byte in the selector succeeded, want an error")
	}
}

func TestListUsersBadAfter(t *testing.T) {
	a := mustOpen(t, time.Now).Accounts()
	for _, after := range []string{"abc", "01", "-1", "0"} {
		if _, err := a.ListUsers(t.Context(), account.ListOptions{After: after}); !errors.Is(err, account.ErrInvalid) {
			t.Errorf("ListUsers(After %q) = %v, want ErrInvalid", after, err)
		}
	}
}

// An import larger than one pipelined round trip is still all or nothing,
// and reports the first user that fails, whatever the cause.
func TestImportLarge(t *testing.T) {
	ctx := t.Context()
	a := mustOpen(t, time.Now).Accounts()
	existing := mustCreateUser(t, a, "taken")
	batch := func(n int) []*account.User {
		users := make([]*account.User, n)
		for i := range users {
			users[i] = &account.User{Username: fmt.Sprintf("user-%04d", i)}
		}
		return users
	}

	tests := []struct {
		name  string
		edit  func(users []*account.User)
		index int
		want  error
	}{
		{"taken late", func(us []*account.User) { us[1100].Username = "TAKEN" }, 1100, account.ErrUsernameTaken},
		{"duplicate across round trips", func(us []*account.User) { us[1150].Username = "USER-0003" }, 1150, account.ErrUsernameTaken},
		{"nil", func(us []*account.User) { us[700] = nil }, 700, account.ErrInvalid},
		{"taken before nil", func(us []*account.User) { us[5].Username = "Taken"; us[3] = nil; us[1] = nil }, 1, account.ErrInvalid},
		{"nil after taken", func(us []*account.User) { us[2].Username = "Taken"; us[3] = nil }, 2, account.ErrUsernameTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users := batch(1201)
			tt.edit(users)
			err := a.ImportUsers(ctx, users)
			var ie *account.ImportError
			if !errors.As(err, &ie) || ie.Index != tt.index || !errors.Is(err, tt.want) {
				t.Fatalf("ImportUsers = %v, want an *ImportError at index %d wrapping %v", err, tt.index, tt.want)
			}
			for i, u := range users {
				if u != nil && u.ID != "" {
					t.Fatalf("after a failed ImportUsers, users[%d].ID = %q, want it left empty", i, u.ID)
				}
			}
			if list, err := a.ListUsers(ctx, account.ListOptions{}); err != nil || len(list) != 1 || list[0].ID != existing.ID {
				t.Errorf("after a failed ImportUsers, ListUsers = %d users, %v; want only %q", len(list), err, existing.Username)
			}
		})
	}

	users := batch(1201)
	if err := a.ImportUsers(ctx, users); err != nil {
		t.Fatalf("ImportUsers of %d users = %v", len(users), err)
	}
	var got []*account.User
	for after := existing.ID; ; {
		page, err := a.ListUsers(ctx, account.ListOptions{After: after, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].ID
	}
	if len(got) != len(users) {
		t.Fatalf("after ImportUsers of %d users, ListUsers lists %d after the existing one", len(users), len(got))
	}
	for i := range got {
		if got[i].ID != users[i].ID || got[i].Username != users[i].Username {
			t.Fatalf("ListUsers()[%d] = {%q, %q}, want {%q, %q} (import order)", i, got[i].ID, got[i].Username, users[i].ID, users[i].Username)
		}
	}
}

// accountRows returns the number of rows of the remember-me and API token
// tables.
func accountRows(t *testing.T, db *pgstore.DB) (remember, tokens int) {
	t.Helper()
	if err := db.Pool().QueryRow(t.Context(),
		`SELECT (SELECT count(*) FROM hallpass_remember_tokens), (SELECT count(*) FROM hallpass_api_tokens)`).Scan(&remember, &tokens); err != nil {
		t.Fatal(err)
	}
	return remember, tokens
}

// tokensToSweep creates, at the clock's now, remember-me tokens that
// expire in a minute and in twice ExpiredTokenRetention, and API tokens
// that never expire, expire in a minute, and expire in a minute plus
// ExpiredTokenRetention.
func tokensToSweep(t *testing.T, db *pgstore.DB, clock *sessiontest.Clock) {
	t.Helper()
	ctx := t.Context()
	a := db.Accounts()
	u := mustCreateUser(t, a, "Ada")
	now := clock.Now()
	for i, ttl := range []time.Duration{time.Minute, 2 * account.ExpiredTokenRetention} {
		rt := &account.RememberToken{Selector: fmt.Sprint("sel", i), ValidatorHash: digest("v"), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
		if err := a.CreateRemember(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	for i, exp := range []time.Time{{}, now.Add(time.Minute), now.Add(time.Minute + account.ExpiredTokenRetention)} {
		at := &account.APIToken{UserID: u.ID, Hash: digest(fmt.Sprint("token", i)), CreatedAt: now, ExpiresAt: exp}
		if err := a.CreateToken(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAccountSweep(t *testing.T) {
	clock := sessiontest.NewClock()
	db := mustOpen(t, clock.Now)
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
	url := testURL(t)
	clock := sessiontest.NewClock()
	db, err := pgstore.Open(t.Context(), url, pgstore.Options{Schema: testSchema(t, url), Now: clock.Now, SweepInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	tokensToSweep(t, db, clock)
	clock.Advance(100 * account.ExpiredTokenRetention)
	for deadline := time.Now().Add(5 * time.Second); ; {
		r, k := accountRows(t, db)
		if r == 0 && k == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background sweep left %d remember-me and %d API tokens after 5s, want 0 and 1", r, k)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A database that the first release of pgstore created, with sessions
// only, gains the account tables when opened and keeps its sessions.
func TestUpgradeFromSessionsOnly(t *testing.T) {
	url := testURL(t)
	ctx := t.Context()
	opts := pgstore.Options{Schema: testSchema(t, url), SweepInterval: -1}
	db, err := pgstore.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	// Take the schema back to version 1.
	_, err = db.Pool().Exec(ctx, `DROP TABLE hallpass_identities, hallpass_email_tokens, hallpass_verified_emails, hallpass_totp, hallpass_recovery_codes, hallpass_passkeys;
		DROP TABLE hallpass_api_tokens, hallpass_remember_tokens, hallpass_users;
		DELETE FROM hallpass_schema_migrations WHERE version > 1`)
	if err != nil {
		db.Close()
		t.Fatalf("downgrade to version 1: %v", err)
	}
	now := time.Now()
	rec := &session.Record{UserID: "1", CreatedAt: now, LastSeen: now, Expiry: now.Add(time.Hour)}
	if err := db.Sessions().Create(ctx, "old", rec); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = pgstore.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open of a version 1 database = %v", err)
	}
	defer db.Close()
	if got, want := versions(t, db), pgstore.Migrations(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after upgrade, versions recorded = %v, want %v", got, want)
	}
	if _, err := db.Sessions().Load(ctx, "old"); err != nil {
		t.Errorf("after upgrade, Load(old) = %v, want the session", err)
	}
	u := mustCreateUser(t, db.Accounts(), "Ada")
	if _, err := db.Accounts().UserByID(ctx, u.ID); err != nil {
		t.Errorf("after upgrade, UserByID = %v", err)
	}
}

func BenchmarkUserByID(b *testing.B) {
	a := mustOpen(b, time.Now).Accounts()
	ctx := b.Context()
	u := &account.User{Username: "bench", Email: "bench@example.com", Roles: []string{"admin"}, PasswordHash: "$argon2id$bench"}
	if err := a.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := a.UserByID(ctx, u.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// API tokens made before scopes existed keep read and write, not admin.
func TestUpgradeTokenScopes(t *testing.T) {
	url := testURL(t)
	ctx := t.Context()
	opts := pgstore.Options{Schema: testSchema(t, url), SweepInterval: -1}
	db, err := pgstore.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	u := mustCreateUser(t, db.Accounts(), "Ada")
	// Take the schema back to version 2, with a token made then.
	_, err = db.Pool().Exec(ctx, `ALTER TABLE hallpass_api_tokens DROP COLUMN scopes;
		DROP TABLE hallpass_identities, hallpass_email_tokens, hallpass_verified_emails, hallpass_totp, hallpass_recovery_codes, hallpass_passkeys; DROP INDEX hallpass_users_email;
		DELETE FROM hallpass_schema_migrations WHERE version > 2`)
	if err == nil {
		_, err = db.Pool().Exec(ctx, `INSERT INTO hallpass_api_tokens (user_id, name, hash, created_at)
			VALUES ($1, 'old', $2, now())`, u.ID, digest("old secret"))
	}
	db.Close()
	if err != nil {
		t.Fatalf("downgrade to version 2: %v", err)
	}

	db, err = pgstore.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open of a version 2 database = %v", err)
	}
	defer db.Close()
	got, err := db.Accounts().TokenByHash(ctx, digest("old secret"), time.Now())
	if err != nil {
		t.Fatalf("after upgrade, TokenByHash = %v", err)
	}
	if want := []string{"read", "write"}; !slices.Equal(got.Scopes, want) {
		t.Errorf("after upgrade, the old token's Scopes = %q, want %q", got.Scopes, want)
	}
}
