package recovery_test

import (
	"errors"
	"testing"

	"github.com/hallpass/hallpass/recovery"
)

// A link's token comes from anyone: CheckReset, ResetPassword and Verify
// refuse every token they did not issue with ErrInvalidToken, never
// another error or a panic.
func FuzzLinkToken(f *testing.F) {
	for _, s := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "nuOxNQUwJEtckIUQLAc1-TYCfVr_pDjxN494iJDHaFg",
		"nuOxNQUwJEtckIUQLAc1+TYCfVr/pDjxN494iJDHaFg", "nuOxNQUwJEtckIUQLAc1-TYCfVr_pDjxN494iJDHaF=", "\x00\xff",
		"nuOxNQUwJEtckIUQLAc1-TYCfVr_pDjxN494iJDH\n\n\n"} {
		f.Add(s)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, token string) {
		if _, err := fx.svc.CheckReset(t.Context(), token); !errors.Is(err, recovery.ErrInvalidToken) {
			t.Errorf("CheckReset(%q) = %v, want ErrInvalidToken", token, err)
		}
		if _, err := fx.svc.ResetPassword(t.Context(), token, "a new passphrase", ""); !errors.Is(err, recovery.ErrInvalidToken) {
			t.Errorf("ResetPassword(%q) = %v, want ErrInvalidToken", token, err)
		}
		if _, err := fx.svc.Verify(t.Context(), token, ""); !errors.Is(err, recovery.ErrInvalidToken) {
			t.Errorf("Verify(%q) = %v, want ErrInvalidToken", token, err)
		}
	})
}
