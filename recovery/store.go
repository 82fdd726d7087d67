package recovery

import (
	"context"
	"time"

	"github.com/hallpass/hallpass/account"
)

// Purpose says what an emailed link does.
type Purpose string

// The purposes of links.
const (
	// Reset links set a new password (GET|POST /password/reset/{token}).
	Reset Purpose = "reset"
	// Verify links prove that Token.Email, the user's address, belongs
	// to the user (GET /verify/{token}).
	Verify Purpose = "verify"
	// Change links prove a new address, Token.Email, and make it the
	// user's (GET /verify/{token} too).
	Change Purpose = "change"
)

// Token is an emailed link as stored: only a SHA-256 digest of its secret
// is kept, so a leaked store holds no live link.
type Token struct {
	Hash      []byte // SHA-256 of the secret in the link; unique
	Purpose   Purpose
	UserID    string // the user's ID, as text; no foreign key
	Email     string // the address the link was sent to
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether t is expired at now: at or after ExpiresAt.
func (t *Token) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// Store keeps emailed link tokens and which address each user has
// verified. User IDs are opaque text: the store keeps no link to any
// users table, so it serves an app's own user table as well as hallpass's.
//
// A store may keep times at millisecond precision, no coarser. All methods
// honour ctx (a cancelled context returns an error wrapping ctx.Err());
// errors other than account.ErrNotFound are system failures. A Store is
// safe for concurrent use.
type Store interface {
	// CreateEmailToken stores t. t.Hash is new (32 random bytes hashed),
	// so a store may treat a duplicate as a system failure.
	CreateEmailToken(ctx context.Context, t *Token) error

	// EmailToken returns the token with hash and purpose without using
	// it up, expired or not (the caller judges ExpiresAt), or
	// account.ErrNotFound (also for a token of another purpose).
	EmailToken(ctx context.Context, hash []byte, purpose Purpose) (*Token, error)

	// TakeEmailToken removes and returns the token with hash and purpose,
	// atomically: of concurrent calls for one token, exactly one gets it
	// and the others get account.ErrNotFound. An expired token is taken
	// like any other, so the caller can tell "expired" from "unknown".
	TakeEmailToken(ctx context.Context, hash []byte, purpose Purpose) (*Token, error)

	// DeleteEmailTokens removes every token of the user with purpose and
	// returns how many.
	DeleteEmailTokens(ctx context.Context, userID string, purpose Purpose) (int, error)

	// DeleteExpiredEmailTokens removes every token expired at now and
	// returns how many.
	DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int, error)

	// SetVerifiedEmail records that the user proved email at at,
	// replacing any address recorded before.
	SetVerifiedEmail(ctx context.Context, userID, email string, at time.Time) error

	// VerifiedEmail returns the address the user last verified and when,
	// or account.ErrNotFound when they verified none.
	VerifiedEmail(ctx context.Context, userID string) (email string, at time.Time, err error)
}

// Users is what the flows need of the app's user table: finding a user by
// ID and by email address. hallpass's own account stores implement it, and
// so can an app's (the User needs ID, Username, Email, Disabled and, for a
// reset link to die with any later password change, PasswordChangedAt).
// Users whose addresses are not unique should implement UsersByEmail too.
type Users interface {
	// UserByID returns the user with id, or an error wrapping
	// account.ErrNotFound.
	UserByID(ctx context.Context, id string) (*account.User, error)
	// UserByEmail returns the user whose address equals email ignoring
	// case (the oldest when several share it), or an error wrapping
	// account.ErrNotFound. The reset flow uses it only when the Users
	// do not implement UsersByEmail.
	UserByEmail(ctx context.Context, email string) (*account.User, error)
}

// MaxUsersByEmail is the most accounts UsersByEmail returns, and so the
// most reset links one request sends: an address that many accounts share
// cannot fan one request out into unbounded mail.
const MaxUsersByEmail = 10

// UsersByEmail is an optional capability of Users, which the reset flow
// finds by type assertion: every account at an address, not only the
// oldest. Accounts may share an address (nothing at registration stops
// it), and with UserByEmail alone the oldest wins: once someone registers
// another person's address first, without ever proving it, every reset
// that person asks for mails a link to the squatter's account instead of
// theirs. With UsersByEmail each account at the address gets its own
// link, all in the one inbox, so nothing leaks to anyone else. hallpass's
// account stores implement it.
type UsersByEmail interface {
	// UsersByEmail returns the users whose address equals email ignoring
	// case, disabled ones included, oldest first: at most
	// MaxUsersByEmail of them, the oldest. When none has the address,
	// and for an empty email (not the users without an address), it
	// returns an empty slice and a nil error; the flow reads an error
	// wrapping account.ErrNotFound the same way.
	UsersByEmail(ctx context.Context, email string) ([]*account.User, error)
}

// EmailSetter changes a user's email address; an app that lets users
// change their address implements it beside Users. ErrNotFound for an
// unknown id.
type EmailSetter interface {
	SetEmail(ctx context.Context, id, email string) error
}
