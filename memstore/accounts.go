package memstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/internal/seqid"
)

var (
	_ account.Store         = (*AccountStore)(nil)
	_ account.Importer      = (*AccountStore)(nil)
	_ account.Deleter       = (*AccountStore)(nil)
	_ account.RememberStore = (*AccountStore)(nil)
	_ account.TokenStore    = (*AccountStore)(nil)
)

// AccountStore keeps user accounts, remember-me tokens and API tokens in
// memory: it implements account.Store (with account.Importer),
// account.RememberStore and account.TokenStore.
//
// User IDs are the decimal numbers 1, 2, 3, ... in creation order; API
// token IDs are numbered the same way, separately. Times are kept exactly
// as given. Every User and token is copied on the way in and on the way
// out, so a caller can change what it passed or received without touching
// the store.
//
// A remember-me token stays until it is deleted, except that creating a
// token for a user drops that user's tokens that expired by the new
// token's CreatedAt. API tokens stay until deleted, expired or not, since
// ListTokens lists expired ones.
//
// An AccountStore is safe for concurrent use.
type AccountStore struct {
	mu     sync.RWMutex // guards users and byName
	users  []*account.User
	byName map[string]int // folded username → index in users

	rmu        sync.RWMutex // guards remember and rememberOf
	remember   map[string]*account.RememberToken
	rememberOf map[string]map[string]struct{} // user ID → selectors

	tmu       sync.RWMutex // guards tokens, byHash and lastToken
	tokens    map[string]*account.APIToken
	byHash    map[string]string // string(hash) → token ID
	lastToken int64
}

// NewAccountStore returns an empty AccountStore.
func NewAccountStore() *AccountStore {
	return &AccountStore{
		byName:     make(map[string]int),
		remember:   make(map[string]*account.RememberToken),
		rememberOf: make(map[string]map[string]struct{}),
		tokens:     make(map[string]*account.APIToken),
		byHash:     make(map[string]string),
	}
}

// fold returns name with ASCII letters lowercased, the key under which
// usernames are unique. Other characters are kept, as SQL stores keep them.
func fold(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func cloneUser(u *account.User) *account.User {
	c := *u
	c.Roles = slices.Clone(u.Roles)
	return &c
}

// userIndex returns the index in s.users of the user id, or -1 (also for
// a deleted user, whose slot is nil). The caller holds s.mu.
func (s *AccountStore) userIndex(id string) int {
	n, ok := seqid.Parse(id)
	if !ok || n > int64(len(s.users)) || s.users[n-1] == nil {
		return -1
	}
	return int(n - 1)
}

// CreateUser stores a copy of u, assigning u.ID, and u.CreatedAt and
// u.PasswordChangedAt when they are zero. It returns
// account.ErrUsernameTaken when the username exists in any letter case.
func (s *AccountStore) CreateUser(ctx context.Context, u *account.User) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create user: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[fold(u.Username)]; ok {
		return fmt.Errorf("memstore: create user %q: %w", u.Username, account.ErrUsernameTaken)
	}
	s.add(u, time.Now().Round(0))
	return nil
}

// add stores a copy of u, which the caller has checked, as the next user,
// and sets u's ID and zero times. The caller holds s.mu.
func (s *AccountStore) add(u *account.User, now time.Time) {
	u.ID = seqid.Format(int64(len(s.users) + 1))
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.PasswordChangedAt.IsZero() {
		u.PasswordChangedAt = now
	}
	s.byName[fold(u.Username)] = len(s.users)
	s.users = append(s.users, cloneUser(u))
}

// ImportUsers stores users all or nothing, as account.Importer describes.
func (s *AccountStore) ImportUsers(ctx context.Context, users []*account.User) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: import users: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := make(map[string]bool, len(users))
	for i, u := range users {
		var err error
		switch {
		case u == nil:
			err = fmt.Errorf("nil user: %w", account.ErrInvalid)
		case batch[fold(u.Username)]:
			err = fmt.Errorf("%q appears earlier in the batch: %w", u.Username, account.ErrUsernameTaken)
		default:
			if _, ok := s.byName[fold(u.Username)]; ok {
				err = fmt.Errorf("%q: %w", u.Username, account.ErrUsernameTaken)
			}
		}
		if err != nil {
			return fmt.Errorf("memstore: import users: %w", &account.ImportError{Index: i, Err: err})
		}
		batch[fold(u.Username)] = true
	}
	now := time.Now().Round(0)
	for _, u := range users {
		s.add(u, now)
	}
	return nil
}

// UserByID returns a copy of the user with id, or account.ErrNotFound.
func (s *AccountStore) UserByID(ctx context.Context, id string) (*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user by id: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i := s.userIndex(id)
	if i < 0 {
		return nil, account.ErrNotFound
	}
	return cloneUser(s.users[i]), nil
}

// UserByUsername returns a copy of the user whose username equals name
// ignoring the case of ASCII letters, or account.ErrNotFound.
func (s *AccountStore) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user by username: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byName[fold(name)]
	if !ok {
		return nil, account.ErrNotFound
	}
	return cloneUser(s.users[i]), nil
}

// ListUsers returns copies of a page of users in creation order. An
// opt.After that is not an ID of this store is an error wrapping
// account.ErrInvalid; a non-positive opt.Limit means 100.
func (s *AccountStore) ListUsers(ctx context.Context, opt account.ListOptions) ([]*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list users: %w", err)
	}
	var start int64
	if opt.After != "" {
		n, ok := seqid.Parse(opt.After)
		if !ok {
			return nil, fmt.Errorf("memstore: list users after %q: %w", opt.After, account.ErrInvalid)
		}
		start = n
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = account.DefaultListLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := []*account.User{}
	for i := start; i < int64(len(s.users)) && len(list) < limit; i++ {
		if s.users[i] != nil { // nil: deleted
			list = append(list, cloneUser(s.users[i]))
		}
	}
	return list, nil
}

// update applies fn to the stored user id under the write lock, or
// returns account.ErrNotFound.
func (s *AccountStore) update(ctx context.Context, op, id string, fn func(u *account.User) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.userIndex(id)
	if i < 0 {
		return account.ErrNotFound
	}
	return fn(s.users[i])
}

// SetPassword stores hash as the user's password hash, changed at
// changedAt, or returns account.ErrNotFound.
func (s *AccountStore) SetPassword(ctx context.Context, id, hash string, changedAt time.Time) error {
	return s.update(ctx, "set password", id, func(u *account.User) error {
		u.PasswordHash, u.PasswordChangedAt = hash, changedAt
		return nil
	})
}

// RehashPassword replaces the user's hash oldHash with newHash, or
// returns account.ErrConflict when the stored hash is not oldHash, and
// account.ErrNotFound for an unknown id.
func (s *AccountStore) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	return s.swapHash(ctx, "rehash password", id, oldHash, newHash, time.Time{})
}

// ChangePassword replaces the user's hash oldHash with newHash and sets
// PasswordChangedAt to changedAt, or returns account.ErrConflict when the
// stored hash is not oldHash, and account.ErrNotFound for an unknown id
// (account.PasswordChanger).
func (s *AccountStore) ChangePassword(ctx context.Context, id, oldHash, newHash string, changedAt time.Time) error {
	return s.swapHash(ctx, "change password", id, oldHash, newHash, changedAt)
}

// swapHash replaces oldHash with newHash, and the time of the password's
// change with changedAt unless it is zero.
func (s *AccountStore) swapHash(ctx context.Context, op, id, oldHash, newHash string, changedAt time.Time) error {
	return s.update(ctx, op, id, func(u *account.User) error {
		if subtle.ConstantTimeCompare([]byte(u.PasswordHash), []byte(oldHash)) != 1 {
			return account.ErrConflict
		}
		u.PasswordHash = newHash
		if !changedAt.IsZero() {
			u.PasswordChangedAt = changedAt
		}
		return nil
	})
}

// SetDisabled disables or enables the user, or returns
// account.ErrNotFound.
func (s *AccountStore) SetDisabled(ctx context.Context, id string, disabled bool) error {
	return s.update(ctx, "set disabled", id, func(u *account.User) error {
		u.Disabled = disabled
		return nil
	})
}

// SetRoles replaces the user's roles with a copy of roles, or returns
// account.ErrNotFound.
func (s *AccountStore) SetRoles(ctx context.Context, id string, roles []string) error {
	return s.update(ctx, "set roles", id, func(u *account.User) error {
		u.Roles = slices.Clone(roles)
		return nil
	})
}

// DeleteUser removes the user, their remember-me tokens and their API
// tokens, or returns account.ErrNotFound. The user's ID is not reused.
func (s *AccountStore) DeleteUser(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete user: %w", err)
	}
	s.mu.Lock()
	i := s.userIndex(id)
	if i >= 0 {
		delete(s.byName, fold(s.users[i].Username))
		s.users[i] = nil
	}
	s.mu.Unlock()
	if i < 0 {
		return account.ErrNotFound
	}
	if _, err := s.DeleteRememberByUser(ctx, id); err != nil {
		return fmt.Errorf("memstore: delete user: %w", err)
	}
	if _, err := s.DeleteTokensByUser(ctx, id); err != nil {
		return fmt.Errorf("memstore: delete user: %w", err)
	}
	return nil
}

func cloneRemember(t *account.RememberToken) *account.RememberToken {
	c := *t
	c.ValidatorHash = bytes.Clone(t.ValidatorHash)
	c.PrevHash = bytes.Clone(t.PrevHash)
	return &c
}

// errSelectorInUse reports a CreateRemember with a selector that exists:
// selectors are random, so it means a bug.
var errSelectorInUse = errors.New("selector in use")

// CreateRemember stores a copy of t, and forgets the tokens of t.UserID
// that expired by t.CreatedAt. A selector already in use is an error, and
// so is an empty t.UserID (wrapping account.ErrInvalid); any other names a
// user, of this store or of an app's own table.
func (s *AccountStore) CreateRemember(ctx context.Context, t *account.RememberToken) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create remember token: %w", err)
	}
	if t.UserID == "" {
		return fmt.Errorf("memstore: create remember token: no user ID: %w", account.ErrInvalid)
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if _, ok := s.remember[t.Selector]; ok {
		return fmt.Errorf("memstore: create remember token: %w", errSelectorInUse)
	}
	sels := s.rememberOf[t.UserID]
	if sels == nil {
		sels = make(map[string]struct{})
		s.rememberOf[t.UserID] = sels
	}
	for sel := range sels {
		if !s.remember[sel].ExpiresAt.After(t.CreatedAt) {
			delete(s.remember, sel)
			delete(sels, sel)
		}
	}
	s.remember[t.Selector] = cloneRemember(t)
	sels[t.Selector] = struct{}{}
	return nil
}

// RememberBySelector returns a copy of the token with selector, or
// account.ErrNotFound when there is none or it expired at now.
func (s *AccountStore) RememberBySelector(ctx context.Context, selector string, now time.Time) (*account.RememberToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: remember token by selector: %w", err)
	}
	s.rmu.RLock()
	defer s.rmu.RUnlock()
	t := s.remember[selector]
	if t == nil || !t.ExpiresAt.After(now) {
		return nil, account.ErrNotFound
	}
	return cloneRemember(t), nil
}

// RotateRemember replaces the token's digest oldHash with newHash, as
// account.RememberStore describes.
func (s *AccountStore) RotateRemember(ctx context.Context, selector string, oldHash, newHash []byte, now, expiresAt time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: rotate remember token: %w", err)
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	t := s.remember[selector]
	if t == nil || !t.ExpiresAt.After(now) {
		return account.ErrNotFound
	}
	if subtle.ConstantTimeCompare(t.ValidatorHash, oldHash) != 1 {
		return account.ErrConflict
	}
	t.PrevHash, t.ValidatorHash = t.ValidatorHash, bytes.Clone(newHash)
	t.RotatedAt, t.ExpiresAt = now, expiresAt
	return nil
}

// DeleteRemember removes the token, if any.
func (s *AccountStore) DeleteRemember(ctx context.Context, selector string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete remember token: %w", err)
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if t := s.remember[selector]; t != nil {
		delete(s.remember, selector)
		sels := s.rememberOf[t.UserID]
		delete(sels, selector)
		if len(sels) == 0 {
			delete(s.rememberOf, t.UserID)
		}
	}
	return nil
}

// DeleteRememberByUser removes the user's tokens and returns how many it
// removed, expired ones included.
func (s *AccountStore) DeleteRememberByUser(ctx context.Context, userID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete remember tokens by user: %w", err)
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	sels := s.rememberOf[userID]
	for sel := range sels {
		delete(s.remember, sel)
	}
	delete(s.rememberOf, userID)
	return len(sels), nil
}

func cloneToken(t *account.APIToken) *account.APIToken {
	c := *t
	c.Hash = bytes.Clone(t.Hash)
	c.Scopes = slices.Clone(t.Scopes)
	return &c
}

// errHashInUse reports a CreateToken with a digest that exists: secrets
// are random, so it means a bug.
var errHashInUse = errors.New("token digest in use")

// CreateToken stores a copy of t, assigning t.ID. A digest already in use
// is an error, and so is an empty t.UserID (wrapping account.ErrInvalid);
// any other names a user, of this store or of an app's own table.
func (s *AccountStore) CreateToken(ctx context.Context, t *account.APIToken) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create api token: %w", err)
	}
	if t.UserID == "" {
		return fmt.Errorf("memstore: create api token: no user ID: %w", account.ErrInvalid)
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if _, ok := s.byHash[string(t.Hash)]; ok {
		return fmt.Errorf("memstore: create api token: %w", errHashInUse)
	}
	s.lastToken++
	t.ID = seqid.Format(s.lastToken)
	s.tokens[t.ID] = cloneToken(t)
	s.byHash[string(t.Hash)] = t.ID
	return nil
}

// TokenByHash returns a copy of the token whose digest is hash, or
// account.ErrNotFound when there is none or it expired at now.
func (s *AccountStore) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.APIToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: api token by hash: %w", err)
	}
	s.tmu.RLock()
	defer s.tmu.RUnlock()
	id, ok := s.byHash[string(hash)]
	if !ok {
		return nil, account.ErrNotFound
	}
	t := s.tokens[id]
	if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(now) {
		return nil, account.ErrNotFound
	}
	return cloneToken(t), nil
}

// ListTokens returns copies of the user's tokens, expired ones included,
// newest first.
func (s *AccountStore) ListTokens(ctx context.Context, userID string) ([]*account.APIToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list api tokens: %w", err)
	}
	list := []*account.APIToken{}
	s.tmu.RLock()
	for _, t := range s.tokens {
		if t.UserID == userID {
			list = append(list, cloneToken(t))
		}
	}
	s.tmu.RUnlock()
	slices.SortFunc(list, func(a, b *account.APIToken) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		x, _ := seqid.Parse(a.ID)
		y, _ := seqid.Parse(b.ID)
		return cmp.Compare(y, x)
	})
	return list, nil
}

// TouchToken sets the token's LastUsedAt to t. A missing token is not an
// error.
func (s *AccountStore) TouchToken(ctx context.Context, id string, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: touch api token: %w", err)
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	if tok := s.tokens[id]; tok != nil {
		tok.LastUsedAt = t
	}
	return nil
}

// DeleteToken removes the user's token id, or returns account.ErrNotFound
// when the user has no such token.
func (s *AccountStore) DeleteToken(ctx context.Context, userID, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete api token: %w", err)
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	t := s.tokens[id]
	if t == nil || t.UserID != userID {
		return account.ErrNotFound
	}
	delete(s.tokens, id)
	delete(s.byHash, string(t.Hash))
	return nil
}

// DeleteTokensByUser removes the user's tokens and returns how many.
func (s *AccountStore) DeleteTokensByUser(ctx context.Context, userID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete api tokens by user: %w", err)
	}
	s.tmu.Lock()
	defer s.tmu.Unlock()
	n := 0
	for id, t := range s.tokens {
		if t.UserID == userID {
			delete(s.tokens, id)
			delete(s.byHash, string(t.Hash))
			n++
		}
	}
	return n, nil
}
