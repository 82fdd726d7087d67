package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

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

// importBatch is how many users ImportUsers sends in one pipelined round
// trip, so that a large import neither waits on one round trip per user
// nor buffers the whole batch at once.
const importBatch = 500

// The SQLSTATE code and the constraint the store maps to a sentinel error.
const (
	uniqueViolation = "23505"
	usernameIndex   = "hallpass_users_username"
)

// AccountStore keeps the user accounts, remember-me tokens and API tokens
// of a DB, in the tables hallpass_users, hallpass_remember_tokens and
// hallpass_api_tokens: it implements account.Store (with
// account.Importer), account.RememberStore and account.TokenStore. It is
// safe for concurrent use, and every process that opens the same database
// and schema shares its data.
//
// User and token IDs are decimal integers from a sequence, issued in
// creation order and never reused; a string that is not such an ID is
// simply not found. Usernames are unique ignoring the case of ASCII
// letters, whatever the database's locale. Timestamps are kept at
// microsecond precision. Tokens are kept under their user's ID as text,
// whoever keeps that user: hallpass_users, or an app's own table (an
// account.Source), which the token tables do not refer to.
//
// RehashPassword and RotateRemember are one conditional UPDATE each, so
// of several concurrent calls from the same old hash exactly one wins; a
// second query, only when the UPDATE matched nothing, tells
// account.ErrConflict from account.ErrNotFound.
//
// The DB's background sweep deletes expired remember-me tokens, and API
// tokens that expired more than account.ExpiredTokenRetention ago; Sweep
// runs one pass now.
type AccountStore struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// stored returns t as a timestamptz column keeps it: pgx sends whole
// microseconds, rounding down.
func stored(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// orZero returns *t, or the zero time for NULL.
func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// pgError returns the SQLSTATE code and constraint name of err when the
// server reported it, or "" and "".
func pgError(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

// usernameTaken reports whether err is a violation of the unique index on
// usernames.
func usernameTaken(err error) bool {
	code, constraint := pgError(err)
	return code == uniqueViolation && constraint == usernameIndex
}

// notFound returns an error wrapping account.ErrNotFound, or the error of
// ctx when it is done: a call with a done context fails even when it
// needs no query.
func notFound(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, op, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, account.ErrNotFound)
}

// rolesValue returns the value of the roles column for r: never NULL.
func rolesValue(r []string) []string {
	if r == nil {
		return []string{}
	}
	return r
}

const userColumns = `id, username, email, roles, password_hash, disabled, created_at, password_changed_at`

// scanUser reads a row of userColumns.
func scanUser(row pgx.Row) (*account.User, error) {
	var (
		u  account.User
		id int64
	)
	if err := row.Scan(&id, &u.Username, &u.Email, &u.Roles, &u.PasswordHash, &u.Disabled,
		&u.CreatedAt, &u.PasswordChangedAt); err != nil {
		return nil, err
	}
	if len(u.Roles) == 0 {
		u.Roles = nil
	}
	u.ID = seqid.Format(id)
	return &u, nil
}

const insertUserSQL = `INSERT INTO hallpass_users (username, email, roles, password_hash, disabled, created_at, password_changed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`

// userRow returns the arguments of insertUserSQL for u, whose zero times
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
	return []any{u.Username, u.Email, rolesValue(u.Roles), u.PasswordHash, u.Disabled, created, changed}, created, changed
}

// CreateUser stores u, assigning u.ID, and u.CreatedAt and
// u.PasswordChangedAt when they are zero; it leaves u's times as stored,
// truncated to microseconds. It returns an error wrapping
// account.ErrUsernameTaken when the username exists in any letter case.
func (s *AccountStore) CreateUser(ctx context.Context, u *account.User) error {
	args, created, changed := userRow(u, s.now())
	var id int64
	err := s.pool.QueryRow(ctx, insertUserSQL, args...).Scan(&id)
	if usernameTaken(err) {
		return fmt.Errorf("pgstore: create user %q: %w", u.Username, account.ErrUsernameTaken)
	}
	if err != nil {
		return wrap(ctx, "create user", err)
	}
	u.ID, u.CreatedAt, u.PasswordChangedAt = seqid.Format(id), created, changed
	return nil
}

// ImportUsers stores users in one transaction, all or nothing, as
// account.Importer describes. The inserts are pipelined, a few hundred
// users per round trip.
func (s *AccountStore) ImportUsers(ctx context.Context, users []*account.User) error {
	const op = "import users"
	if err := ctx.Err(); err != nil {
		return wrap(ctx, op, err)
	}
	// A nil user fails the import, but so does any earlier user the
	// database refuses: only the users before the first nil are sent, and
	// the first failure among them wins.
	valid := len(users)
	for i, u := range users {
		if u == nil {
			valid = i
			break
		}
	}
	type result struct {
		id               int64
		created, changed time.Time
	}
	results := make([]result, valid)
	now := s.now()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for start := 0; start < valid; start += importBatch {
			end := min(start+importBatch, valid)
			var b pgx.Batch
			for i := start; i < end; i++ {
				args, created, changed := userRow(users[i], now)
				results[i].created, results[i].changed = created, changed
				b.Queue(insertUserSQL, args...)
			}
			br := tx.SendBatch(ctx, &b)
			for i := start; i < end; i++ {
				if err := br.QueryRow().Scan(&results[i].id); err != nil {
					br.Close() // the rest of the batch fails too; err is the cause
					return importError(i, users[i], err)
				}
			}
			if err := br.Close(); err != nil {
				return err
			}
		}
		if valid < len(users) {
			return &account.ImportError{Index: valid, Err: fmt.Errorf("nil user: %w", account.ErrInvalid)}
		}
		return nil
	})
	var ie *account.ImportError
	switch {
	case err == nil:
	case ctx.Err() != nil || !errors.As(err, &ie):
		return wrap(ctx, op, err)
	default:
		return fmt.Errorf("pgstore: %s: %w", op, err)
	}
	for i, u := range users {
		u.ID, u.CreatedAt, u.PasswordChangedAt = seqid.Format(results[i].id), results[i].created, results[i].changed
	}
	return nil
}

// importError explains why the database refused to store u, the user at
// index i of an import: an *account.ImportError when the server rejected
// the row, or err itself for a failure of the connection.
func importError(i int, u *account.User, err error) error {
	if usernameTaken(err) {
		return &account.ImportError{Index: i, Err: fmt.Errorf("%q: %w", u.Username, account.ErrUsernameTaken)}
	}
	if code, _ := pgError(err); code != "" {
		return &account.ImportError{Index: i, Err: err}
	}
	return err
}

const userByIDSQL = `SELECT ` + userColumns + ` FROM hallpass_users WHERE id = $1`

// UserByID returns the user with id, or an error wrapping
// account.ErrNotFound.
func (s *AccountStore) UserByID(ctx context.Context, id string) (*account.User, error) {
	const op = "user by id"
	n, ok := seqid.Parse(id)
	if !ok {
		return nil, notFound(ctx, op)
	}
	u, err := scanUser(s.pool.QueryRow(ctx, userByIDSQL, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ctx, op)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return u, nil
}

// The expression of the unique index on usernames, so that lookups use it.
const userByUsernameSQL = `SELECT ` + userColumns + ` FROM hallpass_users
	WHERE lower(username COLLATE "C") = lower($1::text COLLATE "C")`

// UserByUsername returns the user whose username equals name ignoring the
// case of ASCII letters, or an error wrapping account.ErrNotFound.
func (s *AccountStore) UserByUsername(ctx context.Context, name string) (*account.User, error) {
	const op = "user by username"
	if !validText(name) { // no stored name has a NUL byte or invalid UTF-8
		return nil, notFound(ctx, op)
	}
	u, err := scanUser(s.pool.QueryRow(ctx, userByUsernameSQL, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ctx, op)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return u, nil
}

// ListUsers returns a page of users in creation order. An opt.After that
// is not an ID of this store is an error wrapping account.ErrInvalid; a
// non-positive opt.Limit means 100.
func (s *AccountStore) ListUsers(ctx context.Context, opt account.ListOptions) ([]*account.User, error) {
	const op = "list users"
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	var after int64
	if opt.After != "" {
		n, ok := seqid.Parse(opt.After)
		if !ok {
			return nil, fmt.Errorf("pgstore: %s after %q: %w", op, opt.After, account.ErrInvalid)
		}
		after = n
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = account.DefaultListLimit
	}
	return s.queryUsers(ctx, op, `SELECT `+userColumns+` FROM hallpass_users WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// queryUsers returns the users that query, which selects userColumns,
// finds.
func (s *AccountStore) queryUsers(ctx context.Context, op, query string, args ...any) ([]*account.User, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*account.User, error) { return scanUser(row) })
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return list, nil
}

// updateUser runs query, an UPDATE of the user id whose last parameter is
// the id, and returns an error wrapping account.ErrNotFound when no row
// matched.
func (s *AccountStore) updateUser(ctx context.Context, op, id, query string, args ...any) error {
	n, ok := seqid.Parse(id)
	if !ok {
		return notFound(ctx, op)
	}
	tag, err := s.pool.Exec(ctx, query, append(args, n)...)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(ctx, op)
	}
	return nil
}

// SetPassword stores hash as the user's password hash, changed at
// changedAt, or returns an error wrapping account.ErrNotFound.
func (s *AccountStore) SetPassword(ctx context.Context, id, hash string, changedAt time.Time) error {
	return s.updateUser(ctx, "set password", id,
		`UPDATE hallpass_users SET password_hash = $1, password_changed_at = $2 WHERE id = $3`, hash, changedAt)
}

// SetDisabled disables or enables the user, or returns an error wrapping
// account.ErrNotFound.
func (s *AccountStore) SetDisabled(ctx context.Context, id string, disabled bool) error {
	return s.updateUser(ctx, "set disabled", id, `UPDATE hallpass_users SET disabled = $1 WHERE id = $2`, disabled)
}

// SetRoles replaces the user's roles, or returns an error wrapping
// account.ErrNotFound.
func (s *AccountStore) SetRoles(ctx context.Context, id string, roles []string) error {
	return s.updateUser(ctx, "set roles", id, `UPDATE hallpass_users SET roles = $1 WHERE id = $2`, rolesValue(roles))
}

// DeleteUser removes the user and their remember-me and API tokens in one
// transaction, or returns an error wrapping account.ErrNotFound.
func (s *AccountStore) DeleteUser(ctx context.Context, id string) error {
	const op = "delete user"
	n, ok := seqid.Parse(id)
	if !ok {
		return notFound(ctx, op)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM hallpass_users WHERE id = $1`, n)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return account.ErrNotFound
		}
		for _, q := range userRowsSQL {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, account.ErrNotFound) {
		return notFound(ctx, op)
	}
	if err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// userRowsSQL deletes what hallpass keeps for a user beside the account,
// when the account is deleted: no table keeps a row for a user who is gone
// (remember-me and API tokens, linked identities, second factors,
// passkeys, emailed links and verified addresses).
var userRowsSQL = []string{
	`DELETE FROM hallpass_remember_tokens WHERE user_id = $1`,
	`DELETE FROM hallpass_api_tokens WHERE user_id = $1`,
	`DELETE FROM hallpass_identities WHERE user_id = $1`,
	`DELETE FROM hallpass_totp WHERE user_id = $1`,
	`DELETE FROM hallpass_recovery_codes WHERE user_id = $1`,
	`DELETE FROM hallpass_passkeys WHERE user_id = $1`,
	`DELETE FROM hallpass_email_tokens WHERE user_id = $1`,
	`DELETE FROM hallpass_verified_emails WHERE user_id = $1`,
}

// RehashPassword replaces the user's hash oldHash with newHash, in one
// conditional UPDATE. It returns an error wrapping account.ErrConflict,
// changing nothing, when the stored hash is not oldHash, and one wrapping
// account.ErrNotFound for an unknown id.
func (s *AccountStore) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	return s.swapHash(ctx, "rehash password", id, oldHash, newHash, nil)
}

// ChangePassword replaces the user's hash oldHash with newHash and sets
// PasswordChangedAt to changedAt in one statement, or returns
// account.ErrConflict when the stored hash is not oldHash, and
// account.ErrNotFound for an unknown id (account.PasswordChanger).
func (s *AccountStore) ChangePassword(ctx context.Context, id, oldHash, newHash string, changedAt time.Time) error {
	return s.swapHash(ctx, "change password", id, oldHash, newHash, &changedAt)
}

// swapHash replaces oldHash with newHash, and the time of the password's
// change with *changedAt unless changedAt is nil.
func (s *AccountStore) swapHash(ctx context.Context, op, id, oldHash, newHash string, changedAt *time.Time) error {
	n, ok := seqid.Parse(id)
	if !ok {
		return notFound(ctx, op)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE hallpass_users SET password_hash = $1, password_changed_at = COALESCE($4, password_changed_at)
		WHERE id = $2 AND password_hash = $3`, newHash, n, oldHash, changedAt)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return s.conflictOrNotFound(ctx, op, `SELECT EXISTS (SELECT 1 FROM hallpass_users WHERE id = $1)`, n)
	}
	return nil
}

// conflictOrNotFound explains a conditional UPDATE that matched no row:
// account.ErrConflict when query, which selects whether the row exists,
// finds it, and account.ErrNotFound when it does not.
func (s *AccountStore) conflictOrNotFound(ctx context.Context, op, query string, args ...any) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, query, args...).Scan(&exists); err != nil {
		return wrap(ctx, op, err)
	}
	if !exists {
		return notFound(ctx, op)
	}
	return fmt.Errorf("pgstore: %s: %w", op, account.ErrConflict)
}

// ownerID checks the user ID of a new token: any text naming a user, of
// this store or of an app's own table; an empty one, or one PostgreSQL
// cannot store as text, is an error wrapping account.ErrInvalid.
func ownerID(ctx context.Context, op, userID string) error {
	if err := ctx.Err(); err != nil {
		return wrap(ctx, op, err)
	}
	if userID == "" || !validText(userID) {
		return fmt.Errorf("pgstore: %s: user ID %q is not valid UTF-8 text without NUL bytes: %w", op, userID, account.ErrInvalid)
	}
	return nil
}

// CreateRemember stores t. A selector already in use is an error, and so
// is an empty t.UserID (wrapping account.ErrInvalid) and a selector that
// is not valid UTF-8 text without NUL bytes.
func (s *AccountStore) CreateRemember(ctx context.Context, t *account.RememberToken) error {
	const op = "create remember token"
	if err := ownerID(ctx, op, t.UserID); err != nil {
		return err
	}
	if !validText(t.Selector) {
		return fmt.Errorf("pgstore: %s: selector is not valid UTF-8 text without NUL bytes", op)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO hallpass_remember_tokens
		(selector, validator_hash, prev_hash, rotated_at, user_id, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.Selector, t.ValidatorHash, t.PrevHash, timeOrNull(t.RotatedAt), t.UserID, t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// RememberBySelector returns the token with selector, or an error
// wrapping account.ErrNotFound when there is none or it expired at now.
func (s *AccountStore) RememberBySelector(ctx context.Context, selector string, now time.Time) (*account.RememberToken, error) {
	const op = "remember token by selector"
	if !validText(selector) {
		return nil, notFound(ctx, op)
	}
	t := account.RememberToken{Selector: selector}
	var rotated *time.Time
	err := s.pool.QueryRow(ctx, `SELECT validator_hash, prev_hash, rotated_at, user_id, created_at, expires_at
		FROM hallpass_remember_tokens WHERE selector = $1 AND expires_at > $2`, selector, now).
		Scan(&t.ValidatorHash, &t.PrevHash, &rotated, &t.UserID, &t.CreatedAt, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ctx, op)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	t.RotatedAt = orZero(rotated)
	return &t, nil
}

// RotateRemember replaces the token's digest oldHash with newHash in one
// conditional UPDATE, as account.RememberStore describes.
func (s *AccountStore) RotateRemember(ctx context.Context, selector string, oldHash, newHash []byte, now, expiresAt time.Time) error {
	const op = "rotate remember token"
	if !validText(selector) {
		return notFound(ctx, op)
	}
	// On the right of SET, columns hold the row's old values: prev_hash
	// gets the digest being replaced.
	tag, err := s.pool.Exec(ctx, `UPDATE hallpass_remember_tokens
		SET validator_hash = $1, prev_hash = validator_hash, rotated_at = $2, expires_at = $3
		WHERE selector = $4 AND validator_hash = $5 AND expires_at > $2`,
		newHash, now, expiresAt, selector, oldHash)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return s.conflictOrNotFound(ctx, op,
			`SELECT EXISTS (SELECT 1 FROM hallpass_remember_tokens WHERE selector = $1 AND expires_at > $2)`, selector, now)
	}
	return nil
}

// DeleteRemember removes the token, if any.
func (s *AccountStore) DeleteRemember(ctx context.Context, selector string) error {
	const op = "delete remember token"
	if !validText(selector) {
		if err := ctx.Err(); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM hallpass_remember_tokens WHERE selector = $1`, selector); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// DeleteRememberByUser removes the user's tokens and returns how many,
// counting the expired ones the sweep has not deleted yet.
func (s *AccountStore) DeleteRememberByUser(ctx context.Context, userID string) (int, error) {
	return s.deleteByUser(ctx, "delete remember tokens by user", `DELETE FROM hallpass_remember_tokens WHERE user_id = $1`, userID)
}

// deleteByUser runs query, a DELETE taking a user's ID, and returns how
// many rows it deleted; none for a userID no token can have.
func (s *AccountStore) deleteByUser(ctx context.Context, op, query, userID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, wrap(ctx, op, err)
	}
	if userID == "" || !validText(userID) {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, query, userID)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	return int(tag.RowsAffected()), nil
}

// CreateToken stores t, assigning t.ID. A digest already in use is an
// error, and so is an empty t.UserID (wrapping account.ErrInvalid).
func (s *AccountStore) CreateToken(ctx context.Context, t *account.APIToken) error {
	const op = "create api token"
	if err := ownerID(ctx, op, t.UserID); err != nil {
		return err
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO hallpass_api_tokens
		(user_id, name, hash, created_at, expires_at, last_used_at, scopes) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		t.UserID, t.Name, t.Hash, t.CreatedAt, timeOrNull(t.ExpiresAt), timeOrNull(t.LastUsedAt), scopesOrEmpty(t.Scopes)).Scan(&id)
	if err != nil {
		return wrap(ctx, op, err)
	}
	t.ID = seqid.Format(id)
	return nil
}

const tokenColumns = `id, user_id, name, hash, created_at, expires_at, last_used_at, scopes`

// scopesOrEmpty returns scopes, or an empty slice for nil: the column is
// NOT NULL.
func scopesOrEmpty(scopes []string) []string {
	if scopes == nil {
		return []string{}
	}
	return scopes
}

// scanToken reads a row of tokenColumns.
func scanToken(row pgx.Row) (*account.APIToken, error) {
	var (
		t                 account.APIToken
		id                int64
		expires, lastUsed *time.Time
	)
	if err := row.Scan(&id, &t.UserID, &t.Name, &t.Hash, &t.CreatedAt, &expires, &lastUsed, &t.Scopes); err != nil {
		return nil, err
	}
	if len(t.Scopes) == 0 {
		t.Scopes = nil
	}
	t.ID = seqid.Format(id)
	t.ExpiresAt, t.LastUsedAt = orZero(expires), orZero(lastUsed)
	return &t, nil
}

// TokenByHash returns the token whose digest is hash, or an error
// wrapping account.ErrNotFound when there is none or it expired at now.
func (s *AccountStore) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*account.APIToken, error) {
	const op = "api token by hash"
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM hallpass_api_tokens
		WHERE hash = $1 AND (expires_at IS NULL OR expires_at > $2)`, hash, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(ctx, op)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return t, nil
}

// ListTokens returns the user's tokens, expired ones included (until the
// sweep deletes them, account.ExpiredTokenRetention after they expire),
// newest first.
func (s *AccountStore) ListTokens(ctx context.Context, userID string) ([]*account.APIToken, error) {
	const op = "list api tokens"
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	if !validText(userID) {
		return []*account.APIToken{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM hallpass_api_tokens
		WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*account.APIToken, error) { return scanToken(row) })
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return list, nil
}

// TouchToken sets the token's LastUsedAt to t. A missing token is not an
// error.
func (s *AccountStore) TouchToken(ctx context.Context, id string, t time.Time) error {
	const op = "touch api token"
	if err := ctx.Err(); err != nil {
		return wrap(ctx, op, err)
	}
	n, ok := seqid.Parse(id)
	if !ok {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE hallpass_api_tokens SET last_used_at = $1 WHERE id = $2`, timeOrNull(t), n); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// DeleteToken removes the user's token id, or returns an error wrapping
// account.ErrNotFound when the user has no such token.
func (s *AccountStore) DeleteToken(ctx context.Context, userID, id string) error {
	const op = "delete api token"
	n, ok := seqid.Parse(id)
	if !ok || !validText(userID) {
		return notFound(ctx, op)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM hallpass_api_tokens WHERE id = $1 AND user_id = $2`, n, userID)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(ctx, op)
	}
	return nil
}

// DeleteTokensByUser removes the user's tokens, expired ones included,
// and returns how many.
func (s *AccountStore) DeleteTokensByUser(ctx context.Context, userID string) (int, error) {
	return s.deleteByUser(ctx, "delete api tokens by user", `DELETE FROM hallpass_api_tokens WHERE user_id = $1`, userID)
}

// Sweep deletes the expired remember-me tokens and the API tokens that
// expired more than account.ExpiredTokenRetention ago, 500 rows per
// statement, and returns how many rows it deleted. The background sweep
// of the DB runs the same deletes; tests call Sweep directly.
func (s *AccountStore) Sweep(ctx context.Context) (int, error) {
	n, err := s.sweepRemember(ctx)
	if err != nil {
		return n, err
	}
	k, err := s.sweepTokens(ctx)
	return n + k, err
}

// SKIP LOCKED lets several processes sweep at once without waiting for
// one another.
const (
	sweepRememberSQL = `DELETE FROM hallpass_remember_tokens WHERE selector IN (
		SELECT selector FROM hallpass_remember_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
	sweepTokensSQL = `DELETE FROM hallpass_api_tokens WHERE id IN (
		SELECT id FROM hallpass_api_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// sweepRemember deletes the expired remember-me tokens.
func (s *AccountStore) sweepRemember(ctx context.Context) (int, error) {
	return s.sweep(ctx, "sweep remember tokens", sweepRememberSQL, s.now())
}

// sweepTokens deletes the API tokens that expired more than
// account.ExpiredTokenRetention ago.
func (s *AccountStore) sweepTokens(ctx context.Context) (int, error) {
	return s.sweep(ctx, "sweep api tokens", sweepTokensSQL, s.now().Add(-account.ExpiredTokenRetention))
}

// sweep runs query, a DELETE of at most sweepBatch rows that expired at or
// before a time, until it deletes fewer than a batch, and returns how many
// rows it deleted.
func (s *AccountStore) sweep(ctx context.Context, op, query string, before time.Time) (int, error) {
	removed := 0
	for {
		tag, err := s.pool.Exec(ctx, query, before, sweepBatch)
		if err != nil {
			return removed, wrap(ctx, op, err)
		}
		n := int(tag.RowsAffected())
		removed += n
		if n < sweepBatch {
			return removed, nil
		}
	}
}
