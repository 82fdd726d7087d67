package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/twofa"
)

// TwoFAStore keeps second factors (twofa.Store) in the tables
// hallpass_totp and hallpass_recovery_codes of a DB. Get it from
// DB.TwoFA.
type TwoFAStore struct{ db *DB }

var _ twofa.Store = (*TwoFAStore)(nil)

// TwoFA returns the store of second factors.
func (d *DB) TwoFA() *TwoFAStore { return &TwoFAStore{db: d} }

// SecondFactor returns the user's factor, or account.ErrNotFound.
func (s *TwoFAStore) SecondFactor(ctx context.Context, userID string) (*twofa.Factor, error) {
	f := twofa.Factor{UserID: userID}
	var enabled int64
	err := s.db.read.QueryRowContext(ctx, `SELECT secret, enabled_at, last_step FROM hallpass_totp WHERE user_id = ?`, userID).
		Scan(&f.Secret, &enabled, &f.LastStep)
	if errors.Is(err, sql.ErrNoRows) {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, "second factor", err)
		}
		return nil, fmt.Errorf("sqlitestore: second factor: %w", account.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "second factor", err)
	}
	f.EnabledAt = time.UnixMilli(enabled)
	rows, err := s.db.read.QueryContext(ctx, `SELECT hash FROM hallpass_recovery_codes WHERE user_id = ?`, userID)
	if err != nil {
		return nil, wrap(ctx, "recovery codes", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, wrap(ctx, "recovery codes", err)
		}
		f.RecoveryCodes = append(f.RecoveryCodes, h)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "recovery codes", err)
	}
	return &f, nil
}

// inTx runs fn in a write transaction.
func (s *TwoFAStore) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if errors.Is(err, account.ErrNotFound) || errors.Is(err, account.ErrConflict) {
			return fmt.Errorf("sqlitestore: %s: %w", op, err)
		}
		return wrap(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

func insertCodes(ctx context.Context, tx *sql.Tx, userID string, hashes [][]byte) error {
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hallpass_recovery_codes (user_id, hash) VALUES (?, ?)`, userID, h); err != nil {
			return err
		}
	}
	return nil
}

// CreateSecondFactor stores f and its codes, or returns
// account.ErrConflict when the user has a factor.
func (s *TwoFAStore) CreateSecondFactor(ctx context.Context, f *twofa.Factor) error {
	return s.inTx(ctx, "create second factor", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO hallpass_totp (user_id, secret, enabled_at, last_step) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id) DO NOTHING`, f.UserID, f.Secret, ms(f.EnabledAt), f.LastStep)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return account.ErrConflict
		}
		// Codes kept without a factor (none should be) are not this one's.
		if _, err := tx.ExecContext(ctx, `DELETE FROM hallpass_recovery_codes WHERE user_id = ?`, f.UserID); err != nil {
			return err
		}
		return insertCodes(ctx, tx, f.UserID, f.RecoveryCodes)
	})
}

// DeleteSecondFactor removes the user's factor and codes.
func (s *TwoFAStore) DeleteSecondFactor(ctx context.Context, userID string) error {
	return s.inTx(ctx, "delete second factor", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM hallpass_totp WHERE user_id = ?`, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return account.ErrNotFound
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM hallpass_recovery_codes WHERE user_id = ?`, userID)
		return err
	})
}

// UseTOTPStep moves last_step forward to step in one statement.
func (s *TwoFAStore) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	n, err := execCount(ctx, s.db.write, "use totp step", `UPDATE hallpass_totp SET last_step = ? WHERE user_id = ? AND last_step < ?`, step, userID, step)
	if err != nil || n == 1 {
		return err
	}
	if _, err := s.SecondFactor(ctx, userID); err != nil {
		return err
	}
	return fmt.Errorf("sqlitestore: use totp step: %w", account.ErrConflict)
}

// UseRecoveryCode deletes one recovery code in one statement.
func (s *TwoFAStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	n, err := execCount(ctx, s.db.write, "use recovery code", `DELETE FROM hallpass_recovery_codes WHERE user_id = ? AND hash = ?`, userID, hash)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: use recovery code: %w", account.ErrNotFound)
	}
	return nil
}

// SetRecoveryCodes replaces the user's codes.
func (s *TwoFAStore) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	return s.inTx(ctx, "set recovery codes", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM hallpass_totp WHERE user_id = ?`, userID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return account.ErrNotFound
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM hallpass_recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		return insertCodes(ctx, tx, userID, hashes)
	})
}

// UsersWithSecondFactor lists the users with a factor.
func (s *TwoFAStore) UsersWithSecondFactor(ctx context.Context) ([]string, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT user_id FROM hallpass_totp`)
	if err != nil {
		return nil, wrap(ctx, "list second factors", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap(ctx, "list second factors", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list second factors", err)
	}
	return ids, nil
}
