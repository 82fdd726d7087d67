package login

import (
	"context"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/internal/outage"
)

// DefaultStoreTimeout is the deadline of each account, remember-me and API
// token store call the Manager makes when Config.StoreTimeout is zero.
const DefaultStoreTimeout = 3 * time.Second

// deadlineUsers calls an account.Source with a deadline on each call. It
// has every method of account.Store: one the Source lacks returns an error
// wrapping account.ErrNotSupported that names the method.
type deadlineUsers struct {
	s account.Source
	d time.Duration
	o storeHealth
}

// The methods of account.Store beyond account.Source that the Manager
// uses when the configured Source has them.
type (
	userCreator interface {
		CreateUser(context.Context, *account.User) error
	}
	userLister interface {
		ListUsers(context.Context, account.ListOptions) ([]*account.User, error)
	}
	passwordSetter interface {
		SetPassword(context.Context, string, string, time.Time) error
	}
	disabler interface {
		SetDisabled(context.Context, string, bool) error
	}
	roleSetter interface {
		SetRoles(context.Context, string, []string) error
	}
)

// unsupported returns the error of a method that the Source s lacks.
func unsupported(s account.Source, method string) error {
	return fmt.Errorf("login: the user source %T has no %s method: %w", s, method, account.ErrNotSupported)
}

func (b deadlineUsers) CreateUser(ctx context.Context, u *account.User) (err error) {
	s, ok := b.s.(userCreator)
	if !ok {
		return unsupported(b.s, "CreateUser")
	}
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return s.CreateUser(ctx, u)
}

func (b deadlineUsers) UserByID(ctx context.Context, id string) (_ *account.User, err error) {
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UserByID(ctx, id)
}

func (b deadlineUsers) UserByUsername(ctx context.Context, name string) (_ *account.User, err error) {
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.UserByUsername(ctx, name)
}

func (b deadlineUsers) ListUsers(ctx context.Context, opt account.ListOptions) (_ []*account.User, err error) {
	s, ok := b.s.(userLister)
	if !ok {
		return nil, unsupported(b.s, "ListUsers")
	}
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return s.ListUsers(ctx, opt)
}

func (b deadlineUsers) SetPassword(ctx context.Context, id, hash string, changedAt time.Time) (err error) {
	s, ok := b.s.(passwordSetter)
	if !ok {
		return unsupported(b.s, "SetPassword")
	}
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return s.SetPassword(ctx, id, hash, changedAt)
}

func (b deadlineUsers) ChangePassword(ctx context.Context, id, oldHash, newHash string, changedAt time.Time) (err error) {
	s, ok := b.s.(account.PasswordChanger)
	if !ok {
		return unsupported(b.s, "ChangePassword")
	}
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return s.ChangePassword(ctx, id, oldHash, newHash, changedAt)
}

func (b deadlineUsers) RehashPassword(ctx context.Context, id, oldHash, newHash string) (err error) {
	s, ok := b.s.(account.Rehasher)
	if !ok {
		return unsupported(b.s, "RehashPassword")
	}
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return s.RehashPassword(ctx, id, oldHash, newHash)
}

func (b deadlineUsers) SetDisabled(ctx context.Context, id string, disabled bool) (err error) {
	s, ok := b.s.(disabler)
	if !ok {
		return unsupported(b.s, "SetDisabled")
	}
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return s.SetDisabled(ctx, id, disabled)
}

func (b deadlineUsers) SetRoles(ctx context.Context, id string, roles []string) (err error) {
	s, ok := b.s.(roleSetter)
	if !ok {
		return unsupported(b.s, "SetRoles")
	}
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return s.SetRoles(ctx, id, roles)
}

var _ account.Store = deadlineUsers{}

// deadlineRemember calls an account.RememberStore with a deadline on each
// call.
type deadlineRemember struct {
	s account.RememberStore
	d time.Duration
	o storeHealth
}

func (b deadlineRemember) CreateRemember(ctx context.Context, t *account.RememberToken) (err error) {
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.CreateRemember(ctx, t)
}

func (b deadlineRemember) RememberBySelector(ctx context.Context, selector string, now time.Time) (_ *account.RememberToken, err error) {
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.RememberBySelector(ctx, selector, now)
}

func (b deadlineRemember) RotateRemember(ctx context.Context, selector string, oldHash, newHash []byte, now, expiresAt time.Time) (err error) {
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.RotateRemember(ctx, selector, oldHash, newHash, now, expiresAt)
}

func (b deadlineRemember) DeleteRemember(ctx context.Context, selector string) (err error) {
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteRemember(ctx, selector)
}

func (b deadlineRemember) DeleteRememberByUser(ctx context.Context, userID string) (_ int, err error) {
	defer b.o.noteOK(&err)
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteRememberByUser(ctx, userID)
}

// storeHealth tells the Manager's outage log about calls that succeeded,
// so an outage of the stores ends in the log once they answer again;
// failures are logged where they are wrapped (Manager.storeFailure), by
// callers that know a missing record from a broken store.
type storeHealth struct{ log *outage.Log }

func (h storeHealth) noteOK(err *error) {
	if *err == nil && h.log != nil {
		h.log.OK()
	}
}
