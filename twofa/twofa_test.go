package twofa_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/twofa"
)

// rfcSecret is RFC 6238 Appendix B's SHA-1 key.
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

// TestCodeRFC6238 checks Code against RFC 6238's SHA-1 test vectors. The
// RFC lists 8 digits; a 6-digit code is the same number mod 10^6, so it
// is the vector's last six digits.
func TestCodeRFC6238(t *testing.T) {
	tests := []struct {
		unix int64
		want string // the RFC's 8-digit value
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		got, err := twofa.Code(rfcSecret, time.Unix(tt.unix, 0))
		if err != nil {
			t.Fatal(err)
		}
		if want := tt.want[2:]; got != want {
			t.Errorf("Code(RFC key, %d) = %q, want %q", tt.unix, got, want)
		}
	}
}

type fixture struct {
	svc   *twofa.Service
	store *memstore.TwoFAStore
	now   time.Time
}

func newFixture(t *testing.T, keys ...[]byte) *fixture {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
	}
	f := &fixture{store: memstore.NewTwoFAStore(), now: time.Unix(1111111111, 0)}
	svc, err := twofa.New(twofa.Config{Store: f.store, Keys: keys, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func (f *fixture) code(t *testing.T, secret string, d time.Duration) string {
	t.Helper()
	c, err := twofa.Code(secret, f.now.Add(d))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enable enrols u on rfcSecret and returns the recovery codes.
func (f *fixture) enable(t *testing.T, u string) []string {
	t.Helper()
	codes, err := f.svc.Enable(context.Background(), u, rfcSecret, f.code(t, rfcSecret, 0))
	if err != nil {
		t.Fatalf("Enable = %v", err)
	}
	return codes
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	codes := f.enable(t, "u1")
	if len(codes) != twofa.RecoveryCodeCount {
		t.Fatalf("Enable returned %d codes, want %d", len(codes), twofa.RecoveryCodeCount)
	}
	f.now = f.now.Add(3 * twofa.Period)
	tests := []struct {
		name string
		code string
		want error
	}{
		{"one step behind", f.code(t, rfcSecret, -twofa.Period), nil},
		{"the same code again", f.code(t, rfcSecret, -twofa.Period), twofa.ErrInvalidCode},
		{"two steps behind", f.code(t, rfcSecret, -2*twofa.Period), twofa.ErrInvalidCode},
		{"current, with a space", f.code(t, rfcSecret, 0)[:3] + " " + f.code(t, rfcSecret, 0)[3:], nil},
		{"two steps ahead", f.code(t, rfcSecret, 2*twofa.Period), twofa.ErrInvalidCode},
		{"one step ahead", f.code(t, rfcSecret, twofa.Period), nil},
		{"current after a later one", f.code(t, rfcSecret, 0), twofa.ErrInvalidCode},
		{"five digits", "12345", twofa.ErrInvalidCode},
		{"recovery code", codes[0], nil},
		{"recovery code again", codes[0], twofa.ErrInvalidCode},
		{"recovery code in capitals, no dash", strings.ToUpper(strings.ReplaceAll(codes[1], "-", "")), nil},
		{"wrong recovery code", "aaaaa-aaaaa", twofa.ErrInvalidCode},
	}
	for _, tt := range tests {
		if err := f.svc.Verify(ctx, "u1", tt.code); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: Verify(%q) = %v, want %v", tt.name, tt.code, err, tt.want)
		}
	}
	if err := f.svc.Verify(ctx, "nobody", "123456"); !errors.Is(err, twofa.ErrNotEnrolled) {
		t.Errorf("Verify(unknown user) = %v, want ErrNotEnrolled", err)
	}
	st, _ := f.svc.Status(ctx, "u1")
	if !st.Enabled || st.RecoveryCodes != 8 {
		t.Errorf("Status = %+v, want enabled with 8 codes left", st)
	}
}

func TestEnable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.Enable(ctx, "u1", rfcSecret, "000000"); !errors.Is(err, twofa.ErrInvalidCode) {
		t.Errorf("Enable(wrong code) = %v, want ErrInvalidCode", err)
	}
	f.enable(t, "u1")
	if _, err := f.svc.Enable(ctx, "u1", rfcSecret, f.code(t, rfcSecret, 0)); !errors.Is(err, twofa.ErrEnrolled) {
		t.Errorf("Enable twice = %v, want ErrEnrolled", err)
	}
	// The enrolment code is used: it does not log in again.
	if err := f.svc.Verify(ctx, "u1", f.code(t, rfcSecret, 0)); !errors.Is(err, twofa.ErrInvalidCode) {
		t.Errorf("Verify(the enrolment code) = %v, want ErrInvalidCode", err)
	}
	stored, _ := f.store.SecondFactor(ctx, "u1")
	if bytes.Contains(stored.Secret, []byte(rfcSecret)) || bytes.Contains(stored.Secret, []byte("12345678901234567890")) {
		t.Error("the stored secret holds the secret in the clear")
	}
}

// gatedReads is a store whose SecondFactor, once it has read, waits
// until n calls have read (or a second has passed): a check that reads
// before it writes then sees what every concurrent caller saw.
type gatedReads struct {
	*memstore.TwoFAStore
	n       int32
	arrived atomic.Int32
	all     chan struct{}
}

func (g *gatedReads) SecondFactor(ctx context.Context, userID string) (*twofa.Factor, error) {
	f, err := g.TwoFAStore.SecondFactor(ctx, userID)
	if g.arrived.Add(1) == g.n {
		close(g.all)
	}
	select {
	case <-g.all:
	case <-time.After(time.Second):
	}
	return f, err
}

// Of concurrent enrolments of one user, each with its own secret (two
// sessions turning TOTP on at once), exactly one is on and the others
// are told it already is: the winner's secret and recovery codes are the
// ones that work, so no one is shown a factor that was overwritten.
func TestEnableConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	const n = 10
	svc, err := twofa.New(twofa.Config{Store: &gatedReads{TwoFAStore: f.store, n: n, all: make(chan struct{})},
		Keys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	secrets := make([]string, n)
	codes := make([][]string, n)
	errs := make([]error, n)
	for i := range secrets {
		secrets[i] = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(fmt.Appendf(nil, "secret of session %02d", i))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		code := f.code(t, secrets[i], 0)
		wg.Go(func() {
			<-start
			codes[i], errs[i] = svc.Enable(ctx, "u1", secrets[i], code)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Enable in sessions %d and %d both succeeded, want one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, twofa.ErrEnrolled):
			t.Errorf("Enable in session %d = %v, want nil or ErrEnrolled", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d concurrent Enable calls succeeded, want 1", n)
	}
	f.now = f.now.Add(twofa.Period)
	for i, secret := range secrets {
		if i == winner {
			continue
		}
		if err := f.svc.Verify(ctx, "u1", f.code(t, secret, 0)); !errors.Is(err, twofa.ErrInvalidCode) {
			t.Errorf("Verify(code of refused session %d) = %v, want ErrInvalidCode", i, err)
		}
	}
	if err := f.svc.Verify(ctx, "u1", f.code(t, secrets[winner], 0)); err != nil {
		t.Errorf("Verify(code of the enabled session %d) = %v, want nil", winner, err)
	}
	if err := f.svc.Verify(ctx, "u1", codes[winner][0]); err != nil {
		t.Errorf("Verify(recovery code shown to the enabled session %d) = %v, want nil", winner, err)
	}
}

func TestSealedSecretKeys(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := []byte("old key old key old key old key!"), []byte("new key new key new key new key!")
	f := newFixture(t, oldKey)
	f.enable(t, "u1")
	f.now = f.now.Add(twofa.Period)

	rotated, err := twofa.New(twofa.Config{Store: f.store, Keys: [][]byte{newKey, oldKey}, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.Verify(ctx, "u1", f.code(t, rfcSecret, 0)); err != nil {
		t.Errorf("Verify with the old key second = %v, want nil", err)
	}
	f.now = f.now.Add(twofa.Period)
	other, _ := twofa.New(twofa.Config{Store: f.store, Keys: [][]byte{newKey}, Now: func() time.Time { return f.now }})
	if err := other.Verify(ctx, "u1", f.code(t, rfcSecret, 0)); err == nil || errors.Is(err, twofa.ErrInvalidCode) {
		t.Errorf("Verify without the sealing key = %v, want a failure that is not a wrong code", err)
	}
	// A sealed secret moved to another user does not open.
	stored, _ := f.store.SecondFactor(ctx, "u1")
	stored.UserID = "u2"
	f.store.CreateSecondFactor(ctx, stored)
	if err := f.svc.Verify(ctx, "u2", f.code(t, rfcSecret, 0)); err == nil {
		t.Error("a secret sealed for u1 opened for u2")
	}
}

func TestDisableResetAndNewCodes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	old := f.enable(t, "u1")
	codes, err := f.svc.NewRecoveryCodes(ctx, "u1")
	if err != nil || len(codes) != twofa.RecoveryCodeCount {
		t.Fatalf("NewRecoveryCodes = %d codes, %v", len(codes), err)
	}
	if err := f.svc.Verify(ctx, "u1", old[0]); !errors.Is(err, twofa.ErrInvalidCode) {
		t.Errorf("an old recovery code after NewRecoveryCodes = %v, want ErrInvalidCode", err)
	}
	f.now = f.now.Add(twofa.Period)
	if err := f.svc.Disable(ctx, "u1", "000000"); !errors.Is(err, twofa.ErrInvalidCode) {
		t.Errorf("Disable(wrong code) = %v, want ErrInvalidCode", err)
	}
	if err := f.svc.Disable(ctx, "u1", f.code(t, rfcSecret, 0)); err != nil {
		t.Fatalf("Disable = %v", err)
	}
	if at, err := f.svc.EnrolledAt(ctx, "u1"); err != nil || !at.IsZero() {
		t.Errorf("EnrolledAt after Disable = %v, %v, want zero", at, err)
	}
	f.enable(t, "u2")
	if err := f.svc.Reset(ctx, "admin", "u2"); err != nil {
		t.Errorf("Reset = %v", err)
	}
	if err := f.svc.Reset(ctx, "admin", "u2"); !errors.Is(err, twofa.ErrNotEnrolled) {
		t.Errorf("Reset twice = %v, want ErrNotEnrolled", err)
	}
	if _, err := f.svc.NewRecoveryCodes(ctx, "u2"); !errors.Is(err, twofa.ErrNotEnrolled) {
		t.Errorf("NewRecoveryCodes without a factor = %v, want ErrNotEnrolled", err)
	}
}
