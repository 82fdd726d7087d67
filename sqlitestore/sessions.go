package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hallpass/hallpass/session"
)

var (
	_ session.CachedLoader = (*SessionStore)(nil)
	_ session.Store        = (*SessionStore)(nil)
	_ session.UserIndex    = (*SessionStore)(nil)
	_ session.Sweeper      = (*SessionStore)(nil)
)

// cacheSize is the most records the read cache of a SessionStore holds.
const cacheSize = 10000

// sweepBatch is how many expired rows one statement of a sweep deletes, so
// that a sweep after a long pause never holds the write lock for long.
const sweepBatch = 500

// SessionStore is the session.Store of a DB, in the table
// hallpass_sessions. It
// also implements session.UserIndex and session.Sweeper; the DB sweeps it
// in the background unless Options.SweepInterval is negative.
//
// Timestamps are kept at millisecond precision. Values are stored in the
// encoding of session.EncodeValues; a row whose values cannot be decoded
// makes Load and Update return an error wrapping session.ErrCorrupt.
//
// Load (of a DB made by Open) keeps the records it reads in a cache of up
// to 10,000, valid until anything commits to the database: before each
// Load it reads the header of the WAL index (the -shm file every
// connection shares, which each commit rewrites) to learn whether any
// connection, of this process or another (the CLI, a second server), has
// committed since, and forgets every cached record if one has. The store's
// own writes are the exception: each reads the header inside its
// transaction and again after its commit, and when nothing else was
// committed in between, the cache forgets only the sessions that write
// touched, so a busy login page does not empty it for every signed-in
// user. When the header cannot be read whole Load asks SQLite instead
// (PRAGMA data_version on a connection of its own). A Load therefore
// always sees the latest committed state, and costs a copy of 96 bytes
// from the mapped header while its record is cached.
type SessionStore struct {
	db    *DB
	cache sessionCache
	gate  versionGate // shares data_version reads between concurrent Loads

	testHookCommitted func() // if set, runs in write between the commit and the header read after it

	// Prepared statements, one per frequent query. Those on the writer
	// pool are bound to transactions with Tx.StmtContext.
	load    *sql.Stmt // reader
	version *sql.Stmt // watch
	create  *sql.Stmt
	touch   *sql.Stmt
	get     *sql.Stmt
	put     *sql.Stmt
	del     *sql.Stmt
}

// newSessionStore returns the SessionStore of d, with its statements
// prepared.
func newSessionStore(ctx context.Context, d *DB) (*SessionStore, error) {
	s := &SessionStore{db: d, cache: sessionCache{records: make(map[string]*session.Record)}}
	for _, p := range []struct {
		stmt **sql.Stmt
		db   *sql.DB
		sql  string
	}{
		{&s.load, d.read, loadSQL},
		{&s.version, d.watch, "PRAGMA data_version"}, // no watch (New): no cache
		{&s.create, d.write, createSQL},
		{&s.touch, d.write, touchSQL},
		{&s.get, d.write, getSQL},
		{&s.put, d.write, putSQL},
		{&s.del, d.write, deleteSQL},
	} {
		if p.db == nil {
			continue
		}
		var err error
		if *p.stmt, err = p.db.PrepareContext(ctx, p.sql); err != nil {
			s.close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
	}
	return s, nil
}

// close closes the prepared statements of s.
func (s *SessionStore) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.load, s.version, s.create, s.touch, s.get, s.put, s.del} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// ms returns t as Unix milliseconds, the unit of the time columns.
func ms(t time.Time) int64 { return t.UnixMilli() }

// msOrNull is ms(t), or NULL for the zero time.
func msOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// nullIfEmpty stores an empty user ID (an anonymous session) as NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const loadSQL = `SELECT COALESCE(user_id, ''), data, created_at, last_seen, expires_at, ip, user_agent
	FROM hallpass_sessions WHERE id = ? AND expires_at > ?`

// Load returns the record stored under id, or session.ErrNotFound when
// there is none or it has expired. It serves records from the cache while
// nothing has been committed to the database since they were read; the
// caller must not modify them.
func (s *SessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	if s.version == nil { // an app's handle (New): no connection to watch
		return s.query(ctx, id, s.db.now())
	}
	version, err := s.currentVersion(ctx)
	if err != nil {
		return nil, wrap(ctx, "load session", err)
	}
	if r, ok := s.cached(version, id); ok {
		return r, nil
	}
	r, err := s.query(ctx, id, s.db.now())
	if err != nil {
		return nil, err
	}
	s.cache.put(version, id, r)
	return r, nil
}

// LoadCached returns the record under id from the Load cache when nothing
// has been committed to the database since it was read, as Load would,
// without a query: it implements session.CachedLoader, which the session
// Manager asks first, without a per-call deadline. ok is false when Load
// must query (a record not cached, or expired, or a WAL index that cannot
// be read).
func (s *SessionStore) LoadCached(id string) (*session.Record, bool) {
	if s.db.wal == nil {
		return nil, false
	}
	st, ok := s.db.wal.stamp()
	if !ok {
		return nil, false
	}
	return s.cached(dbVersion{wal: st}, id)
}

// cached returns the live record cached under id while the database was
// at version.
func (s *SessionStore) cached(version dbVersion, id string) (*session.Record, bool) {
	r := s.cache.get(version, id)
	if r == nil || !r.Expiry.After(s.db.now()) {
		return nil, false
	}
	return r, true
}

// currentVersion tells whether anything was committed to the database since an
// earlier call: it reads the WAL index's header, or, when that cannot be
// read, asks the watch connection for PRAGMA data_version (sharing the
// question with concurrent Loads).
func (s *SessionStore) currentVersion(ctx context.Context) (dbVersion, error) {
	if s.db.wal != nil {
		if st, ok := s.db.wal.stamp(); ok {
			return dbVersion{wal: st}, nil
		}
	}
	v, err := s.gate.read(ctx, s.dataVersion)
	return dbVersion{dataVersion: v}, err
}

// dbVersion is what currentVersion read: equal values, nothing committed
// in between. A WAL-index header is never all zeros (its version field is
// checked), so a header and a data_version never compare equal.
type dbVersion struct {
	wal         walStamp
	dataVersion int64
}

// dataVersion asks the watch connection for PRAGMA data_version.
func (s *SessionStore) dataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.version.QueryRowContext(ctx).Scan(&v)
	return v, err
}

// query reads the record stored under id from the database.
func (s *SessionStore) query(ctx context.Context, id string, now time.Time) (*session.Record, error) {
	var (
		r                      session.Record
		data                   []byte
		created, seen, expires int64
	)
	err := s.load.QueryRowContext(ctx, id, ms(now)).
		Scan(&r.UserID, &data, &created, &seen, &expires, &r.IP, &r.UserAgent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, wrap(ctx, "load session", err)
	}
	// data is a fresh copy made by Scan, so the values may alias it.
	if r.Values, err = session.DecodeValues(data); err != nil {
		return nil, wrap(ctx, "load session", err)
	}
	r.CreatedAt = time.UnixMilli(created)
	r.LastSeen = time.UnixMilli(seen)
	r.Expiry = time.UnixMilli(expires)
	return &r, nil
}

const createSQL = `INSERT INTO hallpass_sessions (id, user_id, data, created_at, last_seen, expires_at, ip, user_agent)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, data = excluded.data,
		created_at = excluded.created_at, last_seen = excluded.last_seen,
		expires_at = excluded.expires_at, ip = excluded.ip, user_agent = excluded.user_agent`

// createArgs returns the arguments of createSQL for rec under id.
func createArgs(id string, rec *session.Record) []any {
	return []any{id, nullIfEmpty(rec.UserID), session.EncodeValues(rec.Values),
		ms(rec.CreatedAt), ms(rec.LastSeen), ms(rec.Expiry), rec.IP, rec.UserAgent}
}

// Create stores rec under id, replacing any record there.
func (s *SessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	err := s.write(ctx, func(tx *sql.Tx) (bool, []string, error) {
		_, err := tx.StmtContext(ctx, s.create).ExecContext(ctx, createArgs(id, rec)...)
		return true, []string{id}, err
	})
	if err != nil {
		return wrap(ctx, "create session", err)
	}
	return nil
}

// touchSQL applies an Update that changes no values in one statement,
// without reading the row.
const touchSQL = `UPDATE hallpass_sessions SET last_seen = COALESCE(?, last_seen), expires_at = COALESCE(?, expires_at)
	WHERE id = ? AND expires_at > ?`

const (
	getSQL = `SELECT data FROM hallpass_sessions WHERE id = ? AND expires_at > ?`
	putSQL = `UPDATE hallpass_sessions SET data = ?, last_seen = COALESCE(?, last_seen),
		expires_at = COALESCE(?, expires_at) WHERE id = ?`
)

// Update applies u to the record under id in one transaction, or returns
// session.ErrNotFound when it is missing or expired.
func (s *SessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	now := ms(s.db.now())
	err := s.write(ctx, func(tx *sql.Tx) (bool, []string, error) {
		if len(u.Set) == 0 && len(u.Delete) == 0 {
			res, err := tx.StmtContext(ctx, s.touch).ExecContext(ctx, msOrNull(u.LastSeen), msOrNull(u.Expiry), id, now)
			if err != nil {
				return false, nil, err
			}
			n, err := res.RowsAffected()
			if err == nil && n == 0 {
				err = session.ErrNotFound
			}
			return n > 0, []string{id}, err
		}
		var data []byte
		err := tx.StmtContext(ctx, s.get).QueryRowContext(ctx, id, now).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil, session.ErrNotFound
		}
		if err != nil {
			return false, nil, err
		}
		values, err := session.DecodeValues(data)
		if err != nil {
			return false, nil, err
		}
		// Only Values and the timestamps matter to Apply here; the columns
		// it would leave alone are not written.
		r := u.Apply(&session.Record{Values: values})
		_, err = tx.StmtContext(ctx, s.put).ExecContext(ctx,
			session.EncodeValues(r.Values), msOrNull(r.LastSeen), msOrNull(r.Expiry), id)
		return true, []string{id}, err
	})
	if errors.Is(err, session.ErrNotFound) {
		return err
	}
	if err != nil {
		return wrap(ctx, "update session", err)
	}
	return nil
}

const deleteSQL = `DELETE FROM hallpass_sessions WHERE id = ?`

// Delete removes the record under id, if any.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	err := s.write(ctx, func(tx *sql.Tx) (bool, []string, error) {
		res, err := tx.StmtContext(ctx, s.del).ExecContext(ctx, id)
		if err != nil {
			return false, nil, err
		}
		n, err := res.RowsAffected()
		return n > 0, []string{id}, err
	})
	if err != nil {
		return wrap(ctx, "delete session", err)
	}
	return nil
}

// ListByUser returns the live sessions of userID, newest first. Anonymous
// sessions (userID "") are never listed.
func (s *SessionStore) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	list := []session.Info{}
	if err := ctx.Err(); err != nil {
		return nil, wrap(ctx, "list sessions by user", err)
	}
	if userID == "" {
		return list, nil
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT id, created_at, last_seen, expires_at, ip, user_agent
		FROM hallpass_sessions WHERE user_id = ? AND expires_at > ? ORDER BY created_at DESC, id`, userID, ms(s.db.now()))
	if err != nil {
		return nil, wrap(ctx, "list sessions by user", err)
	}
	defer rows.Close()
	for rows.Next() {
		in := session.Info{UserID: userID}
		var created, seen, expires int64
		if err := rows.Scan(&in.ID, &created, &seen, &expires, &in.IP, &in.UserAgent); err != nil {
			return nil, wrap(ctx, "list sessions by user", err)
		}
		in.CreatedAt, in.LastSeen, in.Expiry = time.UnixMilli(created), time.UnixMilli(seen), time.UnixMilli(expires)
		list = append(list, in)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list sessions by user", err)
	}
	return list, nil
}

// DeleteByUser deletes every session of userID except those listed in
// except, and returns how many live sessions it deleted; it also deletes
// the user's expired rows without counting them. Anonymous sessions
// (userID "") are never deleted by it.
func (s *SessionStore) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, wrap(ctx, "delete sessions by user", err)
	}
	if userID == "" {
		return 0, nil
	}
	now := ms(s.db.now())
	var q strings.Builder
	q.WriteString(`DELETE FROM hallpass_sessions WHERE user_id = ?`)
	args := make([]any, 0, 1+len(except))
	args = append(args, userID)
	if len(except) > 0 {
		q.WriteString(` AND id NOT IN (?`)
		q.WriteString(strings.Repeat(`, ?`, len(except)-1))
		q.WriteString(`)`)
		for _, id := range except {
			args = append(args, id)
		}
	}
	q.WriteString(` RETURNING id, expires_at`)
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) (bool, []string, error) {
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return false, nil, err
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var (
				id      string
				expires int64
			)
			if err := rows.Scan(&id, &expires); err != nil {
				return true, ids, err
			}
			ids = append(ids, id)
			if expires > now {
				n++
			}
		}
		return len(ids) > 0, ids, rows.Err()
	})
	if err != nil {
		return 0, wrap(ctx, "delete sessions by user", err)
	}
	return n, nil
}

// Sweep deletes the expired rows, sweepBatch rows per statement, and
// returns how many it deleted.
func (s *SessionStore) Sweep(ctx context.Context) (int, error) {
	n, _, err := s.sweep(ctx, sweepBatch)
	return n, err
}

// sweep deletes expired rows, batch rows per statement, and returns how
// many rows and statements that took.
func (s *SessionStore) sweep(ctx context.Context, batch int) (removed, statements int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, wrap(ctx, "sweep sessions", err)
	}
	now := ms(s.db.now())
	for {
		// Each statement returns the writer connection to the pool, which
		// hands it to any request waiting to write before the next batch.
		// The rows it deletes have expired, so no Load serves them from
		// the cache: the cache need not forget any of its records.
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) (bool, []string, error) {
			res, err := tx.ExecContext(ctx, `DELETE FROM hallpass_sessions WHERE id IN
				(SELECT id FROM hallpass_sessions WHERE expires_at <= ? LIMIT ?)`, now, batch)
			if err != nil {
				return false, nil, err
			}
			n, err = res.RowsAffected()
			return n > 0, nil, err
		})
		if err != nil {
			return removed, statements, wrap(ctx, "sweep sessions", err)
		}
		statements++
		removed += int(n)
		if n < int64(batch) {
			return removed, statements, nil
		}
	}
}

// write runs fn in a transaction of the writer connection and commits
// it. fn returns whether it changed any row (and so whether the commit
// wrote to the database) and the IDs of the sessions it may have changed.
//
// With the Load cache on, write also tells the cache what its commit
// changed, so that this store's own writes (a login's new session, a
// logout) cost the cache only the records they touch, where any other
// commit (of another store of this process, or another process) empties
// it. It reads the WAL-index header inside the transaction, where no other
// connection can commit, and again after the commit: when the second
// header is the first one's successor by exactly this commit (one more
// commit counted, the same WAL, more frames), nothing else was committed
// in between, and the cache forgets only ids. Any doubt (an error, a
// header that cannot be read, another commit in between) empties the
// cache instead.
func (s *SessionStore) write(ctx context.Context, fn func(tx *sql.Tx) (wrote bool, ids []string, err error)) error {
	tx, err := beginWrite(ctx, s.db.write, s.db.shared, "hallpass_sessions")
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.version == nil || s.db.wal == nil {
		if _, _, err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	}
	before, okBefore := s.db.wal.stamp()
	s.cache.beginWrite()
	commits := -1 // not known until fn and the commit return (a panic in fn empties the cache)
	var ids []string
	defer func() { // before the deferred Rollback, with the write lock still held if fn failed
		if s.testHookCommitted != nil {
			s.testHookCommitted()
		}
		after, okAfter := s.db.wal.stamp()
		s.cache.endWrite(before, after, okBefore && okAfter, commits, ids)
	}()
	wrote, ids, err := fn(tx)
	if err != nil {
		commits = 0 // rolled back (deferred): nothing committed
		return err
	}
	switch err = tx.Commit(); {
	case err != nil:
		commits = -1 // it may or may not have committed
	case wrote:
		commits = 1
	default:
		commits = 0
	}
	return err
}

// follows reports whether the WAL-index header after is what before
// becomes through exactly commits commits (0 or 1) and nothing else. Every
// commit adds one to the header's change counter (bytes 8-11) and appends
// frames (mxFrame, bytes 16-19) to the same WAL (salts, bytes 32-39); a
// WAL started over changes the salts.
func follows(before, after walStamp, commits int) bool {
	switch commits {
	case 0:
		return before == after
	case 1:
		change := func(s walStamp) uint32 { return binary.NativeEndian.Uint32(s[8:12]) }
		frames := func(s walStamp) uint32 { return binary.NativeEndian.Uint32(s[16:20]) }
		return change(after) == change(before)+1 &&
			frames(after) > frames(before) &&
			bytes.Equal(after[32:40], before[32:40])
	}
	return false
}

// sessionCache holds records that Load read, all while the database was
// at version (its WAL-index header, or its data_version).
type sessionCache struct {
	mu      sync.Mutex
	version dbVersion
	records map[string]*session.Record
	writing int // writes of this store between beginWrite and endWrite
}

// get returns the record cached under id if the database is still at
// version, which a Load read before it looked in the cache; or nil. A
// different version empties the cache, unless a write of this store is
// under way: its commit may be that version, and endWrite will tell what
// it changed; until then such a Load neither reads nor fills the cache.
func (c *sessionCache) get(version dbVersion, id string) *session.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		if c.writing == 0 {
			clear(c.records)
			c.version = version
		}
		return nil
	}
	return c.records[id]
}

// put caches r under id, unless the database has changed from version,
// which the Load that read r got before its query. When the cache is full,
// an arbitrary record makes room.
func (c *sessionCache) put(version dbVersion, id string, r *session.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return
	}
	if len(c.records) >= cacheSize {
		for old := range c.records {
			delete(c.records, old)
			break
		}
	}
	c.records[id] = r
}

// beginWrite marks a write of this store under way.
func (c *sessionCache) beginWrite() {
	c.mu.Lock()
	c.writing++
	c.mu.Unlock()
}

// endWrite ends a write that began with the WAL-index header before and
// ended with after (ok: both read whole), made commits commits (-1: not
// known) and may have changed the records under ids. When the cache was at
// before and after follows from it by those commits alone, the cache
// forgets ids and moves to after; otherwise it forgets everything.
func (c *sessionCache) endWrite(before, after walStamp, ok bool, commits int, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing--
	if ok && c.version == (dbVersion{wal: before}) && follows(before, after, commits) {
		for _, id := range ids {
			delete(c.records, id)
		}
	} else {
		clear(c.records)
	}
	c.version = dbVersion{} // unknown: the next Load adopts its own
	if ok {
		c.version = dbVersion{wal: after}
	}
}
