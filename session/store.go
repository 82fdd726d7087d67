package session

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/hallpass/hallpass/autherr"
)

// Errors a Store returns and the Manager reports. Check them with errors.Is;
// each carries its autherr kind (not found, unavailable, unsupported).
var (
	// ErrNotFound reports that a store holds no live record under an ID:
	// it never existed, was deleted, or has expired. It is not a failure.
	ErrNotFound error = autherr.New(autherr.NotFound, "session: not found")

	// ErrCorrupt reports a stored record that cannot be decoded. The
	// Manager logs it and treats the session as missing.
	ErrCorrupt = errors.New("session: stored record cannot be decoded")

	// ErrStoreUnavailable wraps every store failure the Manager reports
	// (connection refused, timeout, disk error), so the HTTP layer can
	// answer 503 without knowing which store is in use.
	ErrStoreUnavailable error = autherr.New(autherr.Unavailable, "session: store unavailable")

	// ErrNotSupported reports that the configured store lacks an optional
	// capability, such as listing sessions by user.
	ErrNotSupported error = autherr.New(autherr.Unsupported, "session: not supported by this store")
)

// Record is the server-side state of one session as a Store keeps it.
//
// Stores may keep times at millisecond precision. A Store must treat a
// Record it is given, and one it returns, as
// immutable: the Manager never modifies a Record after handing it to
// Create or receiving it from Load, so an in-memory store may keep and
// return the same pointer without copying.
type Record struct {
	// UserID is the owner of the session; empty for an anonymous session.
	// It is set when the session is created and never changes afterwards:
	// binding a session to a user always creates a new session (Renew).
	UserID string

	// Values holds the session's data, one encoded value per key. The
	// Manager encodes values as JSON; a store treats them as opaque bytes.
	Values map[string][]byte

	// CreatedAt is when the session was created (the start of the
	// absolute lifetime). A renewed session keeps its CreatedAt.
	CreatedAt time.Time

	// LastSeen is when the session was last refreshed (the start of the
	// idle window).
	LastSeen time.Time

	// Expiry is when the store may forget the record: the earlier of the
	// idle and absolute deadlines, computed by the Manager. A store must
	// not return a record whose Expiry is at or before its clock's now.
	Expiry time.Time

	// IP and UserAgent describe the client that created the session, for
	// listing a user's active sessions.
	IP        string
	UserAgent string
}

// Clone returns a deep copy of r, for stores that must not share maps.
func (r *Record) Clone() *Record {
	c := *r
	c.Values = make(map[string][]byte, len(r.Values))
	for k, v := range r.Values {
		c.Values[k] = append([]byte(nil), v...)
	}
	return &c
}

// Update is one request's change to an existing session: the keys it set
// and the keys it deleted, and possibly new timestamps. A Store applies it
// atomically to the stored state; keys the Update does not name keep
// whatever value the store holds, so two concurrent requests that change
// different keys of one session both survive.
type Update struct {
	// Set maps keys to their new encoded values.
	Set map[string][]byte
	// Delete lists keys to remove. A key in both Set and Delete is set.
	Delete []string
	// LastSeen, when not zero, replaces the record's LastSeen.
	LastSeen time.Time
	// Expiry, when not zero, replaces the record's Expiry (and the native
	// time-to-live of stores that have one).
	Expiry time.Time
}

// Apply applies u to r and returns the result as a new Record; r is not
// modified. Stores that keep whole records use it to merge an update.
func (u *Update) Apply(r *Record) *Record {
	c := *r
	c.Values = make(map[string][]byte, len(r.Values)+len(u.Set))
	maps.Copy(c.Values, r.Values)
	for _, k := range u.Delete {
		delete(c.Values, k)
	}
	maps.Copy(c.Values, u.Set)
	if !u.LastSeen.IsZero() {
		c.LastSeen = u.LastSeen
	}
	if !u.Expiry.IsZero() {
		c.Expiry = u.Expiry
	}
	return &c
}

// Store keeps session records keyed by session ID. The ID is a SHA-256
// digest of the session token (see Manager), never the token itself, so
// the contents of a store cannot be replayed as cookies.
//
// Every method must honour ctx: a cancelled or expired context makes the
// call return an error that wraps ctx.Err(). All other errors are for
// system failures only; a missing record is never an error except where
// ErrNotFound is named. A Store must be safe for concurrent use.
//
// The package sessiontest checks every promise below; run it in each
// store's tests.
type Store interface {
	// Load returns the record stored under id. It returns ErrNotFound
	// when there is none or its Expiry is at or before now. An ID that is
	// empty, malformed or absurdly long is simply not found. A record
	// that exists but cannot be decoded yields an error wrapping
	// ErrCorrupt. The returned Record must not be modified by the caller.
	Load(ctx context.Context, id string) (*Record, error)

	// Create stores rec under a new id, replacing any record already
	// there (IDs are 256-bit random digests, so a collision means a bug or
	// an attacker replaying an ID, and the new record wins).
	Create(ctx context.Context, id string, rec *Record) error

	// Update applies u atomically to the record stored under id: the keys
	// in u.Set are set, those in u.Delete removed, and every other key
	// keeps the value the store holds at that moment, even if another
	// Update changed it after this request loaded the record. It returns
	// ErrNotFound, and creates nothing, when the record is missing or
	// expired (or the ID malformed), so a concurrent Destroy is never
	// undone, and an error wrapping ErrCorrupt when the stored record
	// cannot be decoded. The caller does not modify u after the call.
	Update(ctx context.Context, id string, u *Update) error

	// Delete removes the record under id. Deleting a missing record is
	// not an error.
	Delete(ctx context.Context, id string) error
}

// Info describes one live session, without its values, as listed by a
// UserIndex.
type Info struct {
	ID        string // the session ID (a digest of the token, safe to show)
	UserID    string
	CreatedAt time.Time
	LastSeen  time.Time
	Expiry    time.Time
	IP        string
	UserAgent string
}

// InfoOf returns the Info of the record stored under id.
func InfoOf(id string, r *Record) Info {
	return Info{ID: id, UserID: r.UserID, CreatedAt: r.CreatedAt, LastSeen: r.LastSeen,
		Expiry: r.Expiry, IP: r.IP, UserAgent: r.UserAgent}
}

// UserIndex is an optional Store capability: finding the sessions of a
// user, to list them on an account page and to end them all when the
// user's password changes or the account is disabled. The Manager's
// ListByUser and DestroyByUser return ErrNotSupported for a store without
// it.
type UserIndex interface {
	// ListByUser returns the live (unexpired) sessions whose UserID is
	// userID, newest first. A user with none yields an empty slice and a
	// nil error. The index must not return sessions that were deleted or
	// have expired, even if it cleans its own entries lazily.
	ListByUser(ctx context.Context, userID string) ([]Info, error)

	// DeleteByUser deletes every session of userID except those whose ID
	// is listed in except, and returns how many live sessions it deleted
	// (expired ones may be removed too, uncounted). An empty userID
	// matches nothing: anonymous sessions are never listed or deleted by
	// user.
	DeleteByUser(ctx context.Context, userID string, except ...string) (int, error)
}

// Sweeper is an optional Store capability: removing expired records in the
// background. Stores with native expiry (Redis, Memcached) do not need it.
// A Store that starts its own background sweep documents so; Sweep lets a
// caller (or a test) run one pass now.
type Sweeper interface {
	// Sweep removes expired records and returns how many it removed.
	Sweep(ctx context.Context) (int, error)
}
