package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/recovery"
)

// RecoveryStore keeps emailed link tokens and verified addresses
// (recovery.Store) in the tables hallpass_email_tokens and
// hallpass_verified_emails of a DB. Get it from DB.Recovery.
type RecoveryStore struct{ db *DB }

var _ recovery.Store = (*RecoveryStore)(nil)

// Recovery returns the store of emailed links and verified addresses.
func (d *DB) Recovery() *RecoveryStore { return &RecoveryStore{db: d} }

const emailTokenColumns = `hash, purpose, user_id, email, created_at, expires_at`

func scanEmailToken(row interface{ Scan(...any) error }) (*recovery.Token, error) {
	var t recovery.Token
	var created, expires int64
	if err := row.Scan(&t.Hash, &t.Purpose, &t.UserID, &t.Email, &created, &expires); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
	return &t, nil
}

// CreateEmailToken stores t.
func (s *RecoveryStore) CreateEmailToken(ctx context.Context, t *recovery.Token) error {
	_, err := s.db.write.ExecContext(ctx, `INSERT INTO hallpass_email_tokens (`+emailTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, string(t.Purpose), t.UserID, t.Email, ms(t.CreatedAt), ms(t.ExpiresAt))
	if err != nil {
		return wrap(ctx, "create email token", err)
	}
	return nil
}

// EmailToken returns the token, or account.ErrNotFound.
func (s *RecoveryStore) EmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	return s.one(ctx, "email token", s.db.read,
		`SELECT `+emailTokenColumns+` FROM hallpass_email_tokens WHERE hash = ? AND purpose = ?`, hash, string(p))
}

// TakeEmailToken removes and returns the token in one statement, or
// returns account.ErrNotFound.
func (s *RecoveryStore) TakeEmailToken(ctx context.Context, hash []byte, p recovery.Purpose) (*recovery.Token, error) {
	return s.one(ctx, "take email token", s.db.write,
		`DELETE FROM hallpass_email_tokens WHERE hash = ? AND purpose = ? RETURNING `+emailTokenColumns, hash, string(p))
}

func (s *RecoveryStore) one(ctx context.Context, op string, db *sql.DB, query string, args ...any) (*recovery.Token, error) {
	t, err := scanEmailToken(db.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, op, err)
		}
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return t, nil
}

// DeleteEmailTokens removes the user's tokens with purpose p.
func (s *RecoveryStore) DeleteEmailTokens(ctx context.Context, userID string, p recovery.Purpose) (int, error) {
	return execCount(ctx, s.db.write, "delete email tokens", `DELETE FROM hallpass_email_tokens WHERE user_id = ? AND purpose = ?`, userID, string(p))
}

// DeleteExpiredEmailTokens removes the tokens expired at now. The DB's
// background sweep calls it too.
func (s *RecoveryStore) DeleteExpiredEmailTokens(ctx context.Context, now time.Time) (int, error) {
	return execCount(ctx, s.db.write, "delete expired email tokens", `DELETE FROM hallpass_email_tokens WHERE expires_at <= ?`, ms(now))
}

// execCount runs query, a write, on w and returns how many rows it
// changed.
func execCount(ctx context.Context, w *sql.DB, op, query string, args ...any) (int, error) {
	res, err := w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	return int(n), nil
}

// SetVerifiedEmail records the user's verified address.
func (s *RecoveryStore) SetVerifiedEmail(ctx context.Context, userID, email string, at time.Time) error {
	_, err := s.db.write.ExecContext(ctx, `INSERT INTO hallpass_verified_emails (user_id, email, verified_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, verified_at = excluded.verified_at`, userID, email, ms(at))
	if err != nil {
		return wrap(ctx, "set verified email", err)
	}
	return nil
}

// VerifiedEmail returns the user's verified address, or
// account.ErrNotFound.
func (s *RecoveryStore) VerifiedEmail(ctx context.Context, userID string) (string, time.Time, error) {
	var email string
	var at int64
	err := s.db.read.QueryRowContext(ctx, `SELECT email, verified_at FROM hallpass_verified_emails WHERE user_id = ?`, userID).Scan(&email, &at)
	if errors.Is(err, sql.ErrNoRows) {
		if err := ctx.Err(); err != nil {
			return "", time.Time{}, wrap(ctx, "verified email", err)
		}
		return "", time.Time{}, account.ErrNotFound
	}
	if err != nil {
		return "", time.Time{}, wrap(ctx, "verified email", err)
	}
	return email, time.UnixMilli(at), nil
}

// sweep deletes expired email tokens, for the background sweep.
func (s *RecoveryStore) sweep(ctx context.Context) (int, error) {
	return s.DeleteExpiredEmailTokens(ctx, s.db.now())
}

// UserByEmail returns the oldest user whose address equals email ignoring
// the case of ASCII letters, or account.ErrNotFound (recovery.Users).
func (s *AccountStore) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	u, err := scanUser(s.db.read.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM hallpass_users WHERE email = ? COLLATE NOCASE ORDER BY id LIMIT 1`, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.notFound(ctx, "user by email")
	}
	if err != nil {
		return nil, wrap(ctx, "user by email", err)
	}
	return u, nil
}

var _ recovery.UsersByEmail = (*AccountStore)(nil)

// UsersByEmail returns the users whose address equals email ignoring the
// case of ASCII letters, oldest first, at most recovery.MaxUsersByEmail;
// none for an empty email (recovery.UsersByEmail).
func (s *AccountStore) UsersByEmail(ctx context.Context, email string) ([]*account.User, error) {
	const op = "users by email"
	if email == "" {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, op, err)
		}
		return nil, nil
	}
	return s.queryUsers(ctx, op, `SELECT `+userColumns+` FROM hallpass_users
		WHERE email = ? COLLATE NOCASE ORDER BY id LIMIT ?`, email, recovery.MaxUsersByEmail)
}

// SetEmail changes the user's address, or returns account.ErrNotFound
// (recovery.EmailSetter).
func (s *AccountStore) SetEmail(ctx context.Context, id, email string) error {
	return s.updateUser(ctx, "set email", id, `UPDATE hallpass_users SET email = ? WHERE id = ?`, email)
}
