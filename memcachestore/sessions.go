package memcachestore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/hallpass/hallpass/session"
)

var (
	_ session.Store     = (*SessionStore)(nil)
	_ session.UserIndex = (*SessionStore)(nil)
)

// DefaultPrefix is the key prefix of a SessionStore when Options.Prefix is
// empty.
const DefaultPrefix = "hallpass:"

// MaxPrefixLen is the longest Options.Prefix New accepts, leaving room in
// Memcached's 250-byte keys for the longest session IDs the Manager makes.
const MaxPrefixLen = 128

// maxKeyLen is Memcached's limit on the length of a key.
const maxKeyLen = 250

// maxCASAttempts bounds the compare-and-swap loops of Update and of the
// user index.
const maxCASAttempts = 100

// Options configures a SessionStore. The zero value is ready to use.
type Options struct {
	// Prefix starts every key the store uses, so that several
	// applications (or tests) can share servers. It must be printable
	// ASCII without spaces, at most MaxPrefixLen bytes. Default
	// DefaultPrefix ("hallpass:").
	Prefix string

	// Now returns the current time, against which expiry is checked.
	// Default time.Now; tests pass a fake clock.
	Now func() time.Time
}

// SessionStore is a session.Store kept in Memcached, with a best-effort
// session.UserIndex; see the package documentation for what that index
// cannot promise. It is safe for concurrent use.
type SessionStore struct {
	client *memcache.Client
	prefix string
	now    func() time.Time

	beforeCAS func() // tests only: called between the read and the write of an Update
}

// New returns a SessionStore that keeps its records through client, which
// the caller keeps ownership of. It panics if opts.Prefix cannot start a
// Memcached key (see Options.Prefix).
func New(client *memcache.Client, opts Options) *SessionStore {
	s := &SessionStore{client: client, prefix: opts.Prefix, now: opts.Now}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if len(s.prefix) > MaxPrefixLen || !keySafe(s.prefix) {
		panic(fmt.Sprintf("memcachestore: New: Prefix %q must be printable ASCII without spaces, at most %d bytes", s.prefix, MaxPrefixLen))
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// keySafe reports whether s holds only bytes allowed in a Memcached key
// (printable ASCII, no space).
func keySafe(s string) bool {
	for i := range len(s) {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// sessionKey returns the key of the session id, and false if id cannot be
// part of a key (such an ID is never stored).
func (s *SessionStore) sessionKey(id string) (string, bool) {
	key := s.prefix + "s:" + id
	return key, id != "" && len(key) <= maxKeyLen && keySafe(id)
}

// indexKey returns the key of the index of userID, which may hold any
// bytes: the key holds a digest of it.
func (s *SessionStore) indexKey(userID string) string {
	sum := sha256.Sum256([]byte(userID))
	return s.prefix + "u:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// expiration returns the Memcached expiration of an item that the store's
// clock says expires at expiry: the seconds left, rounded up, plus one
// for Memcached's one-second clock, and at least 1; beyond 30 days,
// Memcached wants an absolute Unix time instead.
func (s *SessionStore) expiration(expiry time.Time) int32 {
	d := expiry.Sub(s.now())
	secs := int64((d+time.Second-1)/time.Second) + 1
	switch {
	case secs < 1:
		return 1
	case secs <= 30*24*60*60:
		return int32(secs)
	default:
		return int32(min(expiry.Unix()+2, math.MaxInt32))
	}
}

// wrap adds the operation to err, and marks a refusal of an item that is
// too large with ErrTooLarge.
func wrap(op string, err error) error {
	if err != nil && strings.Contains(err.Error(), "object too large") {
		return fmt.Errorf("memcachestore: %s: %w (%w)", op, ErrTooLarge, err)
	}
	return fmt.Errorf("memcachestore: %s: %w", op, err)
}

// backoff waits a short random time, longer as attempt grows, so that
// compare-and-swap loops that keep conflicting spread out. It returns
// ctx's error if ctx is done first.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(attempt+1, 32)) * int64(100*time.Microsecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Load returns the record stored under id, in one request, or
// session.ErrNotFound when there is none or it has expired.
func (s *SessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memcachestore: load session: %w", err)
	}
	key, ok := s.sessionKey(id)
	if !ok {
		return nil, session.ErrNotFound
	}
	it, err := s.client.Get(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, session.ErrNotFound
	}
	if err != nil {
		return nil, wrap("load session", err)
	}
	rec, err := decodeRecord(it.Value)
	if err != nil {
		return nil, wrap("load session", err)
	}
	if !rec.Expiry.After(s.now()) {
		return nil, session.ErrNotFound
	}
	return rec, nil
}

// Create stores rec under id, replacing any record there. A user's
// session is added to the user's index first. It returns an error if id
// cannot be part of a Memcached key (see the package documentation).
func (s *SessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: create session: %w", err)
	}
	key, ok := s.sessionKey(id)
	if !ok {
		return fmt.Errorf("memcachestore: create session: ID %.64q cannot be part of a memcached key", id)
	}
	if rec.UserID != "" {
		now := s.now()
		err := s.changeIndex(ctx, rec.UserID, func(entries []indexEntry) []indexEntry {
			entries = slices.DeleteFunc(entries, func(e indexEntry) bool {
				return e.id == id || !e.expiry.After(now)
			})
			return append(entries, indexEntry{id: id, expiry: rec.Expiry})
		})
		if err != nil {
			return fmt.Errorf("memcachestore: create session: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: create session: %w", err)
	}
	err := s.client.Set(&memcache.Item{Key: key, Value: encodeRecord(rec), Expiration: s.expiration(rec.Expiry)})
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// Update applies u to the record under id with a compare-and-swap loop,
// or returns session.ErrNotFound if the record is missing or has expired.
// When u extends the expiry of a user's session, it then raises the
// session's expiry in the user's index.
func (s *SessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	key, ok := s.sessionKey(id)
	if !ok {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memcachestore: update session: %w", err)
		}
		return session.ErrNotFound
	}
	for attempt := range maxCASAttempts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memcachestore: update session: %w", err)
		}
		it, err := s.client.Get(key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			return session.ErrNotFound
		}
		if err != nil {
			return wrap("update session", err)
		}
		old, err := decodeRecord(it.Value)
		if err != nil {
			return wrap("update session", err)
		}
		if !old.Expiry.After(s.now()) {
			return session.ErrNotFound
		}
		rec := u.Apply(old)
		it.Value = encodeRecord(rec)
		it.Expiration = s.expiration(rec.Expiry)
		if s.beforeCAS != nil {
			s.beforeCAS()
		}
		err = s.client.CompareAndSwap(it)
		switch {
		case errors.Is(err, memcache.ErrCASConflict):
			if err := backoff(ctx, attempt); err != nil {
				return fmt.Errorf("memcachestore: update session: %w", err)
			}
			continue
		case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
			return session.ErrNotFound // deleted, expired or evicted since the read
		case err != nil:
			return wrap("update session", err)
		}
		if rec.UserID != "" && rec.Expiry.After(old.Expiry) {
			err := s.changeIndex(ctx, rec.UserID, func(entries []indexEntry) []indexEntry {
				for i := range entries {
					if entries[i].id == id {
						if rec.Expiry.After(entries[i].expiry) {
							entries[i].expiry = rec.Expiry
						}
						return entries
					}
				}
				return append(entries, indexEntry{id: id, expiry: rec.Expiry})
			})
			if err != nil {
				return fmt.Errorf("memcachestore: update session: index new expiry: %w", err)
			}
		}
		return nil
	}
	return fmt.Errorf("memcachestore: update session: gave up after %d conflicting concurrent updates", maxCASAttempts)
}

// Delete removes the record under id and its entry in its user's index.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: delete session: %w", err)
	}
	key, ok := s.sessionKey(id)
	if !ok {
		return nil
	}
	// Read the record first, to know whose index to update.
	it, err := s.client.Get(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	if err != nil {
		return wrap("delete session", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: delete session: %w", err)
	}
	if err := s.client.Delete(key); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return wrap("delete session", err)
	}
	if rec, err := decodeRecord(it.Value); err == nil && rec.UserID != "" {
		if err := s.changeIndex(ctx, rec.UserID, removeIDs(id)); err != nil {
			return fmt.Errorf("memcachestore: delete session: %w", err)
		}
	}
	return nil
}

// removeIDs returns an index change that removes the entries of ids.
func removeIDs(ids ...string) func([]indexEntry) []indexEntry {
	return func(entries []indexEntry) []indexEntry {
		return slices.DeleteFunc(entries, func(e indexEntry) bool { return slices.Contains(ids, e.id) })
	}
}

// changeIndex replaces the entries of userID's index with change(entries),
// with a compare-and-swap loop so that concurrent changes all survive. An
// index that cannot be decoded is treated as empty.
func (s *SessionStore) changeIndex(ctx context.Context, userID string, change func([]indexEntry) []indexEntry) error {
	key := s.indexKey(userID)
	for attempt := range maxCASAttempts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("user index: %w", err)
		}
		it, err := s.client.Get(key)
		missing := errors.Is(err, memcache.ErrCacheMiss)
		if err != nil && !missing {
			return wrap("user index", err)
		}
		var entries []indexEntry
		if !missing {
			entries, _ = decodeIndex(it.Value)
		} else {
			it = &memcache.Item{Key: key}
		}
		entries = change(entries)
		last := time.Time{}
		for _, e := range entries {
			if e.expiry.After(last) {
				last = e.expiry
			}
		}
		it.Value = encodeIndex(entries)
		it.Expiration = s.expiration(last)
		if missing {
			err = s.client.Add(it)
		} else {
			err = s.client.CompareAndSwap(it)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			// Changed, added, or expired since the read.
			if err := backoff(ctx, attempt); err != nil {
				return fmt.Errorf("user index: %w", err)
			}
		default:
			return wrap("user index", err)
		}
	}
	return fmt.Errorf("memcachestore: user index: gave up after %d conflicting concurrent changes", maxCASAttempts)
}

// userSessions reads userID's index and the sessions it lists. It returns
// the entries with their records; a record is nil if its item is missing
// or cannot be decoded.
func (s *SessionStore) userSessions(ctx context.Context, userID string) ([]indexEntry, []*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	it, err := s.client.Get(s.indexKey(userID))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	// A corrupt index lists nothing; the next change replaces it.
	entries, _ := decodeIndex(it.Value)
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		if key, ok := s.sessionKey(e.id); ok {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return entries, make([]*session.Record, len(entries)), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	items, err := s.client.GetMulti(keys)
	if err != nil {
		return nil, nil, err
	}
	recs := make([]*session.Record, len(entries))
	for i, e := range entries {
		key, _ := s.sessionKey(e.id)
		if it, ok := items[key]; ok {
			recs[i], _ = decodeRecord(it.Value)
		}
	}
	return entries, recs, nil
}

// ListByUser returns the live sessions of userID, newest first: those its
// index lists whose own item still exists, belongs to userID and has not
// expired. It drops the other entries from the index. Anonymous sessions
// (userID "") are not indexed, so listing them yields nothing. See the
// package documentation for why the index may miss sessions.
func (s *SessionStore) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	list := []session.Info{}
	if userID == "" {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("memcachestore: list sessions by user: %w", err)
		}
		return list, nil
	}
	entries, recs, err := s.userSessions(ctx, userID)
	if err != nil {
		return nil, wrap("list sessions by user", err)
	}
	now := s.now()
	var stale []string
	for i, e := range entries {
		if r := recs[i]; r != nil && r.UserID == userID && r.Expiry.After(now) {
			list = append(list, session.InfoOf(e.id, r))
		} else {
			stale = append(stale, e.id)
		}
	}
	if len(stale) > 0 {
		if err := s.changeIndex(ctx, userID, removeIDs(stale...)); err != nil {
			return nil, fmt.Errorf("memcachestore: list sessions by user: prune %w", err)
		}
	}
	slices.SortFunc(list, func(a, b session.Info) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return list, nil
}

// DeleteByUser deletes every session of userID that its index lists,
// except those in except, and returns how many live ones it deleted. A
// session whose index entry was evicted is not found, and not deleted:
// see the package documentation.
func (s *SessionStore) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	if userID == "" {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("memcachestore: delete sessions by user: %w", err)
		}
		return 0, nil
	}
	entries, recs, err := s.userSessions(ctx, userID)
	if err != nil {
		return 0, wrap("delete sessions by user", err)
	}
	now := s.now()
	n := 0
	var drop []string
	for i, e := range entries {
		if slices.Contains(except, e.id) {
			continue
		}
		drop = append(drop, e.id)
		r := recs[i]
		if r == nil || r.UserID != userID {
			continue // gone, or replaced by another user's session
		}
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("memcachestore: delete sessions by user: %w", err)
		}
		key, _ := s.sessionKey(e.id)
		if err := s.client.Delete(key); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			return n, wrap("delete sessions by user", err)
		}
		if r.Expiry.After(now) {
			n++
		}
	}
	if len(drop) > 0 {
		if err := s.changeIndex(ctx, userID, removeIDs(drop...)); err != nil {
			return n, fmt.Errorf("memcachestore: delete sessions by user: %w", err)
		}
	}
	return n, nil
}
