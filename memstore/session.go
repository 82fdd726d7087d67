package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hallpass/hallpass/session"
)

var (
	_ session.Store          = (*SessionStore)(nil)
	_ session.UserIndex      = (*SessionStore)(nil)
	_ session.Sweeper        = (*SessionStore)(nil)
	_ session.InProcessStore = (*SessionStore)(nil)
)

// shardCount is the number of independently locked parts of a
// SessionStore (and of its user index): enough that concurrent requests
// rarely wait for one another, and that a sweep of one shard holds up only
// 1/64 of the sessions.
const shardCount = 64

// DefaultSweepInterval is the interval of the background sweep when
// SessionOptions.SweepInterval is zero.
const DefaultSweepInterval = time.Minute

// SessionOptions configures a SessionStore. The zero value is ready to use.
type SessionOptions struct {
	// Now returns the current time, against which expiry is checked.
	// Default time.Now; tests pass a fake clock.
	Now func() time.Time

	// SweepInterval is how often a background goroutine removes expired
	// records. Zero means DefaultSweepInterval (one minute); a negative
	// value disables the background sweep (call Sweep yourself).
	SweepInterval time.Duration
}

// SessionStore is an in-memory session.Store, for tests, development and
// single-process servers that accept losing their sessions on restart. It
// also implements session.UserIndex and session.Sweeper, and unless told
// otherwise sweeps expired records in the background until Close is
// called.
//
// Records are kept as given and never modified: Create stores a deep copy
// of the caller's Record, Update replaces the stored Record with a new one,
// and Load returns the stored pointer without copying, so the caller must
// not modify it (as the session.Store contract already requires).
//
// A SessionStore is safe for concurrent use.
type SessionStore struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [shardCount]sessionShard
	users  [shardCount]userShard

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the sweep goroutine returns; nil if none
	closeOnce sync.Once
}

// sessionShard holds the records whose IDs hash to it.
type sessionShard struct {
	mu      sync.RWMutex
	records map[string]*session.Record
}

// userShard maps user IDs that hash to it to the set of their session IDs.
// It mirrors the session shards exactly (expired records included, until
// they are swept): it is changed only while the session shard of the
// affected record is locked, so the lock order is always session shard,
// then user shard.
type userShard struct {
	mu  sync.RWMutex
	ids map[string]map[string]struct{}
}

// NewSessionStore returns an empty SessionStore configured by opts, and
// starts its background sweep unless opts.SweepInterval is negative.
func NewSessionStore(opts SessionOptions) *SessionStore {
	s := &SessionStore{now: opts.Now, seed: maphash.MakeSeed(), stop: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range s.shards {
		s.shards[i].records = make(map[string]*session.Record)
		s.users[i].ids = make(map[string]map[string]struct{})
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval > 0 {
		s.done = make(chan struct{})
		go s.sweepEvery(interval)
	}
	return s
}

// Close stops the background sweep and waits for it to finish. The store
// keeps working (without a background sweep) after Close. Close always
// returns nil; calling it again does nothing.
func (s *SessionStore) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		if s.done != nil {
			<-s.done
		}
	})
	return nil
}

func (s *SessionStore) sweepEvery(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweep(s.stop)
		}
	}
}

func (s *SessionStore) shard(id string) *sessionShard {
	return &s.shards[maphash.String(s.seed, id)%shardCount]
}

func (s *SessionStore) userShard(userID string) *userShard {
	return &s.users[maphash.String(s.seed, userID)%shardCount]
}

// live reports whether r exists and has not expired at now.
func live(r *session.Record, now time.Time) bool {
	return r != nil && r.Expiry.After(now)
}

// InProcess marks the store as a session.InProcessStore: its calls never
// wait, so the session Manager gives them no per-call deadline.
func (s *SessionStore) InProcess() {}

// Load returns the record stored under id, or session.ErrNotFound when
// there is none or it has expired. The record is shared: the caller must
// not modify it.
func (s *SessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: load session: %w", err)
	}
	sh := s.shard(id)
	sh.mu.RLock()
	r := sh.records[id]
	sh.mu.RUnlock()
	if !live(r, s.now()) {
		return nil, session.ErrNotFound
	}
	return r, nil
}

// Create stores a deep copy of rec under id, replacing any record there.
func (s *SessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create session: %w", err)
	}
	r := rec.Clone()
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.records[id]; old != nil && old.UserID != r.UserID {
		s.unindex(old.UserID, id)
	}
	sh.records[id] = r
	s.index(r.UserID, id)
	return nil
}

// Update applies u to the record under id, or returns session.ErrNotFound
// when it is missing or expired. The values in u.Set are copied.
func (s *SessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: update session: %w", err)
	}
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r := sh.records[id]
	if !live(r, s.now()) {
		return session.ErrNotFound
	}
	nr := u.Apply(r)
	for k, v := range u.Set {
		nr.Values[k] = bytes.Clone(v)
	}
	sh.records[id] = nr // UserID never changes, so the index stays
	return nil
}

// Delete removes the record under id, if any.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete session: %w", err)
	}
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.remove(sh, id)
	return nil
}

// remove deletes the record id from sh, which the caller has locked, and
// from the user index. It returns the removed record, or nil.
func (s *SessionStore) remove(sh *sessionShard, id string) *session.Record {
	r := sh.records[id]
	if r == nil {
		return nil
	}
	delete(sh.records, id)
	s.unindex(r.UserID, id)
	return r
}

// index adds id to the sessions of userID. The caller holds the lock of
// id's session shard.
func (s *SessionStore) index(userID, id string) {
	if userID == "" {
		return
	}
	us := s.userShard(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	set := us.ids[userID]
	if set == nil {
		set = make(map[string]struct{})
		us.ids[userID] = set
	}
	set[id] = struct{}{}
}

// unindex removes id from the sessions of userID. The caller holds the
// lock of id's session shard.
func (s *SessionStore) unindex(userID, id string) {
	if userID == "" {
		return
	}
	us := s.userShard(userID)
	us.mu.Lock()
	defer us.mu.Unlock()
	set := us.ids[userID]
	delete(set, id)
	if len(set) == 0 {
		delete(us.ids, userID)
	}
}

// userIDs returns a snapshot of the session IDs indexed under userID.
func (s *SessionStore) userIDs(userID string) []string {
	us := s.userShard(userID)
	us.mu.RLock()
	defer us.mu.RUnlock()
	ids := make([]string, 0, len(us.ids[userID]))
	for id := range us.ids[userID] {
		ids = append(ids, id)
	}
	return ids
}

// ListByUser returns the live sessions of userID, newest first. Anonymous
// sessions (userID "") are never listed.
func (s *SessionStore) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list sessions by user: %w", err)
	}
	list := []session.Info{}
	if userID == "" {
		return list, nil
	}
	now := s.now()
	for _, id := range s.userIDs(userID) {
		sh := s.shard(id)
		sh.mu.RLock()
		r := sh.records[id]
		sh.mu.RUnlock()
		// The record may have changed since the snapshot of the index.
		if live(r, now) && r.UserID == userID {
			list = append(list, session.InfoOf(id, r))
		}
	}
	slices.SortFunc(list, func(a, b session.Info) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return list, nil
}

// DeleteByUser deletes every session of userID except those listed in
// except, and returns how many live sessions it deleted; it also deletes
// the user's expired records without counting them. Anonymous sessions
// (userID "") are never deleted by it.
func (s *SessionStore) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete sessions by user: %w", err)
	}
	if userID == "" {
		return 0, nil
	}
	now := s.now()
	n := 0
	for _, id := range s.userIDs(userID) {
		if slices.Contains(except, id) {
			continue
		}
		sh := s.shard(id)
		sh.mu.Lock()
		if r := sh.records[id]; r != nil && r.UserID == userID {
			s.remove(sh, id)
			if live(r, now) {
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n, nil
}

// Len returns the number of records the store holds, counting expired ones
// that have not been swept yet. Concurrent changes may or may not be
// counted.
func (s *SessionStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.records)
		sh.mu.RUnlock()
	}
	return n
}

// Sweep removes expired records and returns how many it removed. It locks
// one shard at a time, so it holds up only the requests for that shard's
// sessions.
func (s *SessionStore) Sweep(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: sweep sessions: %w", err)
	}
	n, err := s.sweep(ctx.Done())
	if err != nil {
		return n, fmt.Errorf("memstore: sweep sessions: %w", ctx.Err())
	}
	return n, nil
}

// errStopped reports that a sweep stopped early because stop was closed.
var errStopped = errors.New("memstore: sweep stopped")

// sweep removes expired records, one shard at a time, until done or until
// stop is closed.
func (s *SessionStore) sweep(stop <-chan struct{}) (int, error) {
	now := s.now()
	n := 0
	for i := range s.shards {
		select {
		case <-stop:
			return n, errStopped
		default:
		}
		sh := &s.shards[i]
		sh.mu.Lock()
		for id, r := range sh.records {
			if !live(r, now) {
				s.remove(sh, id)
				n++
			}
		}
		sh.mu.Unlock()
	}
	return n, nil
}
