package recovery

import (
	"context"
	"time"

	"github.com/hallpass/hallpass/account"
)

// deadlineStore calls a Store with a deadline on each call, so a store
// whose network has gone silent fails a reset or verification step
// (503) instead of hanging it, as the session and account stores do.
type deadlineStore struct {
	s Store
	d time.Duration
}

func (b deadlineStore) CreateEmailToken(ctx context.Context, t *Token) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.CreateEmailToken(ctx, t)
}

func (b deadlineStore) EmailToken(ctx context.Context, hash []byte, purpose Purpose) (*Token, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.EmailToken(ctx, hash, purpose)
}

func (b deadlineStore) TakeEmailToken(ctx context.Context, hash []byte, purpose Purpose) (*Token, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.TakeEmailToken(ctx, hash, purpose)
}

func (b deadlineStore) DeleteEmailTokens(ctx context.Context, userID string, purpose Purpose) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteEmailTokens(ctx, userID, purpose)
}

func (b deadlineStore) DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.DeleteExpiredEmailTokens(ctx, now)
}

func (b deadlineStore) SetVerifiedEmail(ctx context.Context, userID, email string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.SetVerifiedEmail(ctx, userID, email, at)
}

func (b deadlineStore) VerifiedEmail(ctx context.Context, userID string) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.VerifiedEmail(ctx, userID)
}

// deadlineUsers is deadlineStore for Config.Users.
type deadlineUsers struct {
	u Users
	d time.Duration
}

func (b deadlineUsers) UserByID(ctx context.Context, id string) (*account.User, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.u.UserByID(ctx, id)
}

func (b deadlineUsers) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.u.UserByEmail(ctx, email)
}

// deadlineUsersByEmail is deadlineUsers for Users that implement
// UsersByEmail, so the capability survives the wrapping.
type deadlineUsersByEmail struct {
	deadlineUsers
	all UsersByEmail
}

func (b deadlineUsersByEmail) UsersByEmail(ctx context.Context, email string) ([]*account.User, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.all.UsersByEmail(ctx, email)
}

// withDeadline returns u with a deadline of d on each call, keeping its
// UsersByEmail if it has one.
func withDeadline(u Users, d time.Duration) Users {
	w := deadlineUsers{u, d}
	if all, ok := u.(UsersByEmail); ok {
		return deadlineUsersByEmail{w, all}
	}
	return w
}

// deadlineEmails is deadlineStore for Config.SetEmail.
type deadlineEmails struct {
	e EmailSetter
	d time.Duration
}

func (b deadlineEmails) SetEmail(ctx context.Context, id, email string) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.e.SetEmail(ctx, id, email)
}
