package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/session"
)

var (
	_ session.Store     = (*SessionStore)(nil)
	_ session.UserIndex = (*SessionStore)(nil)
	_ session.Sweeper   = (*SessionStore)(nil)
)

// sweepBatch is how many rows one statement of Sweep deletes, so that a
// sweep never holds many row locks or writes a huge transaction.
const sweepBatch = 500

// SessionStore is the session.Store of a DB, in the table
// hallpass_sessions. It also implements session.UserIndex and
// session.Sweeper. It is safe for concurrent use.
//
// Load is one query. Update is one UPDATE when it changes only
// timestamps, and otherwise one transaction that locks the row (SELECT
// ... FOR UPDATE), merges the change into the stored values and writes
// them back. Values are stored in one bytea column, as encoded by
// session.EncodeValues.
//
// PostgreSQL text cannot hold NUL bytes or invalid UTF-8, so a session ID
// or user ID that does not fit is never found (Create refuses it), and
// Create stores the IP and UserAgent with invalid bytes replaced by
// U+FFFD and NUL bytes removed.
type SessionStore struct {
	pool       *pgxpool.Pool
	now        func() time.Time
	sweepBatch int
}

// Ping checks that the database answers, for health checks; it is the
// same as the DB's Ping, so that every hallpass session store has one.
func (s *SessionStore) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// wrap adds the operation to err. When ctx is done, the result wraps
// ctx.Err() as well, whatever error the driver reported for the
// interruption.
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pgstore: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// validText reports whether PostgreSQL can hold s as text, and s is not
// absurdly long for an ID.
func validText(s string) bool {
	return len(s) <= 1024 && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// cleanText returns s as valid UTF-8 without NUL bytes.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// nullIfEmpty maps an empty user ID (an anonymous session) to NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeOrNull maps a zero time (no change) to NULL.
func timeOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

const loadSQL = `SELECT COALESCE(user_id, ''), data, created_at, last_seen, expires_at, ip, user_agent
	FROM hallpass_sessions WHERE id = $1 AND expires_at > $2`

// Load returns the record stored under id, in one query, or
// session.ErrNotFound when there is none or it has expired.
func (s *SessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	if !validText(id) {
		return nil, session.ErrNotFound
	}
	var (
		r    session.Record
		data []byte
	)
	err := s.pool.QueryRow(ctx, loadSQL, id, s.now()).
		Scan(&r.UserID, &data, &r.CreatedAt, &r.LastSeen, &r.Expiry, &r.IP, &r.UserAgent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "load session", err)
	}
	// data is a fresh copy made by Scan, so the values may alias it.
	if r.Values, err = session.DecodeValues(data); err != nil {
		return nil, wrap(ctx, "load session", err)
	}
	return &r, nil
}

const createSQL = `INSERT INTO hallpass_sessions (id, user_id, data, created_at, last_seen, expires_at, ip, user_agent)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data,
		created_at = excluded.created_at, last_seen = excluded.last_seen,
		expires_at = excluded.expires_at, ip = excluded.ip, user_agent = excluded.user_agent`

// Create stores rec under id, replacing any record there. It returns an
// error, and stores nothing, if id or rec.UserID is not valid UTF-8 text
// without NUL bytes.
func (s *SessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	if !validText(id) || !validText(rec.UserID) {
		return fmt.Errorf("pgstore: create session: session ID or user ID is not valid UTF-8 text without NUL bytes")
	}
	_, err := s.pool.Exec(ctx, createSQL, id, nullIfEmpty(rec.UserID), session.EncodeValues(rec.Values),
		rec.CreatedAt, rec.LastSeen, rec.Expiry, cleanText(rec.IP), cleanText(rec.UserAgent))
	if err != nil {
		return wrap(ctx, "create session", err)
	}
	return nil
}

const touchSQL = `UPDATE hallpass_sessions
	SET last_seen = COALESCE($3::timestamptz, last_seen), expires_at = COALESCE($4::timestamptz, expires_at)
	WHERE id = $1 AND expires_at > $2`

const lockSQL = `SELECT data FROM hallpass_sessions WHERE id = $1 AND expires_at > $2 FOR UPDATE`

const updateSQL = `UPDATE hallpass_sessions
	SET data = $2, last_seen = COALESCE($3::timestamptz, last_seen), expires_at = COALESCE($4::timestamptz, expires_at)
	WHERE id = $1`

// Update applies u to the record under id atomically, or returns
// session.ErrNotFound if the record is missing or has expired. An Update
// that changes no values is one statement; otherwise the row is locked,
// merged and written in one transaction.
func (s *SessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	if !validText(id) {
		return session.ErrNotFound
	}
	now := s.now()
	seen, expiry := timeOrNull(u.LastSeen), timeOrNull(u.Expiry)
	if len(u.Set) == 0 && len(u.Delete) == 0 {
		tag, err := s.pool.Exec(ctx, touchSQL, id, now, seen, expiry)
		if err != nil {
			return wrap(ctx, "update session", err)
		}
		if tag.RowsAffected() == 0 {
			return session.ErrNotFound
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var data []byte
		if err := tx.QueryRow(ctx, lockSQL, id, now).Scan(&data); err != nil {
			return err
		}
		values, err := session.DecodeValues(data)
		if err != nil {
			return err
		}
		merged := u.Apply(&session.Record{Values: values})
		_, err = tx.Exec(ctx, updateSQL, id, session.EncodeValues(merged.Values), seen, expiry)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return session.ErrNotFound
	}
	if err != nil {
		return wrap(ctx, "update session", err)
	}
	return nil
}

// Delete removes the record under id, if any.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	if !validText(id) {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM hallpass_sessions WHERE id = $1`, id); err != nil {
		return wrap(ctx, "delete session", err)
	}
	return nil
}

const listSQL = `SELECT id, created_at, last_seen, expires_at, ip, user_agent
	FROM hallpass_sessions WHERE user_id = $1 AND expires_at > $2
	ORDER BY created_at DESC, id`

// ListByUser returns the live sessions of userID, newest first.
// Anonymous sessions (userID "") are never listed.
func (s *SessionStore) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	list := []session.Info{}
	if userID == "" || !validText(userID) {
		if err := ctx.Err(); err != nil {
			return nil, wrap(ctx, "list sessions by user", err)
		}
		return list, nil
	}
	rows, err := s.pool.Query(ctx, listSQL, userID, s.now())
	if err != nil {
		return nil, wrap(ctx, "list sessions by user", err)
	}
	defer rows.Close()
	for rows.Next() {
		in := session.Info{UserID: userID}
		if err := rows.Scan(&in.ID, &in.CreatedAt, &in.LastSeen, &in.Expiry, &in.IP, &in.UserAgent); err != nil {
			return nil, wrap(ctx, "list sessions by user", err)
		}
		list = append(list, in)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list sessions by user", err)
	}
	return list, nil
}

const deleteByUserSQL = `WITH deleted AS (
		DELETE FROM hallpass_sessions WHERE user_id = $1 AND id <> ALL($2::text[]) RETURNING expires_at
	)
	SELECT count(*) FILTER (WHERE expires_at > $3) FROM deleted`

// DeleteByUser deletes every session of userID except those listed in
// except, in one statement, and returns how many live ones it deleted
// (expired rows it removes on the way are not counted).
func (s *SessionStore) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	if userID == "" || !validText(userID) {
		if err := ctx.Err(); err != nil {
			return 0, wrap(ctx, "delete sessions by user", err)
		}
		return 0, nil
	}
	keep := make([]string, 0, len(except))
	for _, id := range except {
		if validText(id) { // any other ID cannot be in the table
			keep = append(keep, id)
		}
	}
	var n int
	if err := s.pool.QueryRow(ctx, deleteByUserSQL, userID, keep, s.now()).Scan(&n); err != nil {
		return 0, wrap(ctx, "delete sessions by user", err)
	}
	return n, nil
}

// SKIP LOCKED lets several processes sweep at once without waiting for
// one another.
const sweepSQL = `DELETE FROM hallpass_sessions WHERE id IN (
	SELECT id FROM hallpass_sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`

// Sweep deletes the rows that have expired, 500 per statement, and
// returns how many it deleted. The background sweep of the DB calls it;
// tests call it directly.
func (s *SessionStore) Sweep(ctx context.Context) (int, error) {
	n, _, err := s.sweep(ctx)
	return n, err
}

// sweep deletes the expired rows in batches of s.sweepBatch and also
// returns how many statements it ran.
func (s *SessionStore) sweep(ctx context.Context) (removed, statements int, err error) {
	now := s.now()
	for {
		tag, err := s.pool.Exec(ctx, sweepSQL, now, s.sweepBatch)
		if err != nil {
			return removed, statements, wrap(ctx, "sweep sessions", err)
		}
		statements++
		n := int(tag.RowsAffected())
		removed += n
		if n < s.sweepBatch {
			return removed, statements, nil
		}
	}
}
