package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/passkey"
)

// PasskeyStore keeps passkeys (passkey.Store) in the table
// hallpass_passkeys. Get it from DB.Passkeys.
type PasskeyStore struct{ pool *pgxpool.Pool }

var _ passkey.Store = (*PasskeyStore)(nil)

// Passkeys returns the store of passkeys.
func (d *DB) Passkeys() *PasskeyStore { return &PasskeyStore{pool: d.pool} }

const passkeyColumns = `id, user_id, name, created_at, last_used_at, sign_count, data`

func scanPasskey(row pgx.Row) (*passkey.Credential, error) {
	var c passkey.Credential
	var used *time.Time
	var count int64
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.CreatedAt, &used, &count, &c.Data); err != nil {
		return nil, err
	}
	if used != nil {
		c.LastUsedAt = *used
	}
	c.SignCount = uint32(count)
	return &c, nil
}

func optTimestamp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// AddCredential stores c.
func (s *PasskeyStore) AddCredential(ctx context.Context, c *passkey.Credential) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO hallpass_passkeys (`+passkeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.ID, c.UserID, c.Name, c.CreatedAt, optTimestamp(c.LastUsedAt), int64(c.SignCount), c.Data)
	if code, _ := pgError(err); code == uniqueViolation {
		return fmt.Errorf("pgstore: add passkey: %w", account.ErrConflict)
	}
	if err != nil {
		return wrap(ctx, "add passkey", err)
	}
	return nil
}

// CredentialsByUser returns the user's passkeys, oldest first.
func (s *PasskeyStore) CredentialsByUser(ctx context.Context, userID string) ([]*passkey.Credential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+passkeyColumns+` FROM hallpass_passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrap(ctx, "list passkeys", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*passkey.Credential, error) { return scanPasskey(r) })
	if err != nil {
		return nil, wrap(ctx, "list passkeys", err)
	}
	if out == nil {
		out = []*passkey.Credential{}
	}
	return out, nil
}

// CredentialByID returns the passkey, or account.ErrNotFound.
func (s *PasskeyStore) CredentialByID(ctx context.Context, id []byte) (*passkey.Credential, error) {
	c, err := scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM hallpass_passkeys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: passkey: %w", account.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "passkey", err)
	}
	return c, nil
}

// UseCredential records a use in one statement, when the count is still
// oldCount.
func (s *PasskeyStore) UseCredential(ctx context.Context, id []byte, oldCount, newCount uint32, data []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE hallpass_passkeys SET sign_count = $1, data = $2, last_used_at = $3 WHERE id = $4 AND sign_count = $5`,
		int64(newCount), data, at, id, int64(oldCount))
	if err != nil {
		return wrap(ctx, "use passkey", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.CredentialByID(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("pgstore: use passkey: %w", account.ErrConflict)
}

// DeleteCredential removes the user's passkey.
func (s *PasskeyStore) DeleteCredential(ctx context.Context, userID string, id []byte) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM hallpass_passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return wrap(ctx, "delete passkey", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: delete passkey: %w", account.ErrNotFound)
	}
	return nil
}
