package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/recovery"
)

// RecoveryStore keeps emailed link tokens and verified addresses
// (recovery.Store) in the tables hallpass_email_tokens and
// hallpass_verified_emails. Get it from DB.Recovery.
type RecoveryStore struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ recovery.Store = (*RecoveryStore)(nil)

// Recovery returns the store of emailed links and verified addresses.
func (d *DB) Recovery() *RecoveryStore { return &RecoveryStore{pool: d.pool, now: d.now} }

const emailTokenColumns = `hash, purpose, user_id, email, created_at, expires_at`

// CreateEmailToken stores t.
func (s *RecoveryStore) CreateEmailToken(ctx context.Context, t *recovery.Token) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO hallpass_email_tokens (`+emailTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, string(t.Purpose), t.UserID, cleanText(t.Email), t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return wrap(ctx, "create email token", err)
	}
	return nil
}

// EmailToken returns the token, or an error wrapping account.ErrNotFound.
func (s *RecoveryStore) EmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	return s.one(ctx, "email token",
		`SELECT `+emailTokenColumns+` FROM hallpass_email_tokens WHERE hash = $1 AND purpose = $2`, hash, string(p))
}

// TakeEmailToken removes and returns the token in one statement, or
// returns an error wrapping account.ErrNotFound.
func (s *RecoveryStore) TakeEmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	return s.one(ctx, "take email token",
		`DELETE FROM hallpass_email_tokens WHERE hash = $1 AND purpose = $2 RETURNING `+emailTokenColumns, hash, string(p))
}

func (s *RecoveryStore) one(ctx context.Context, op, query string, args ...any) (*recovery.Token, error) {
	var t recovery.Token
	var purpose string
	err := s.pool.QueryRow(ctx, query, args...).Scan(&t.Hash, &purpose, &t.UserID, &t.Email, &t.CreatedAt, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ctx, op)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	t.Purpose = recovery.Purpose(purpose)
	return &t, nil
}

// DeleteEmailTokens removes the user's tokens with purpose p.
func (s *RecoveryStore) DeleteEmailTokens(ctx context.Context, userID string, p recovery.Purpose) (int, error) {
	return s.exec(ctx, "delete email tokens", `DELETE FROM hallpass_email_tokens WHERE user_id = $1 AND purpose = $2`, userID, string(p))
}

// DeleteExpiredEmailTokens removes the tokens expired at now. The DB's
// background sweep calls it too.
func (s *RecoveryStore) DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int, error) {
	return s.exec(ctx, "delete expired email tokens", `DELETE FROM hallpass_email_tokens WHERE expires_at <= $1`, now)
}

func (s *RecoveryStore) exec(ctx context.Context, op, query string, args ...any) (int, error) {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	return int(tag.RowsAffected()), nil
}

// SetVerifiedEmail records the user's verified address.
func (s *RecoveryStore) SetVerifiedEmail(ctx context.Context, userID, email string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO hallpass_verified_emails (user_id, email, verified_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, verified_at = excluded.verified_at`, userID, cleanText(email), at)
	if err != nil {
		return wrap(ctx, "set verified email", err)
	}
	return nil
}

// VerifiedEmail returns the user's verified address, or an error wrapping
// account.ErrNotFound.
func (s *RecoveryStore) VerifiedEmail(ctx context.Context, userID string) (string, time.Time, error) {
	var email string
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT email, verified_at FROM hallpass_verified_emails WHERE user_id = $1`, userID).Scan(&email, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, notFound(ctx, "verified email")
	}
	if err != nil {
		return "", time.Time{}, wrap(ctx, "verified email", err)
	}
	return email, at, nil
}

// sweep deletes expired email tokens, for the background sweep.
func (s *RecoveryStore) sweep(ctx context.Context) (int, error) {
	return s.DeleteExpiredEmailTokens(ctx, s.now())
}

// UserByEmail returns the oldest user whose address equals email ignoring
// case, or an error wrapping account.ErrNotFound (recovery.Users).
func (s *AccountStore) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	const op = "user by email"
	if !validText(email) {
		return nil, notFound(ctx, op)
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM hallpass_users
		WHERE lower(email) = lower($1) ORDER BY id LIMIT 1`, email))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ctx, op)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return u, nil
}

var _ recovery.UsersByEmail = (*AccountStore)(nil)

// UsersByEmail returns the users whose address equals email ignoring
// case, oldest first, at most recovery.MaxUsersByEmail; none for an empty
// email (recovery.UsersByEmail).
func (s *AccountStore) UsersByEmail(ctx context.Context, email string) ([]*account.User, error) {
	const op = "users by email"
	if email == "" || !validText(email) {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, op, err)
		}
		return nil, nil
	}
	return s.queryUsers(ctx, op, `SELECT `+userColumns+` FROM hallpass_users
		WHERE lower(email) = lower($1) ORDER BY id LIMIT $2`, email, recovery.MaxUsersByEmail)
}

// SetEmail changes the user's address, or returns an error wrapping
// account.ErrNotFound (recovery.EmailSetter).
func (s *AccountStore) SetEmail(ctx context.Context, id, email string) error {
	return s.updateUser(ctx, "set email", id, `UPDATE hallpass_users SET email = $1 WHERE id = $2`, cleanText(email))
}
