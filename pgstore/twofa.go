package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/twofa"
)

// TwoFAStore keeps second factors (twofa.Store) in the tables
// hallpass_totp and hallpass_recovery_codes. Get it from DB.TwoFA.
type TwoFAStore struct{ pool *pgxpool.Pool }

var _ twofa.Store = (*TwoFAStore)(nil)

// TwoFA returns the store of second factors.
func (d *DB) TwoFA() *TwoFAStore { return &TwoFAStore{pool: d.pool} }

// SecondFactor returns the user's factor, or account.ErrNotFound.
func (s *TwoFAStore) SecondFactor(ctx context.Context, userID string) (*twofa.Factor, error) {
	f := twofa.Factor{UserID: userID}
	err := s.pool.QueryRow(ctx, `SELECT secret, enabled_at, last_step,
		coalesce((SELECT array_agg(hash) FROM hallpass_recovery_codes WHERE user_id = $1), '{}')
		FROM hallpass_totp WHERE user_id = $1`, userID).Scan(&f.Secret, &f.EnabledAt, &f.LastStep, &f.RecoveryCodes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: second factor: %w", account.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "second factor", err)
	}
	return &f, nil
}

func (s *TwoFAStore) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, fn)
	if errors.Is(err, account.ErrNotFound) || errors.Is(err, account.ErrConflict) {
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	if err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

func replaceCodes(ctx context.Context, tx pgx.Tx, userID string, hashes [][]byte) error {
	if _, err := tx.Exec(ctx, `DELETE FROM hallpass_recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO hallpass_recovery_codes (user_id, hash) SELECT $1, unnest($2::bytea[])`, userID, hashes)
	return err
}

// CreateSecondFactor stores f and its codes, or returns
// account.ErrConflict when the user has a factor.
func (s *TwoFAStore) CreateSecondFactor(ctx context.Context, f *twofa.Factor) error {
	return s.inTx(ctx, "create second factor", func(tx pgx.Tx) error {
		// Of concurrent inserts of the user's row, a later one waits for
		// the earlier's transaction and, once it commits, inserts nothing.
		tag, err := tx.Exec(ctx, `INSERT INTO hallpass_totp (user_id, secret, enabled_at, last_step) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id) DO NOTHING`, f.UserID, f.Secret, f.EnabledAt, f.LastStep)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return account.ErrConflict
		}
		// Codes kept without a factor (none should be) are not this one's.
		return replaceCodes(ctx, tx, f.UserID, f.RecoveryCodes)
	})
}

// DeleteSecondFactor removes the user's factor and codes.
func (s *TwoFAStore) DeleteSecondFactor(ctx context.Context, userID string) error {
	return s.inTx(ctx, "delete second factor", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM hallpass_totp WHERE user_id = $1`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return account.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM hallpass_recovery_codes WHERE user_id = $1`, userID)
		return err
	})
}

// UseTOTPStep moves last_step forward to step in one statement.
func (s *TwoFAStore) UseTOTPStep(ctx context.Context, userID string, step int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE hallpass_totp SET last_step = $1 WHERE user_id = $2 AND last_step < $1`, step, userID)
	if err != nil {
		return wrap(ctx, "use totp step", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.SecondFactor(ctx, userID); err != nil {
		return err
	}
	return fmt.Errorf("pgstore: use totp step: %w", account.ErrConflict)
}

// UseRecoveryCode deletes one recovery code in one statement.
func (s *TwoFAStore) UseRecoveryCode(ctx context.Context, userID string, hash []byte) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM hallpass_recovery_codes WHERE user_id = $1 AND hash = $2`, userID, hash)
	if err != nil {
		return wrap(ctx, "use recovery code", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: use recovery code: %w", account.ErrNotFound)
	}
	return nil
}

// SetRecoveryCodes replaces the user's codes.
func (s *TwoFAStore) SetRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	return s.inTx(ctx, "set recovery codes", func(tx pgx.Tx) error {
		var one int
		// FOR UPDATE orders concurrent replacements of one user's codes.
		err := tx.QueryRow(ctx, `SELECT 1 FROM hallpass_totp WHERE user_id = $1 FOR UPDATE`, userID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return account.ErrNotFound
		}
		if err != nil {
			return err
		}
		return replaceCodes(ctx, tx, userID, hashes)
	})
}

// UsersWithSecondFactor lists the users with a factor.
func (s *TwoFAStore) UsersWithSecondFactor(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM hallpass_totp`)
	if err != nil {
		return nil, wrap(ctx, "list second factors", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(ctx, "list second factors", err)
	}
	return ids, nil
}
