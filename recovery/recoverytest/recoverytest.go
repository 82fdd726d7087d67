// Package recoverytest checks a recovery.Store (emailed link tokens and
// verified addresses) against every promise of its contract, and an
// account store's email lookups (recovery.Users, recovery.UsersByEmail,
// recovery.EmailSetter).
//
// A store's own test is a few lines:
//
//	func TestRecoveryStore(t *testing.T) {
//		recoverytest.Run(t, func(t *testing.T) recovery.Store { return mystore.NewRecoveryStore() })
//	}
//
// Each call of newStore must return a fresh, empty store. Times are
// compared at millisecond precision. Run it with -race.
package recoverytest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/recovery"
)

// Run checks the stores newStore returns, one subtest per promise.
func Run(t *testing.T, newStore func(t *testing.T) recovery.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s recovery.Store)
	}{
		{"CreateAndFind", testCreateAndFind},
		{"Unknown", testUnknown},
		{"PurposeSeparates", testPurposeSeparates},
		{"TakeOnce", testTakeOnce},
		{"TakeExpired", testTakeExpired},
		{"TakeConcurrent", testTakeConcurrent},
		{"DeleteByUser", testDeleteByUser},
		{"DeleteExpired", testDeleteExpired},
		{"VerifiedEmail", testVerifiedEmail},
		{"CancelledContext", testCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// base is a fixed moment the tokens are made at.
var base = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newToken(p recovery.Purpose, user string, created time.Time, ttl time.Duration) *recovery.Token {
	var secret [32]byte
	rand.Read(secret[:])
	sum := sha256.Sum256(secret[:])
	return &recovery.Token{Hash: sum[:], Purpose: p, UserID: user, Email: "u" + user + "@example.com",
		CreatedAt: created, ExpiresAt: created.Add(ttl)}
}

func create(t *testing.T, s recovery.Store, tok *recovery.Token) {
	t.Helper()
	if err := s.CreateEmailToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateEmailToken: %v", err)
	}
}

func sameTime(a, b time.Time) bool {
	d := a.Sub(b)
	return d < time.Millisecond && d > -time.Millisecond
}

func checkToken(t *testing.T, got, want *recovery.Token) {
	t.Helper()
	if string(got.Hash) != string(want.Hash) || got.Purpose != want.Purpose || got.UserID != want.UserID || got.Email != want.Email ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.ExpiresAt, want.ExpiresAt) {
		t.Errorf("token = %+v, want %+v", got, want)
	}
}

func testCreateAndFind(t *testing.T, s recovery.Store) {
	want := newToken(recovery.Reset, "7", base.Add(123*time.Millisecond), time.Hour)
	create(t, s, want)
	got, err := s.EmailToken(t.Context(), want.Hash, recovery.Reset)
	if err != nil {
		t.Fatalf("EmailToken: %v", err)
	}
	checkToken(t, got, want)
	// Finding does not use it up.
	if _, err := s.EmailToken(t.Context(), want.Hash, recovery.Reset); err != nil {
		t.Errorf("second EmailToken: %v, want the token again", err)
	}
}

func testUnknown(t *testing.T, s recovery.Store) {
	sum := sha256.Sum256([]byte("never stored"))
	if _, err := s.EmailToken(t.Context(), sum[:], recovery.Reset); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("EmailToken(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.TakeEmailToken(t.Context(), sum[:], recovery.Reset); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("TakeEmailToken(unknown) = %v, want ErrNotFound", err)
	}
}

func testPurposeSeparates(t *testing.T, s recovery.Store) {
	tok := newToken(recovery.Verify, "7", base, 24*time.Hour)
	create(t, s, tok)
	if _, err := s.EmailToken(t.Context(), tok.Hash, recovery.Reset); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("EmailToken(verify token as reset) = %v, want ErrNotFound", err)
	}
	if _, err := s.TakeEmailToken(t.Context(), tok.Hash, recovery.Reset); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("TakeEmailToken(verify token as reset) = %v, want ErrNotFound", err)
	}
	if _, err := s.TakeEmailToken(t.Context(), tok.Hash, recovery.Verify); err != nil {
		t.Errorf("TakeEmailToken(verify) after a wrong-purpose take = %v, want the token", err)
	}
}

func testTakeOnce(t *testing.T, s recovery.Store) {
	tok := newToken(recovery.Reset, "7", base, time.Hour)
	create(t, s, tok)
	got, err := s.TakeEmailToken(t.Context(), tok.Hash, recovery.Reset)
	if err != nil {
		t.Fatalf("TakeEmailToken: %v", err)
	}
	checkToken(t, got, tok)
	if _, err := s.TakeEmailToken(t.Context(), tok.Hash, recovery.Reset); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("second TakeEmailToken = %v, want ErrNotFound", err)
	}
	if _, err := s.EmailToken(t.Context(), tok.Hash, recovery.Reset); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("EmailToken after take = %v, want ErrNotFound", err)
	}
}

func testTakeExpired(t *testing.T, s recovery.Store) {
	tok := newToken(recovery.Reset, "7", base.Add(-2*time.Hour), time.Hour)
	create(t, s, tok)
	got, err := s.TakeEmailToken(t.Context(), tok.Hash, recovery.Reset)
	if err != nil {
		t.Fatalf("TakeEmailToken(expired) = %v, want the token (the caller judges expiry)", err)
	}
	if !got.Expired(base) {
		t.Errorf("Expired(%v) = false for a token expiring at %v", base, got.ExpiresAt)
	}
}

func testTakeConcurrent(t *testing.T, s recovery.Store) {
	tok := newToken(recovery.Reset, "7", base, time.Hour)
	create(t, s, tok)
	var wins, misses atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := s.TakeEmailToken(context.Background(), tok.Hash, recovery.Reset)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, account.ErrNotFound):
				misses.Add(1)
			default:
				t.Errorf("TakeEmailToken: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || misses.Load() != 15 {
		t.Errorf("16 concurrent takes: %d got the token, %d ErrNotFound; want 1 and 15", wins.Load(), misses.Load())
	}
}

func testDeleteByUser(t *testing.T, s recovery.Store) {
	a1, a2 := newToken(recovery.Reset, "1", base, time.Hour), newToken(recovery.Reset, "1", base, time.Hour)
	av := newToken(recovery.Verify, "1", base, time.Hour)
	b := newToken(recovery.Reset, "2", base, time.Hour)
	for _, tok := range []*recovery.Token{a1, a2, av, b} {
		create(t, s, tok)
	}
	n, err := s.DeleteEmailTokens(t.Context(), "1", recovery.Reset)
	if err != nil || n != 2 {
		t.Fatalf("DeleteEmailTokens = %d, %v; want 2, nil", n, err)
	}
	for _, tok := range []*recovery.Token{a1, a2} {
		if _, err := s.EmailToken(t.Context(), tok.Hash, recovery.Reset); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("deleted token found: %v", err)
		}
	}
	for _, tok := range []*recovery.Token{av, b} {
		if _, err := s.EmailToken(t.Context(), tok.Hash, tok.Purpose); err != nil {
			t.Errorf("token of another purpose or user: %v, want it kept", err)
		}
	}
	if n, err := s.DeleteEmailTokens(t.Context(), "3", recovery.Reset); err != nil || n != 0 {
		t.Errorf("DeleteEmailTokens(user with none) = %d, %v; want 0, nil", n, err)
	}
}

func testDeleteExpired(t *testing.T, s recovery.Store) {
	old := newToken(recovery.Reset, "1", base.Add(-2*time.Hour), time.Hour)
	edge := newToken(recovery.Verify, "1", base.Add(-time.Hour), time.Hour) // expires exactly at base
	live := newToken(recovery.Reset, "1", base, time.Hour)
	for _, tok := range []*recovery.Token{old, edge, live} {
		create(t, s, tok)
	}
	n, err := s.DeleteExpiredEmailTokens(t.Context(), base)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredEmailTokens = %d, %v; want 2, nil", n, err)
	}
	if _, err := s.EmailToken(t.Context(), live.Hash, recovery.Reset); err != nil {
		t.Errorf("live token: %v, want it kept", err)
	}
}

func testVerifiedEmail(t *testing.T, s recovery.Store) {
	ctx := t.Context()
	if _, _, err := s.VerifiedEmail(ctx, "1"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("VerifiedEmail(none) = %v, want ErrNotFound", err)
	}
	if err := s.SetVerifiedEmail(ctx, "1", "ada@example.com", base); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVerifiedEmail(ctx, "2", "bob@example.com", base); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVerifiedEmail(ctx, "1", "ada@new.example.com", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	email, at, err := s.VerifiedEmail(ctx, "1")
	if err != nil || email != "ada@new.example.com" || !sameTime(at, base.Add(time.Minute)) {
		t.Errorf("VerifiedEmail = %q, %v, %v; want the replacement", email, at, err)
	}
	if email, _, _ := s.VerifiedEmail(ctx, "2"); email != "bob@example.com" {
		t.Errorf("other user's address = %q", email)
	}
}

func testCancelled(t *testing.T, s recovery.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tok := newToken(recovery.Reset, "1", base, time.Hour)
	if err := s.CreateEmailToken(ctx, tok); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateEmailToken(cancelled) = %v, want context.Canceled", err)
	}
	if _, err := s.TakeEmailToken(ctx, tok.Hash, recovery.Reset); !errors.Is(err, context.Canceled) {
		t.Errorf("TakeEmailToken(cancelled) = %v, want context.Canceled", err)
	}
}

// UserStore is an account store with the lookups and changes by address
// that the flows use.
type UserStore interface {
	account.Store
	recovery.Users
	recovery.EmailSetter
}

// RunUsers checks UserByEmail and SetEmail of the account stores newStore
// returns (fresh and empty each call), and UsersByEmail when they
// implement recovery.UsersByEmail: the subtest says it is skipped when
// they do not.
func RunUsers(t *testing.T, newStore func(t *testing.T) UserStore) {
	t.Helper()
	t.Run("UserByEmail", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		mk := func(name, email string) *account.User {
			u := &account.User{Username: name, Email: email, PasswordHash: "x"}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			return u
		}
		ada := mk("ada", "Ada@Example.com")
		mk("ada2", "ada@example.com")
		mk("bob", "bob@example.com")
		for _, q := range []string{"ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"} {
			u, err := s.UserByEmail(ctx, q)
			if err != nil || u.ID != ada.ID {
				t.Errorf("UserByEmail(%q) = %v, %v; want the oldest, %s", q, u, err, ada.ID)
			}
		}
		if _, err := s.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("UserByEmail(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("UsersByEmail", func(t *testing.T) {
		s := newStore(t)
		all, ok := s.(recovery.UsersByEmail)
		if !ok {
			t.Skipf("%T does not implement recovery.UsersByEmail: a reset request mails only the oldest account at an address", s)
		}
		testUsersByEmail(t, s, all)
	})
	t.Run("SetEmail", func(t *testing.T) {
		s := newStore(t)
		ctx := t.Context()
		u := &account.User{Username: "ada", Email: "ada@example.com", PasswordHash: "x"}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetEmail(ctx, u.ID, "ada@new.example.com"); err != nil {
			t.Fatal(err)
		}
		got, err := s.UserByID(ctx, u.ID)
		if err != nil || got.Email != "ada@new.example.com" {
			t.Errorf("after SetEmail: %v, %v", got, err)
		}
		if _, err := s.UserByEmail(ctx, "ada@example.com"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("old address still finds the user: %v", err)
		}
		if err := s.SetEmail(ctx, "999999", "x@example.com"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("SetEmail(unknown id) = %v, want ErrNotFound", err)
		}
	})
}

func testUsersByEmail(t *testing.T, s UserStore, all recovery.UsersByEmail) {
	ctx := t.Context()
	mk := func(name, email string) *account.User {
		t.Helper()
		u := &account.User{Username: name, Email: email, PasswordHash: "x"}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	ids := func(users []*account.User) []string {
		list := make([]string, len(users))
		for i, u := range users {
			list[i] = u.ID
		}
		return list
	}
	mk("noaddress", "")
	shared := []*account.User{mk("ada", "Ada@Example.com")}
	bob := mk("bob", "bob@example.com")
	shared = append(shared, mk("ada2", "ada@example.com"), mk("ada3", "ADA@EXAMPLE.COM"))
	disabled := mk("ada4", "aDa@example.com")
	if err := s.SetDisabled(ctx, disabled.ID, true); err != nil {
		t.Fatal(err)
	}
	shared = append(shared, disabled)
	many := make([]*account.User, recovery.MaxUsersByEmail+2)
	for i := range many {
		many[i] = mk(fmt.Sprintf("many%d", i), "many@example.com")
	}

	tests := []struct {
		email string
		want  []*account.User
	}{
		{"ada@example.com", shared},
		{"ADA@EXAMPLE.COM", shared},
		{"Ada@Example.com", shared},
		{"bob@example.com", []*account.User{bob}},
		{"nobody@example.com", nil},
		{"ada@example.co", nil},
		{"", nil}, // not the accounts without an address
		{"many@example.com", many[:recovery.MaxUsersByEmail]},
	}
	for _, tt := range tests {
		got, err := all.UsersByEmail(ctx, tt.email)
		if err != nil {
			t.Errorf("UsersByEmail(%q) = %v, want nil error", tt.email, err)
			continue
		}
		if g, w := ids(got), ids(tt.want); !slices.Equal(g, w) {
			t.Errorf("UsersByEmail(%q) = IDs %q, want %q (oldest first, at most %d)", tt.email, g, w, recovery.MaxUsersByEmail)
		}
	}
	got, _ := all.UsersByEmail(ctx, "ada@example.com")
	if len(got) == len(shared) {
		for i, u := range got {
			w := shared[i]
			if u.Username != w.Username || u.Email != w.Email || u.Disabled != (w == disabled) {
				t.Errorf("UsersByEmail: user %d = %+v, want %s <%s>, disabled %v", i, u, w.Username, w.Email, w == disabled)
			}
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := all.UsersByEmail(cctx, "ada@example.com"); !errors.Is(err, context.Canceled) {
		t.Errorf("UsersByEmail(cancelled) = %v, want context.Canceled", err)
	}
}
