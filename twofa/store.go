package twofa

import (
	"context"
	"time"
)

// Factor is a user's TOTP second factor as a Store keeps it.
type Factor struct {
	UserID string
	// Secret is the TOTP secret sealed by the Service (AES-GCM under a
	// key derived from the server's secret keys); a Store keeps it as
	// opaque bytes.
	Secret    []byte
	EnabledAt time.Time
	// LastStep is the last TOTP time step accepted (Unix time / 30 s);
	// a code of this step or an earlier one is refused.
	LastStep int64
	// RecoveryCodes holds a SHA-256 digest of each unused recovery code.
	RecoveryCodes [][]byte
}

// Store keeps second factors. User IDs are any non-empty text, so an app
// with its own user table can use it. Errors other than the ones named
// below are system failures (the store is down).
type Store interface {
	// SecondFactor returns userID's factor, or account.ErrNotFound when
	// the user has none.
	SecondFactor(ctx context.Context, userID string) (*Factor, error)

	// CreateSecondFactor stores f, with its recovery codes, for a user
	// who has no factor, atomically: of concurrent calls for one user,
	// exactly one succeeds. It returns account.ErrConflict, changing
	// nothing, when the user already has a factor; a factor is never
	// replaced (remove it with DeleteSecondFactor first).
	CreateSecondFactor(ctx context.Context, f *Factor) error

	// DeleteSecondFactor removes the user's factor and recovery codes;
	// account.ErrNotFound when there was none.
	DeleteSecondFactor(ctx context.Context, userID string) error

	// UseTOTPStep records step as the last one used when it is greater
	// than the stored LastStep, atomically: of concurrent calls with one
	// step, exactly one succeeds. A step not greater than LastStep is
	// account.ErrConflict; a user without a factor account.ErrNotFound.
	UseTOTPStep(ctx context.Context, userID string, step int64) error

	// UseRecoveryCode removes the recovery code whose digest is hash,
	// atomically: of concurrent calls with one code exactly one
	// succeeds. A digest that is not among the user's unused codes is
	// account.ErrNotFound.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte) error

	// SetRecoveryCodes replaces every recovery code of the user;
	// account.ErrNotFound when the user has no factor.
	SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error

	// UsersWithSecondFactor returns the IDs of the users that have a
	// factor, in no particular order.
	UsersWithSecondFactor(ctx context.Context) ([]string, error)
}
