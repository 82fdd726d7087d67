package twofa

import (
	"context"
	"time"
)

// deadlineStore calls a Store with a deadline on each call, so a store
// whose network has gone silent fails the second-factor step (503)
// instead of hanging it, as the session and account stores do.
type deadlineStore struct {
	s Store
	d time.Duration
}

func (b deadlineStore) SecondFactor(ctx context.Context, userID string) (*Factor, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.SecondFactor(ctx, userID)
}

func (b deadlineStore) CreateSecondFactor(ctx context.Context, f *Factor) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.CreateSecondFactor(ctx, f)
}

func (b deadlineStore) DeleteSecondFactor(ctx context.Context, userID string) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteSecondFactor(ctx, userID)
}

func (b deadlineStore) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UseTOTPStep(ctx, userID, step)
}

func (b deadlineStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UseRecoveryCode(ctx, userID, hash)
}

func (b deadlineStore) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.SetRecoveryCodes(ctx, userID, hashes)
}

func (b deadlineStore) UsersWithSecondFactor(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UsersWithSecondFactor(ctx)
}
