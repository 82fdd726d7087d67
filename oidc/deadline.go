package oidc

import (
	"context"
	"time"

	"github.com/hallpass/hallpass/identity"
)

// deadlineIdentities calls an identity.Store with a deadline on each
// call, so a store whose network has gone silent fails a sign-in (503)
// instead of hanging it, as the session and account stores do.
type deadlineIdentities struct {
	s identity.Store
	d time.Duration
}

func (b deadlineIdentities) LinkIdentity(ctx context.Context, id *identity.Identity) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.LinkIdentity(ctx, id)
}

func (b deadlineIdentities) Identity(ctx context.Context, issuer, subject string) (*identity.Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.Identity(ctx, issuer, subject)
}

func (b deadlineIdentities) IdentitiesByUser(ctx context.Context, userID string) ([]*identity.Identity, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.IdentitiesByUser(ctx, userID)
}

func (b deadlineIdentities) TouchIdentity(ctx context.Context, issuer, subject string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.TouchIdentity(ctx, issuer, subject, at)
}

func (b deadlineIdentities) UnlinkIdentity(ctx context.Context, userID, issuer, subject string) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UnlinkIdentity(ctx, userID, issuer, subject)
}

func (b deadlineIdentities) UnlinkUser(ctx context.Context, userID string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UnlinkUser(ctx, userID)
}
