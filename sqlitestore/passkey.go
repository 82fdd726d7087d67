package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/passkey"
)

// PasskeyStore keeps passkeys (passkey.Store) in the table
// hallpass_passkeys of a DB. Get it from DB.Passkeys.
type PasskeyStore struct{ db *DB }

var _ passkey.Store = (*PasskeyStore)(nil)

// Passkeys returns the store of passkeys.
func (d *DB) Passkeys() *PasskeyStore { return &PasskeyStore{db: d} }

const passkeyColumns = `id, user_id, name, created_at, last_used_at, sign_count, data`

func scanPasskey(row interface{ Scan(...any) error }) (*passkey.Credential, error) {
	var c passkey.Credential
	var created, used int64
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &created, &used, &c.SignCount, &c.Data); err != nil {
		return nil, err
	}
	c.CreatedAt, c.LastUsedAt = time.UnixMilli(created), optTime(used)
	return &c, nil
}

// AddCredential stores c.
func (s *PasskeyStore) AddCredential(ctx context.Context, c *passkey.Credential) error {
	_, err := s.db.write.ExecContext(ctx, `INSERT INTO hallpass_passkeys (`+passkeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.Name, ms(c.CreatedAt), optMs(c.LastUsedAt), c.SignCount, c.Data)
	if constraint(err) == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return fmt.Errorf("sqlitestore: add passkey: %w", account.ErrConflict)
	}
	if err != nil {
		return wrap(ctx, "add passkey", err)
	}
	return nil
}

// CredentialsByUser returns the user's passkeys, oldest first.
func (s *PasskeyStore) CredentialsByUser(ctx context.Context, userID string) ([]*passkey.Credential, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+passkeyColumns+` FROM hallpass_passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrap(ctx, "list passkeys", err)
	}
	defer rows.Close()
	out := []*passkey.Credential{}
	for rows.Next() {
		c, err := scanPasskey(rows)
		if err != nil {
			return nil, wrap(ctx, "list passkeys", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list passkeys", err)
	}
	return out, nil
}

// CredentialByID returns the passkey, or account.ErrNotFound.
func (s *PasskeyStore) CredentialByID(ctx context.Context, id []byte) (*passkey.Credential, error) {
	c, err := scanPasskey(s.db.read.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM hallpass_passkeys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, "passkey", err)
		}
		return nil, fmt.Errorf("sqlitestore: passkey: %w", account.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "passkey", err)
	}
	return c, nil
}

// UseCredential records a use in one statement, when the count is still
// oldCount.
func (s *PasskeyStore) UseCredential(ctx context.Context, id []byte, oldCount, newCount uint32, data []byte, at time.Time) error {
	n, err := execCount(ctx, s.db.write, "use passkey", `UPDATE hallpass_passkeys SET sign_count = ?, data = ?, last_used_at = ? WHERE id = ? AND sign_count = ?`,
		newCount, data, ms(at), id, oldCount)
	if err != nil || n == 1 {
		return err
	}
	if _, err := s.CredentialByID(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("sqlitestore: use passkey: %w", account.ErrConflict)
}

// DeleteCredential removes the user's passkey.
func (s *PasskeyStore) DeleteCredential(ctx context.Context, userID string, id []byte) error {
	n, err := execCount(ctx, s.db.write, "delete passkey", `DELETE FROM hallpass_passkeys WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: delete passkey: %w", account.ErrNotFound)
	}
	return nil
}
