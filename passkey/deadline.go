package passkey

import (
	"context"
	"time"
)

// deadlineStore calls a Store with a deadline on each call, so a store
// whose network has gone silent fails a ceremony (503) instead of hanging
// it, as the session and account stores do.
type deadlineStore struct {
	s Store
	d time.Duration
}

func (b deadlineStore) AddCredential(ctx context.Context, c *Credential) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.AddCredential(ctx, c)
}

func (b deadlineStore) CredentialsByUser(ctx context.Context, userID string) ([]*Credential, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.CredentialsByUser(ctx, userID)
}

func (b deadlineStore) CredentialByID(ctx context.Context, id []byte) (*Credential, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.CredentialByID(ctx, id)
}

func (b deadlineStore) UseCredential(ctx context.Context, id []byte, oldCount, newCount uint32, data []byte, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UseCredential(ctx, id, oldCount, newCount, data, at)
}

func (b deadlineStore) DeleteCredential(ctx context.Context, userID string, id []byte) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteCredential(ctx, userID, id)
}
