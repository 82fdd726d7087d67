package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/twofa"
)

// TwoFAStore keeps second factors in memory (twofa.Store). It is safe for
// concurrent use.
type TwoFAStore struct {
	mu      sync.Mutex
	factors map[string]*twofa.Factor // user ID → factor
}

var _ twofa.Store = (*TwoFAStore)(nil)

// NewTwoFAStore returns an empty TwoFAStore.
func NewTwoFAStore() *TwoFAStore { return &TwoFAStore{factors: make(map[string]*twofa.Factor)} }

func cloneFactor(f *twofa.Factor) *twofa.Factor {
	c := *f
	c.Secret = bytes.Clone(f.Secret)
	c.RecoveryCodes = make([][]byte, len(f.RecoveryCodes))
	for i, h := range f.RecoveryCodes {
		c.RecoveryCodes[i] = bytes.Clone(h)
	}
	return &c
}

func notFound(op string) error { return fmt.Errorf("memstore: %s: %w", op, account.ErrNotFound) }

// SecondFactor returns a copy of the user's factor.
func (s *TwoFAStore) SecondFactor(ctx context.Context, userID string) (*twofa.Factor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[userID]
	if !ok {
		return nil, notFound("second factor")
	}
	return cloneFactor(f), nil
}

// CreateSecondFactor stores a copy of f, or returns account.ErrConflict
// when the user has a factor.
func (s *TwoFAStore) CreateSecondFactor(ctx context.Context, f *twofa.Factor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.factors[f.UserID]; ok {
		return fmt.Errorf("memstore: create second factor: %w", account.ErrConflict)
	}
	s.factors[f.UserID] = cloneFactor(f)
	return nil
}

// DeleteSecondFactor removes the user's factor.
func (s *TwoFAStore) DeleteSecondFactor(ctx context.Context, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.factors[userID]; !ok {
		return notFound("delete second factor")
	}
	delete(s.factors, userID)
	return nil
}

// UseTOTPStep moves LastStep forward to step.
func (s *TwoFAStore) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[userID]
	if !ok {
		return notFound("use totp step")
	}
	if step <= f.LastStep {
		return fmt.Errorf("memstore: use totp step: %w", account.ErrConflict)
	}
	f.LastStep = step
	return nil
}

// UseRecoveryCode removes one recovery code.
func (s *TwoFAStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[userID]
	if !ok {
		return notFound("use recovery code")
	}
	i := slices.IndexFunc(f.RecoveryCodes, func(h []byte) bool { return bytes.Equal(h, hash) })
	if i < 0 {
		return notFound("use recovery code")
	}
	f.RecoveryCodes = slices.Delete(f.RecoveryCodes, i, i+1)
	return nil
}

// SetRecoveryCodes replaces the user's recovery codes.
func (s *TwoFAStore) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[userID]
	if !ok {
		return notFound("set recovery codes")
	}
	f.RecoveryCodes = cloneFactor(&twofa.Factor{RecoveryCodes: hashes}).RecoveryCodes
	return nil
}

// UsersWithSecondFactor lists the users with a factor.
func (s *TwoFAStore) UsersWithSecondFactor(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.factors))
	for id := range s.factors {
		ids = append(ids, id)
	}
	return ids, nil
}
