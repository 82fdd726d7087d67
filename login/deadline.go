package login

import (
	"context"
	"time"

	"github.com/hallpass/hallpass/account"
)

// DefaultStoreTimeout is the deadline of each account, remember-me and API
// token store call the Manager makes when Config.StoreTimeout is zero.
const DefaultStoreTimeout = 3 * time.Second

// deadlineUsers calls an account.Store with a deadline on each call.
type deadlineUsers struct {
	s account.Store
	d time.Duration
}

func (b deadlineUsers) CreateUser(ctx context.Context, u *account.User) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.CreateUser(ctx, u)
}

func (b deadlineUsers) UserByID(ctx context.Context, id string) (*account.User, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UserByID(ctx, id)
}

func (b deadlineUsers) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UserByUsername(ctx, name)
}

func (b deadlineUsers) ListUsers(ctx context.Context, opt account.ListOptions) ([]*account.User, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.ListUsers(ctx, opt)
}

func (b deadlineUsers) SetPassword(ctx context.Context, id, hash string, changedAt time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.SetPassword(ctx, id, hash, changedAt)
}

func (b deadlineUsers) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.RehashPassword(ctx, id, oldHash, newHash)
}

func (b deadlineUsers) SetDisabled(ctx context.Context, id string, disabled bool) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.SetDisabled(ctx, id, disabled)
}

func (b deadlineUsers) SetRoles(ctx context.Context, id string, roles []string) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.SetRoles(ctx, id, roles)
}

// deadlineRemember calls an account.RememberStore with a deadline on each
// call.
type deadlineRemember struct {
	s account.RememberStore
	d time.Duration
}

func (b deadlineRemember) CreateRemember(ctx context.Context, t *account.RememberToken) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.CreateRemember(ctx, t)
}

func (b deadlineRemember) RememberBySelector(ctx context.Context, selector string, now time.Time) (*account.RememberToken, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.RememberBySelector(ctx, selector, now)
}

func (b deadlineRemember) RotateRemember(ctx context.Context, selector string, oldHash, newHash []byte, now, expiresAt time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.RotateRemember(ctx, selector, oldHash, newHash, now, expiresAt)
}

func (b deadlineRemember) DeleteRemember(ctx context.Context, selector string) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteRemember(ctx, selector)
}

func (b deadlineRemember) DeleteRememberByUser(ctx context.Context, userID string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteRememberByUser(ctx, userID)
}
