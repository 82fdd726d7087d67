package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/internal/seqid"
)

var (
	_ account.Store         = (*AccountStore)(nil)
	_ account.Importer      = (*AccountStore)(nil)
	_ account.Deleter       = (*AccountStore)(nil)
	_ account.RememberStore = (*AccountStore)(nil)
	_ account.TokenStore    = (*AccountStore)(nil)
)

// AccountStore keeps the user accounts, remember-me tokens and API tokens
// of a DB, in the tables hallpass_users, hallpass_remember_tokens and
// hallpass_api_tokens: it implements account.Store (with account.Importer
// and account.Deleter), account.RememberStore and account.TokenStore.
//
// User and token IDs are decimal integers, issued in creation order and
// never reused. Usernames are unique ignoring the case of ASCII letters.
// Timestamps are kept at millisecond precision. Tokens are kept under
// their user's ID as text, whoever keeps that user: hallpass_users, or an
// app's own table (an account.Source), which the token tables do not
// refer to.
//
// The DB's background sweep deletes expired remember-me tokens, and API
// tokens that expired more than account.ExpiredTokenRetention ago; Sweep
// runs one pass now.
type AccountStore struct {
	db *DB

	// Prepared statements for the queries of every request.
	userByID      *sql.Stmt // reader
	rememberBySel *sql.Stmt // reader
	tokenByHash   *sql.Stmt // reader
	touchToken    *sql.Stmt
}

// newAccountStore returns the AccountStore of d, with its statements
// prepared.
func newAccountStore(ctx context.Context, d *DB) (*AccountStore, error) {
	s := &AccountStore{db: d}
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&s.userByID, d.read, userByIDSQL},
		{&s.rememberBySel, d.read, rememberBySelectorSQL},
		{&s.tokenByHash, d.read, tokenByHashSQL},
		{&s.touchToken, d.write, touchTokenSQL},
	} {
		var err error
		if *p.stmt, err = p.db.PrepareContext(ctx, p.sql); err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
	}
	return s, nil
}

// close closes the prepared statements of s.
func (s *AccountStore) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.userByID, s.rememberBySel, s.tokenByHash, s.touchToken} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// stored returns t as the store keeps it: truncated to milliseconds.
func stored(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// optMs returns t as Unix milliseconds, or 0 for the zero time: the
// encoding of the optional time columns.
func optMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// optTime decodes an optional time column.
func optTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

// constraint returns the extended result code of a constraint violation,
// or 0 when err is not one.
func constraint(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT {
		return se.Code()
	}
	return 0
}

func encodeRoles(roles []string) string {
	if len(roles) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(roles) // a []string always encodes
	return string(b)
}

func decodeRoles(s string) ([]string, error) {
	var roles []string
	if err := json.Unmarshal([]byte(s), &roles); err != nil {
		return nil, fmt.Errorf("roles %q: %w", s, err)
	}
	if len(roles) == 0 {
		return nil, nil
	}
	return roles, nil
}

const userColumns = `id, username, email, roles, password_hash, disabled, created_at, password_changed_at`

const userByIDSQL = `SELECT ` + userColumns + ` FROM hallpass_users WHERE id = ?`

// scanUser reads a row of userColumns.
func scanUser(row interface{ Scan(...any) error }) (*account.User, error) {
	var (
		u                account.User
		id               int64
		roles            string
		created, changed int64
	)
	if err := row.Scan(&id, &u.Username, &u.Email, &roles, &u.PasswordHash, &u.Disabled, &created, &changed); err != nil {
		return nil, err
	}
	var err error
	if u.Roles, err = decodeRoles(roles); err != nil {
		return nil, err
	}
	u.ID = seqid.Format(id)
	u.CreatedAt, u.PasswordChangedAt = time.UnixMilli(created), time.UnixMilli(changed)
	return &u, nil
}

const insertUserSQL = `INSERT INTO hallpass_users (username, email, roles, password_hash, disabled, created_at, password_changed_at)
	VALUES (?, ?, ?, ?, ?, ?, ?)`

// userRow returns the values of insertUserSQL for u, whose zero times
// become now, and the times as stored.
func userRow(u *account.User, now time.Time) (args []any, created, changed time.Time) {
	created, changed = u.CreatedAt, u.PasswordChangedAt
	if created.IsZero() {
		created = now
	}
	if changed.IsZero() {
		changed = now
	}
	created, changed = stored(created), stored(changed)
	return []any{u.Username, u.Email, encodeRoles(u.Roles), u.PasswordHash, u.Disabled,
		ms(created), ms(changed)}, created, changed
}

// CreateUser stores u, assigning u.ID, and u.CreatedAt and
// u.PasswordChangedAt when they are zero; it leaves u's times as stored,
// truncated to milliseconds. It returns account.ErrUsernameTaken when the
// username exists in any letter case.
func (s *AccountStore) CreateUser(ctx context.Context, u *account.User) error {
	args, created, changed := userRow(u, s.db.now())
	res, err := s.db.write.ExecContext(ctx, insertUserSQL, args...)
	if constraint(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return fmt.Errorf("sqlitestore: create user %q: %w", u.Username, account.ErrUsernameTaken)
	}
	if err != nil {
		return wrap(ctx, "create user", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap(ctx, "create user", err)
	}
	u.ID, u.CreatedAt, u.PasswordChangedAt = seqid.Format(id), created, changed
	return nil
}

// ImportUsers stores users in one transaction, all or nothing, as
// account.Importer describes.
func (s *AccountStore) ImportUsers(ctx context.Context, users []*account.User) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, "import users", err)
	}
	if len(users) == 0 {
		return nil
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, "import users", err)
	}
	defer tx.Rollback()
	insert, err := tx.PrepareContext(ctx, insertUserSQL)
	if err != nil {
		return wrap(ctx, "import users", err)
	}
	defer insert.Close()

	type result struct {
		id               int64
		created, changed time.Time
	}
	results := make([]result, len(users))
	now := s.db.now()
	for i, u := range users {
		if u == nil {
			return fmt.Errorf("sqlitestore: import users: %w",
				&account.ImportError{Index: i, Err: fmt.Errorf("nil user: %w", account.ErrInvalid)})
		}
		args, created, changed := userRow(u, now)
		res, err := insert.ExecContext(ctx, args...)
		if err == nil {
			results[i].id, err = res.LastInsertId()
		}
		switch {
		case err == nil:
			results[i].created, results[i].changed = created, changed
		case ctx.Err() != nil:
			return wrap(ctx, "import users", err)
		case constraint(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("sqlitestore: import users: %w", &account.ImportError{Index: i,
				Err: fmt.Errorf("%q: %w", u.Username, account.ErrUsernameTaken)})
		default:
			return fmt.Errorf("sqlitestore: import users: %w", &account.ImportError{Index: i, Err: err})
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap(ctx, "import users", err)
	}
	for i, u := range users {
		u.ID, u.CreatedAt, u.PasswordChangedAt = seqid.Format(results[i].id), results[i].created, results[i].changed
	}
	return nil
}

// UserByID returns the user with id, or account.ErrNotFound.
func (s *AccountStore) UserByID(ctx context.Context, id string) (*account.User, error) {
	n, ok := seqid.Parse(id)
	if !ok {
		return nil, s.notFound(ctx, "user by id")
	}
	u, err := scanUser(s.userByID.QueryRowContext(ctx, n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "user by id", err)
	}
	return u, nil
}

// notFound returns account.ErrNotFound, or the error of ctx when it is
// done: a call with a done context fails even when it needs no query.
func (s *AccountStore) notFound(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, op, err)
	}
	return account.ErrNotFound
}

// UserByUsername returns the user whose username equals name ignoring the
// case of ASCII letters, or account.ErrNotFound.
func (s *AccountStore) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	u, err := scanUser(s.db.read.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM hallpass_users WHERE username = ? COLLATE NOCASE`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "user by username", err)
	}
	return u, nil
}

// ListUsers returns a page of users in creation order. An opt.After that
// is not an ID of this store is an error wrapping account.ErrInvalid; a
// non-positive opt.Limit means 100.
func (s *AccountStore) ListUsers(ctx context.Context, opt account.ListOptions) ([]*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, "list users", err)
	}
	var after int64
	if opt.After != "" {
		n, ok := seqid.Parse(opt.After)
		if !ok {
			return nil, fmt.Errorf("sqlitestore: list users after %q: %w", opt.After, account.ErrInvalid)
		}
		after = n
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = account.DefaultListLimit
	}
	return s.queryUsers(ctx, "list users",
		`SELECT `+userColumns+` FROM hallpass_users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}

// queryUsers returns the users that query, which selects userColumns,
// finds: an empty slice, not nil, when none.
func (s *AccountStore) queryUsers(ctx context.Context, op, query string, args ...any) ([]*account.User, error) {
	rows, err := s.db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	list := []*account.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap(ctx, op, err)
		}
		list = append(list, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return list, nil
}

// updateUser runs query, an UPDATE of the user id whose last argument is
// the id, and returns account.ErrNotFound when no row matched.
func (s *AccountStore) updateUser(ctx context.Context, op, id, query string, args ...any) error {
	n, ok := seqid.Parse(id)
	if !ok {
		return s.notFound(ctx, op)
	}
	res, err := s.db.write.ExecContext(ctx, query, append(args, n)...)
	if err != nil {
		return wrap(ctx, op, err)
	}
	// SQLite counts the rows matched, changed or not.
	if k, err := res.RowsAffected(); err != nil {
		return wrap(ctx, op, err)
	} else if k == 0 {
		return account.ErrNotFound
	}
	return nil
}

// SetPassword stores hash as the user's password hash, changed at
// changedAt, or returns account.ErrNotFound.
func (s *AccountStore) SetPassword(ctx context.Context, id, hash string, changedAt time.Time) error {
	return s.updateUser(ctx, "set password", id,
		`UPDATE hallpass_users SET password_hash = ?, password_changed_at = ? WHERE id = ?`, hash, ms(changedAt))
}

// SetDisabled disables or enables the user, or returns
// account.ErrNotFound.
func (s *AccountStore) SetDisabled(ctx context.Context, id string, disabled bool) error {
	return s.updateUser(ctx, "set disabled", id, `UPDATE hallpass_users SET disabled = ? WHERE id = ?`, disabled)
}

// SetRoles replaces the user's roles, or returns account.ErrNotFound.
func (s *AccountStore) SetRoles(ctx context.Context, id string, roles []string) error {
	return s.updateUser(ctx, "set roles", id, `UPDATE hallpass_users SET roles = ? WHERE id = ?`, encodeRoles(roles))
}

// DeleteUser removes the user and their remember-me and API tokens in one
// transaction, or returns account.ErrNotFound.
func (s *AccountStore) DeleteUser(ctx context.Context, id string) error {
	const op = "delete user"
	n, ok := seqid.Parse(id)
	if !ok {
		return s.notFound(ctx, op)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM hallpass_users WHERE id = ?`, n)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return wrap(ctx, op, err)
	} else if k == 0 {
		return account.ErrNotFound
	}
	for _, q := range userRowsSQL {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return wrap(ctx, op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// userRowsSQL deletes what hallpass keeps for a user beside the account,
// when the account is deleted: no table keeps a row for a user who is gone
// (remember-me and API tokens, linked identities, second factors,
// passkeys, emailed links and verified addresses).
var userRowsSQL = []string{
	`DELETE FROM hallpass_remember_tokens WHERE user_id = ?`,
	`DELETE FROM hallpass_api_tokens WHERE user_id = ?`,
	`DELETE FROM hallpass_identities WHERE user_id = ?`,
	`DELETE FROM hallpass_totp WHERE user_id = ?`,
	`DELETE FROM hallpass_recovery_codes WHERE user_id = ?`,
	`DELETE FROM hallpass_passkeys WHERE user_id = ?`,
	`DELETE FROM hallpass_email_tokens WHERE user_id = ?`,
	`DELETE FROM hallpass_verified_emails WHERE user_id = ?`,
}

// RehashPassword replaces the user's hash oldHash with newHash in one
// transaction, or returns account.ErrConflict when the stored hash is not
// oldHash, and account.ErrNotFound for an unknown id.
func (s *AccountStore) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	return s.swapHash(ctx, "rehash password", id, oldHash, newHash, time.Time{})
}

// ChangePassword replaces the user's hash oldHash with newHash and sets
// PasswordChangedAt to changedAt in one transaction, or returns
// account.ErrConflict when the stored hash is not oldHash, and
// account.ErrNotFound for an unknown id (account.PasswordChanger).
func (s *AccountStore) ChangePassword(ctx context.Context, id, oldHash, newHash string, changedAt time.Time) error {
	return s.swapHash(ctx, "change password", id, oldHash, newHash, changedAt)
}

// swapHash replaces oldHash with newHash, and the time of the password's
// change with changedAt unless it is zero.
func (s *AccountStore) swapHash(ctx context.Context, op, id, oldHash, newHash string, changedAt time.Time) error {
	n, ok := seqid.Parse(id)
	if !ok {
		return s.notFound(ctx, op)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE hallpass_users SET password_hash = ?, password_changed_at = COALESCE(?, password_changed_at)
		WHERE id = ? AND password_hash = ?`, newHash, msOrNull(changedAt), n, oldHash)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return wrap(ctx, op, err)
	} else if k == 0 {
		return s.conflictOrNotFound(ctx, tx, op, `SELECT 1 FROM hallpass_users WHERE id = ?`, n)
	}
	if err := tx.Commit(); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// conflictOrNotFound explains a conditional UPDATE that matched no row:
// account.ErrConflict when query, run in tx, finds the row, or
// account.ErrNotFound when it does not.
func (s *AccountStore) conflictOrNotFound(ctx context.Context, tx *sql.Tx, op, query string, args ...any) error {
	var one int
	err := tx.QueryRowContext(ctx, query, args...).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return account.ErrNotFound
	case err != nil:
		return wrap(ctx, op, err)
	}
	return account.ErrConflict
}

// Sweep deletes the expired remember-me tokens and the API tokens that
// expired more than account.ExpiredTokenRetention ago, and returns how
// many rows it deleted.
func (s *AccountStore) Sweep(ctx context.Context) (int, error) {
	n, err := s.sweepRemember(ctx)
	if err != nil {
		return n, err
	}
	k, err := s.sweepTokens(ctx)
	return n + k, err
}

// sweepRemember deletes the expired remember-me tokens.
func (s *AccountStore) sweepRemember(ctx context.Context) (int, error) {
	return s.sweep(ctx, "sweep remember tokens", `DELETE FROM hallpass_remember_tokens WHERE rowid IN
		(SELECT rowid FROM hallpass_remember_tokens WHERE expires_at <= ? LIMIT ?)`, ms(s.db.now()))
}

// sweepTokens deletes the API tokens that expired more than
// account.ExpiredTokenRetention ago.
func (s *AccountStore) sweepTokens(ctx context.Context) (int, error) {
	return s.sweep(ctx, "sweep api tokens", `DELETE FROM hallpass_api_tokens WHERE id IN
		(SELECT id FROM hallpass_api_tokens WHERE expires_at > 0 AND expires_at <= ? LIMIT ?)`,
		ms(s.db.now().Add(-account.ExpiredTokenRetention)))
}

// sweep runs query, a DELETE of at most sweepBatch rows taking a time and
// the batch size as arguments, until it deletes fewer than a batch, and
// returns how many rows it deleted.
func (s *AccountStore) sweep(ctx context.Context, op, query string, before int64) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, wrap(ctx, op, err)
	}
	removed := 0
	for {
		res, err := s.db.write.ExecContext(ctx, query, before, sweepBatch)
		if err != nil {
			return removed, wrap(ctx, op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return removed, wrap(ctx, op, err)
		}
		removed += int(n)
		if n < sweepBatch {
			return removed, nil
		}
	}
}
