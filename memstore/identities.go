package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hallpass/hallpass/identity"
)

// IdentityStore keeps the links between users and identities at OpenID
// Connect providers in memory (identity.Store). It is safe for concurrent
// use.
type IdentityStore struct {
	mu    sync.Mutex
	links map[[2]string]*identity.Identity // (issuer, subject) → link
}

var _ identity.Store = (*IdentityStore)(nil)

// NewIdentityStore returns an empty IdentityStore.
func NewIdentityStore() *IdentityStore {
	return &IdentityStore{links: make(map[[2]string]*identity.Identity)}
}

func canceled(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

// LinkIdentity stores a copy of id, or returns identity.ErrLinked.
func (s *IdentityStore) LinkIdentity(ctx context.Context, id *identity.Identity) error {
	if err := canceled(ctx, "link identity"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{id.Issuer, id.Subject}
	if _, ok := s.links[k]; ok {
		return identity.ErrLinked
	}
	c := *id
	s.links[k] = &c
	return nil
}

// Identity returns a copy of the link, or identity.ErrNotFound.
func (s *IdentityStore) Identity(ctx context.Context, issuer, subject string) (*identity.Identity, error) {
	if err := canceled(ctx, "identity"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[[2]string{issuer, subject}]
	if !ok {
		return nil, identity.ErrNotFound
	}
	c := *l
	return &c, nil
}

// IdentitiesByUser returns copies of the user's links, oldest first.
func (s *IdentityStore) IdentitiesByUser(ctx context.Context, userID string) ([]*identity.Identity, error) {
	if err := canceled(ctx, "identities by user"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*identity.Identity
	for _, l := range s.links {
		if l.UserID == userID {
			c := *l
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *identity.Identity) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Issuer, b.Issuer), cmp.Compare(a.Subject, b.Subject))
	})
	return out, nil
}

// TouchIdentity sets the link's LastUsedAt, or returns
// identity.ErrNotFound.
func (s *IdentityStore) TouchIdentity(ctx context.Context, issuer, subject string, at time.Time) error {
	if err := canceled(ctx, "touch identity"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[[2]string{issuer, subject}]
	if !ok {
		return identity.ErrNotFound
	}
	l.LastUsedAt = at
	return nil
}

// UnlinkIdentity removes the user's link, or returns
// identity.ErrNotFound.
func (s *IdentityStore) UnlinkIdentity(ctx context.Context, userID, issuer, subject string) error {
	if err := canceled(ctx, "unlink identity"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{issuer, subject}
	if l, ok := s.links[k]; !ok || l.UserID != userID {
		return identity.ErrNotFound
	}
	delete(s.links, k)
	return nil
}

// UnlinkUser removes all the user's links.
func (s *IdentityStore) UnlinkUser(ctx context.Context, userID string) (int, error) {
	if err := canceled(ctx, "unlink user"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, l := range s.links {
		if l.UserID == userID {
			delete(s.links, k)
			n++
		}
	}
	return n, nil
}
