package memstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/recovery"
)

// RecoveryStore keeps emailed link tokens and verified addresses in
// memory (recovery.Store). It is safe for concurrent use.
type RecoveryStore struct {
	mu       sync.Mutex
	tokens   map[string]*recovery.Token // string(Hash) → token
	verified map[string]verified        // user ID → address
}

type verified struct {
	email string
	at    time.Time
}

var _ recovery.Store = (*RecoveryStore)(nil)

// NewRecoveryStore returns an empty RecoveryStore.
func NewRecoveryStore() *RecoveryStore {
	return &RecoveryStore{tokens: make(map[string]*recovery.Token), verified: make(map[string]verified)}
}

func cloneEmailToken(t *recovery.Token) *recovery.Token {
	c := *t
	c.Hash = append([]byte(nil), t.Hash...)
	return &c
}

// CreateEmailToken stores a copy of t.
func (s *RecoveryStore) CreateEmailToken(ctx context.Context, t *recovery.Token) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create email token: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[string(t.Hash)] = cloneEmailToken(t)
	return nil
}

// EmailToken returns a copy of the token, or account.ErrNotFound.
func (s *RecoveryStore) EmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: email token: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[string(hash)]
	if !ok || t.Purpose != p {
		return nil, account.ErrNotFound
	}
	return cloneEmailToken(t), nil
}

// TakeEmailToken removes and returns the token, or account.ErrNotFound.
func (s *RecoveryStore) TakeEmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: take email token: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[string(hash)]
	if !ok || t.Purpose != p {
		return nil, account.ErrNotFound
	}
	delete(s.tokens, string(hash))
	return t, nil
}

// DeleteEmailTokens removes the user's tokens with purpose p.
func (s *RecoveryStore) DeleteEmailTokens(ctx context.Context, userID string, p recovery.Purpose) (int, error) {
	return s.deleteWhere(ctx, func(t *recovery.Token) bool { return t.UserID == userID && t.Purpose == p })
}

// DeleteExpiredEmailTokens removes the tokens expired at now.
func (s *RecoveryStore) DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int, error) {
	return s.deleteWhere(ctx, func(t *recovery.Token) bool { return t.Expired(now) })
}

func (s *RecoveryStore) deleteWhere(ctx context.Context, match func(*recovery.Token) bool) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete email tokens: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, t := range s.tokens {
		if match(t) {
			delete(s.tokens, k)
			n++
		}
	}
	return n, nil
}

// SetVerifiedEmail records the user's verified address.
func (s *RecoveryStore) SetVerifiedEmail(ctx context.Context, userID, email string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: set verified email: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verified[userID] = verified{email, at}
	return nil
}

// VerifiedEmail returns the user's verified address, or
// account.ErrNotFound.
func (s *RecoveryStore) VerifiedEmail(ctx context.Context, userID string) (string, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, fmt.Errorf("memstore: verified email: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.verified[userID]
	if !ok {
		return "", time.Time{}, account.ErrNotFound
	}
	return v.email, v.at, nil
}

// UserByEmail returns a copy of the oldest user whose address equals email
// ignoring case, or account.ErrNotFound (recovery.Users).
func (s *AccountStore) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user by email: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, u := range s.users {
		if u != nil && strings.EqualFold(u.Email, email) {
			return cloneUser(u), nil
		}
	}
	return nil, account.ErrNotFound
}

var _ recovery.UsersByEmail = (*AccountStore)(nil)

// UsersByEmail returns copies of the users whose address equals email
// ignoring case, oldest first, at most recovery.MaxUsersByEmail; none for
// an empty email (recovery.UsersByEmail).
func (s *AccountStore) UsersByEmail(ctx context.Context, email string) ([]*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: users by email: %w", err)
	}
	if email == "" {
		return nil, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var list []*account.User
	for _, u := range s.users {
		if u != nil && strings.EqualFold(u.Email, email) {
			list = append(list, cloneUser(u))
			if len(list) == recovery.MaxUsersByEmail {
				break
			}
		}
	}
	return list, nil
}

// SetEmail changes the user's email address, or returns
// account.ErrNotFound (recovery.EmailSetter).
func (s *AccountStore) SetEmail(ctx context.Context, id, email string) error {
	return s.update(ctx, "set email", id, func(u *account.User) error {
		u.Email = email
		return nil
	})
}
