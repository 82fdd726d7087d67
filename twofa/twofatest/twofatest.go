// Package twofatest checks a twofa.Store against every promise of its
// contract. A store's own test is a few lines:
//
//	func TestTwoFAStore(t *testing.T) {
//		twofatest.Run(t, func(t *testing.T) twofa.Store { return mystore.NewTwoFAStore() })
//	}
//
// Each call of newStore must return a fresh, empty store. Times are
// compared at millisecond precision. Run it with -race.
package twofatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/twofa"
)

// Run checks the stores newStore returns, one subtest per promise.
func Run(t *testing.T, newStore func(t *testing.T) twofa.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s twofa.Store)
	}{
		{"PutAndGet", testPutAndGet},
		{"Unknown", testUnknown},
		{"CreateDoesNotReplace", testCreateDoesNotReplace},
		{"CreateConcurrent", testCreateConcurrent},
		{"Delete", testDelete},
		{"TOTPStepOnlyForward", testStep},
		{"TOTPStepConcurrent", testStepConcurrent},
		{"RecoveryCodeOnce", testRecoveryOnce},
		{"RecoveryCodeConcurrent", testRecoveryConcurrent},
		{"SetRecoveryCodes", testSetRecovery},
		{"ListUsers", testList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

var base = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func h(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func factor(user string, codes ...string) *twofa.Factor {
	f := &twofa.Factor{UserID: user, Secret: []byte("sealed-" + user), EnabledAt: base, LastStep: 100}
	for _, c := range codes {
		f.RecoveryCodes = append(f.RecoveryCodes, h(c))
	}
	return f
}

func mustCreate(t *testing.T, s twofa.Store, f *twofa.Factor) {
	t.Helper()
	if err := s.CreateSecondFactor(context.Background(), f); err != nil {
		t.Fatalf("CreateSecondFactor(%q) = %v", f.UserID, err)
	}
}

func get(t *testing.T, s twofa.Store, user string) *twofa.Factor {
	t.Helper()
	f, err := s.SecondFactor(context.Background(), user)
	if err != nil {
		t.Fatalf("SecondFactor(%q) = %v", user, err)
	}
	return f
}

func sameCodes(a, b [][]byte) bool {
	sort := func(x [][]byte) [][]byte {
		c := slices.Clone(x)
		slices.SortFunc(c, bytes.Compare)
		return c
	}
	return slices.EqualFunc(sort(a), sort(b), bytes.Equal)
}

func testPutAndGet(t *testing.T, s twofa.Store) {
	want := factor("u1", "a", "b", "c")
	mustCreate(t, s, want)
	got := get(t, s, "u1")
	if got.UserID != "u1" || !bytes.Equal(got.Secret, want.Secret) || !got.EnabledAt.Equal(base) || got.LastStep != 100 {
		t.Errorf("SecondFactor = %+v, want %+v", got, want)
	}
	if !sameCodes(got.RecoveryCodes, want.RecoveryCodes) {
		t.Errorf("RecoveryCodes = %d codes, want the 3 stored", len(got.RecoveryCodes))
	}
}

func testUnknown(t *testing.T, s twofa.Store) {
	ctx := context.Background()
	mustCreate(t, s, factor("u1", "a"))
	if _, err := s.SecondFactor(ctx, "nobody"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("SecondFactor(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteSecondFactor(ctx, "nobody"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("DeleteSecondFactor(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.UseTOTPStep(ctx, "nobody", 200); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("UseTOTPStep(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.UseRecoveryCode(ctx, "nobody", h("a")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("UseRecoveryCode(another user's code) = %v, want ErrNotFound", err)
	}
	if err := s.SetRecoveryCodes(ctx, "nobody", [][]byte{h("x")}); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("SetRecoveryCodes(unknown) = %v, want ErrNotFound", err)
	}
}

func testCreateDoesNotReplace(t *testing.T, s twofa.Store) {
	first := factor("u1", "a", "b")
	mustCreate(t, s, first)
	next := factor("u1", "c")
	next.Secret, next.LastStep = []byte("other"), 5
	if err := s.CreateSecondFactor(context.Background(), next); !errors.Is(err, account.ErrConflict) {
		t.Errorf("second CreateSecondFactor = %v, want ErrConflict", err)
	}
	got := get(t, s, "u1")
	if !bytes.Equal(got.Secret, first.Secret) || got.LastStep != 100 || !sameCodes(got.RecoveryCodes, first.RecoveryCodes) {
		t.Errorf("after a refused second create: %+v, want the first factor untouched", got)
	}
}

// testCreateConcurrent checks that of concurrent creates for one user
// exactly one succeeds, and the factor stored is that one's, codes and all.
func testCreateConcurrent(t *testing.T, s twofa.Store) {
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			f := factor("u1", fmt.Sprint("code-", i))
			f.Secret = fmt.Appendf(nil, "sealed-%d", i)
			errs[i] = s.CreateSecondFactor(context.Background(), f)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("concurrent CreateSecondFactor calls %d and %d both succeeded, want one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, account.ErrConflict):
			t.Errorf("concurrent CreateSecondFactor %d = %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d concurrent CreateSecondFactor calls succeeded, want 1", n)
	}
	got := get(t, s, "u1")
	if want := fmt.Sprintf("sealed-%d", winner); string(got.Secret) != want {
		t.Errorf("stored Secret = %q, want the winner's %q", got.Secret, want)
	}
	if want := [][]byte{h(fmt.Sprint("code-", winner))}; !sameCodes(got.RecoveryCodes, want) {
		t.Errorf("stored %d recovery codes, want only the winner's one", len(got.RecoveryCodes))
	}
}

func testDelete(t *testing.T, s twofa.Store) {
	ctx := context.Background()
	mustCreate(t, s, factor("u1", "a"))
	mustCreate(t, s, factor("u2", "a"))
	if err := s.DeleteSecondFactor(ctx, "u1"); err != nil {
		t.Fatalf("DeleteSecondFactor = %v", err)
	}
	if _, err := s.SecondFactor(ctx, "u1"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("SecondFactor after delete = %v, want ErrNotFound", err)
	}
	if err := s.UseRecoveryCode(ctx, "u1", h("a")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("UseRecoveryCode after delete = %v, want ErrNotFound", err)
	}
	get(t, s, "u2")
}

func testStep(t *testing.T, s twofa.Store) {
	ctx := context.Background()
	mustCreate(t, s, factor("u1"))
	tests := []struct {
		step int64
		want error
	}{
		{100, account.ErrConflict},
		{99, account.ErrConflict},
		{101, nil},
		{101, account.ErrConflict},
		{103, nil},
		{102, account.ErrConflict},
	}
	for _, tt := range tests {
		if err := s.UseTOTPStep(ctx, "u1", tt.step); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("UseTOTPStep(%d) = %v, want %v", tt.step, err, tt.want)
		}
	}
	if got := get(t, s, "u1").LastStep; got != 103 {
		t.Errorf("LastStep = %d, want 103", got)
	}
}

func testStepConcurrent(t *testing.T, s twofa.Store) {
	mustCreate(t, s, factor("u1"))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if s.UseTOTPStep(context.Background(), "u1", 150) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 8 concurrent UseTOTPStep calls with one step succeeded, want 1", ok.Load())
	}
}

func testRecoveryOnce(t *testing.T, s twofa.Store) {
	ctx := context.Background()
	mustCreate(t, s, factor("u1", "a", "b"))
	if err := s.UseRecoveryCode(ctx, "u1", h("a")); err != nil {
		t.Fatalf("UseRecoveryCode = %v", err)
	}
	if err := s.UseRecoveryCode(ctx, "u1", h("a")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("second UseRecoveryCode = %v, want ErrNotFound", err)
	}
	if err := s.UseRecoveryCode(ctx, "u1", h("zz")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("UseRecoveryCode(wrong) = %v, want ErrNotFound", err)
	}
	if got := get(t, s, "u1").RecoveryCodes; !sameCodes(got, [][]byte{h("b")}) {
		t.Errorf("codes left = %d, want only b", len(got))
	}
}

func testRecoveryConcurrent(t *testing.T, s twofa.Store) {
	mustCreate(t, s, factor("u1", "a"))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if s.UseRecoveryCode(context.Background(), "u1", h("a")) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 8 concurrent uses of one recovery code succeeded, want 1", ok.Load())
	}
}

func testSetRecovery(t *testing.T, s twofa.Store) {
	ctx := context.Background()
	mustCreate(t, s, factor("u1", "a", "b"))
	if err := s.SetRecoveryCodes(ctx, "u1", [][]byte{h("c"), h("d")}); err != nil {
		t.Fatalf("SetRecoveryCodes = %v", err)
	}
	if err := s.UseRecoveryCode(ctx, "u1", h("a")); !errors.Is(err, account.ErrNotFound) {
		t.Errorf("old code after SetRecoveryCodes = %v, want ErrNotFound", err)
	}
	if err := s.UseRecoveryCode(ctx, "u1", h("d")); err != nil {
		t.Errorf("new code = %v, want nil", err)
	}
}

func testList(t *testing.T, s twofa.Store) {
	ctx := context.Background()
	mustCreate(t, s, factor("u1"))
	mustCreate(t, s, factor("u2"))
	mustCreate(t, s, factor("u3"))
	if err := s.DeleteSecondFactor(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	got, err := s.UsersWithSecondFactor(ctx)
	if err != nil {
		t.Fatalf("UsersWithSecondFactor = %v", err)
	}
	slices.Sort(got)
	if want := []string{"u1", "u3"}; !slices.Equal(got, want) {
		t.Errorf("UsersWithSecondFactor = %v, want %v", got, want)
	}
}
