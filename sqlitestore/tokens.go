package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/internal/seqid"
)

// insertToken runs the INSERT query of a token owned by the user userID,
// whose first parameter is the user's ID, and returns the result. An empty
// userID is an error wrapping account.ErrInvalid; any other names a user,
// of this store or of an app's own table.
func (s *AccountStore) insertToken(ctx context.Context, op, userID, query string, args ...any) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	if userID == "" {
		return nil, fmt.Errorf("sqlitestore: %s: no user ID: %w", op, account.ErrInvalid)
	}
	res, err := s.db.write.ExecContext(ctx, query, append([]any{userID}, args...)...)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return res, nil
}

// CreateRemember stores t. A selector already in use is an error, and so
// is an empty t.UserID (wrapping account.ErrInvalid).
func (s *AccountStore) CreateRemember(ctx context.Context, t *account.RememberToken) error {
	_, err := s.insertToken(ctx, "create remember token", t.UserID, `INSERT INTO hallpass_remember_tokens
		(user_id, selector, validator_hash, prev_hash, rotated_at, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.Selector, t.ValidatorHash, t.PrevHash, optMs(t.RotatedAt), ms(t.CreatedAt), ms(t.ExpiresAt))
	return err
}

const rememberBySelectorSQL = `SELECT validator_hash, prev_hash, rotated_at, user_id, created_at, expires_at
	FROM hallpass_remember_tokens WHERE selector = ? AND expires_at > ?`

// RememberBySelector returns the token with selector, or
// account.ErrNotFound when there is none or it expired at now.
func (s *AccountStore) RememberBySelector(ctx context.Context, selector string, now time.Time) (*account.RememberToken, error) {
	t := account.RememberToken{Selector: selector}
	var rotated, created, expires int64
	err := s.rememberBySel.QueryRowContext(ctx, selector, ms(now)).
		Scan(&t.ValidatorHash, &t.PrevHash, &rotated, &t.UserID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "remember token by selector", err)
	}
	t.RotatedAt, t.CreatedAt, t.ExpiresAt = optTime(rotated), time.UnixMilli(created), time.UnixMilli(expires)
	return &t, nil
}

// RotateRemember replaces the token's digest oldHash with newHash in one
// transaction, as account.RememberStore describes.
func (s *AccountStore) RotateRemember(ctx context.Context, selector string, oldHash, newHash []byte, now, expiresAt time.Time) error {
	const op = "rotate remember token"
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer tx.Rollback()
	// On the right of SET, columns hold the row's old values: prev_hash
	// gets the digest being replaced.
	res, err := tx.ExecContext(ctx, `UPDATE hallpass_remember_tokens
		SET validator_hash = ?, prev_hash = validator_hash, rotated_at = ?, expires_at = ?
		WHERE selector = ? AND validator_hash = ? AND expires_at > ?`,
		newHash, optMs(now), ms(expiresAt), selector, oldHash, ms(now))
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(ctx, op, err)
	} else if n == 0 {
		return s.conflictOrNotFound(ctx, tx, op,
			`SELECT 1 FROM hallpass_remember_tokens WHERE selector = ? AND expires_at > ?`, selector, ms(now))
	}
	if err := tx.Commit(); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// DeleteRemember removes the token, if any.
func (s *AccountStore) DeleteRemember(ctx context.Context, selector string) error {
	if _, err := s.db.write.ExecContext(ctx, `DELETE FROM hallpass_remember_tokens WHERE selector = ?`, selector); err != nil {
		return wrap(ctx, "delete remember token", err)
	}
	return nil
}

// DeleteRememberByUser removes the user's tokens and returns how many,
// counting the expired ones the sweep has not deleted yet.
func (s *AccountStore) DeleteRememberByUser(ctx context.Context, userID string) (int, error) {
	return s.deleteByUser(ctx, "delete remember tokens by user", `DELETE FROM hallpass_remember_tokens WHERE user_id = ?`, userID)
}

// deleteByUser runs query, a DELETE taking a user's ID, and returns how
// many rows it deleted.
func (s *AccountStore) deleteByUser(ctx context.Context, op, query, userID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, wrap(ctx, op, err)
	}
	if userID == "" {
		return 0, nil
	}
	return execCount(ctx, s.db.write, op, query, userID)
}

// CreateToken stores t, assigning t.ID. A digest already in use is an
// error, and so is an empty t.UserID (wrapping account.ErrInvalid).
func (s *AccountStore) CreateToken(ctx context.Context, t *account.APIToken) error {
	res, err := s.insertToken(ctx, "create api token", t.UserID, `INSERT INTO hallpass_api_tokens
		(user_id, name, hash, created_at, expires_at, last_used_at, scopes) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.Name, t.Hash, ms(t.CreatedAt), optMs(t.ExpiresAt), optMs(t.LastUsedAt), strings.Join(t.Scopes, " "))
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap(ctx, "create api token", err)
	}
	t.ID = seqid.Format(id)
	return nil
}

const tokenColumns = `id, user_id, name, hash, created_at, expires_at, last_used_at, scopes`

// scanToken reads a row of tokenColumns.
func scanToken(row interface{ Scan(...any) error }) (*account.APIToken, error) {
	var (
		t                              account.APIToken
		id, created, expires, lastUsed int64
		scopes                         string
	)
	if err := row.Scan(&id, &t.UserID, &t.Name, &t.Hash, &created, &expires, &lastUsed, &scopes); err != nil {
		return nil, err
	}
	t.Scopes = strings.Fields(scopes)
	t.ID = seqid.Format(id)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = time.UnixMilli(created), optTime(expires), optTime(lastUsed)
	return &t, nil
}

const tokenByHashSQL = `SELECT ` + tokenColumns + ` FROM hallpass_api_tokens
	WHERE hash = ? AND (expires_at = 0 OR expires_at > ?)`

// TokenByHash returns the token whose digest is hash, or
// account.ErrNotFound when there is none or it expired at now.
func (s *AccountStore) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.APIToken, error) {
	t, err := scanToken(s.tokenByHash.QueryRowContext(ctx, hash, ms(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "api token by hash", err)
	}
	return t, nil
}

// ListTokens returns the user's tokens, expired ones included (until the
// sweep deletes them, account.ExpiredTokenRetention after they expire),
// newest first.
func (s *AccountStore) ListTokens(ctx context.Context, userID string) ([]*account.APIToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, "list api tokens", err)
	}
	list := []*account.APIToken{}
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM hallpass_api_tokens
		WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, wrap(ctx, "list api tokens", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, wrap(ctx, "list api tokens", err)
		}
		list = append(list, t)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list api tokens", err)
	}
	return list, nil
}

const touchTokenSQL = `UPDATE hallpass_api_tokens SET last_used_at = ? WHERE id = ?`

// TouchToken sets the token's LastUsedAt to t. A missing token is not an
// error.
func (s *AccountStore) TouchToken(ctx context.Context, id string, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, "touch api token", err)
	}
	n, ok := seqid.Parse(id)
	if !ok {
		return nil
	}
	if _, err := s.touchToken.ExecContext(ctx, optMs(t), n); err != nil {
		return wrap(ctx, "touch api token", err)
	}
	return nil
}

// DeleteToken removes the user's token id, or returns account.ErrNotFound
// when the user has no such token.
func (s *AccountStore) DeleteToken(ctx context.Context, userID, id string) error {
	const op = "delete api token"
	n, ok := seqid.Parse(id)
	if !ok {
		return s.notFound(ctx, op)
	}
	res, err := s.db.write.ExecContext(ctx, `DELETE FROM hallpass_api_tokens WHERE id = ? AND user_id = ?`, n, userID)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return wrap(ctx, op, err)
	} else if k == 0 {
		return account.ErrNotFound
	}
	return nil
}

// DeleteTokensByUser removes the user's tokens, expired ones included,
// and returns how many.
func (s *AccountStore) DeleteTokensByUser(ctx context.Context, userID string) (int, error) {
	return s.deleteByUser(ctx, "delete api tokens by user", `DELETE FROM hallpass_api_tokens WHERE user_id = ?`, userID)
}
