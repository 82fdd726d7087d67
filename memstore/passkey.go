package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/passkey"
)

// PasskeyStore keeps passkeys in memory (passkey.Store). It is safe for
// concurrent use.
type PasskeyStore struct {
	mu    sync.Mutex
	creds map[string]*passkey.Credential // string(ID) → credential
}

var _ passkey.Store = (*PasskeyStore)(nil)

// NewPasskeyStore returns an empty PasskeyStore.
func NewPasskeyStore() *PasskeyStore {
	return &PasskeyStore{creds: make(map[string]*passkey.Credential)}
}

func clonePasskey(c *passkey.Credential) *passkey.Credential {
	d := *c
	d.ID, d.Data = bytes.Clone(c.ID), bytes.Clone(c.Data)
	return &d
}

// AddCredential stores a copy of c.
func (s *PasskeyStore) AddCredential(ctx context.Context, c *passkey.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[string(c.ID)]; ok {
		return fmt.Errorf("memstore: add passkey: %w", account.ErrConflict)
	}
	s.creds[string(c.ID)] = clonePasskey(c)
	return nil
}

// CredentialsByUser returns copies of the user's passkeys, oldest first.
func (s *PasskeyStore) CredentialsByUser(ctx context.Context, userID string) ([]*passkey.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*passkey.Credential{}
	for _, c := range s.creds {
		if c.UserID == userID {
			out = append(out, clonePasskey(c))
		}
	}
	slices.SortFunc(out, func(a, b *passkey.Credential) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID, b.ID)
	})
	return out, nil
}

// CredentialByID returns a copy of the passkey.
func (s *PasskeyStore) CredentialByID(ctx context.Context, id []byte) (*passkey.Credential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[string(id)]
	if !ok {
		return nil, notFound("passkey")
	}
	return clonePasskey(c), nil
}

// UseCredential records a use when the count is still oldCount.
func (s *PasskeyStore) UseCredential(ctx context.Context, id []byte, oldCount, newCount uint32, data []byte, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[string(id)]
	if !ok {
		return notFound("use passkey")
	}
	if c.SignCount != oldCount {
		return fmt.Errorf("memstore: use passkey: %w", account.ErrConflict)
	}
	c.SignCount, c.Data, c.LastUsedAt = newCount, bytes.Clone(data), at
	return nil
}

// DeleteCredential removes the user's passkey.
func (s *PasskeyStore) DeleteCredential(ctx context.Context, userID string, id []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[string(id)]
	if !ok || c.UserID != userID {
		return notFound("delete passkey")
	}
	delete(s.creds, string(id))
	return nil
}
