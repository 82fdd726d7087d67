package memstore

import (
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
	_ session.Store     = (*SessionStore)(nil)
	_ session.UserIndex = (*SessionStore)(nil)
	_ session.Sweeper   = (*SessionStore)(nil)
)

// shardCount is the number of independently locked parts of a
// SessionStore: enough that concurrent requests rarely wait for one
// another.
const shardCount = 64

// scanBatch is how many records a sweep (or a listing by user) examines
// before it releases its shard's lock and takes it again, so that requests
// for the shard's other sessions never wait for a whole shard.
const scanBatch = 256

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
// Records are kept compactly, about 300 bytes for the session of a
// signed-in user (see BenchmarkScale): each as one string, keyed by the 32
// bytes its ID encodes, with user agents and value keys stored once per
// shard. Load decodes a fresh Record each time; timestamps are kept at
// millisecond precision. There is no index by user: ListByUser and
// DeleteByUser examine every record: about 0.4 s at a million sessions on
// a busy 2-core machine, a few milliseconds at ten thousand.
//
// A SessionStore is safe for concurrent use.
type SessionStore struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [shardCount]sessionShard

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the sweep goroutine returns; nil if none
	closeOnce sync.Once
}

// NewSessionStore returns an empty SessionStore configured by opts, and
// starts its background sweep unless opts.SweepInterval is negative.
func NewSessionStore(opts SessionOptions) *SessionStore {
	s := &SessionStore{now: opts.Now, seed: maphash.MakeSeed(), stop: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range s.shards {
		s.shards[i].init()
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

// locate returns the place of id: its shard, and its ref there.
func (s *SessionStore) locate(id string) (*sessionShard, ref) {
	at := refOf(id)
	if at.canonical {
		// The key is a SHA-256 digest: its bytes are uniform already.
		return &s.shards[at.prefix%shardCount], at
	}
	return &s.shards[maphash.String(s.seed, id)%shardCount], at
}

// Load returns the record stored under id, or session.ErrNotFound when
// there is none or it has expired. Each call returns a new Record.
func (s *SessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: load session: %w", err)
	}
	sh, at := s.locate(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	data, ok := sh.get(at)
	if !ok || !live(data, s.now()) {
		return nil, session.ErrNotFound
	}
	return sh.decode(data), nil
}

// Create stores a copy of rec under id, replacing any record there.
func (s *SessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create session: %w", err)
	}
	sh, at := s.locate(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.put(at, rec)
	return nil
}

// Update applies u to the record under id, or returns session.ErrNotFound
// when it is missing or expired. The values in u.Set are copied.
func (s *SessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: update session: %w", err)
	}
	sh, at := s.locate(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	data, ok := sh.get(at)
	if !ok || !live(data, s.now()) {
		return session.ErrNotFound
	}
	sh.put(at, u.Apply(sh.decode(data)))
	return nil
}

// Delete removes the record under id, if any.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete session: %w", err)
	}
	sh, at := s.locate(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.remove(at)
	return nil
}

// ListByUser returns the live sessions of userID, newest first. Anonymous
// sessions (userID "") are never listed. It examines every record, one
// batch at a time.
func (s *SessionStore) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list sessions by user: %w", err)
	}
	list := []session.Info{}
	if userID == "" {
		return list, nil
	}
	now := s.now()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.scan(false, func(at ref, data string) {
			if live(data, now) && userOf(data) == userID {
				list = append(list, session.InfoOf(at.ID(), sh.decode(data)))
			}
		})
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
// (userID "") are never deleted by it. It examines every record, one
// batch at a time.
func (s *SessionStore) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete sessions by user: %w", err)
	}
	if userID == "" {
		return 0, nil
	}
	now := s.now()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.scan(true, func(at ref, data string) {
			if userOf(data) != userID || slices.Contains(except, at.ID()) {
				return
			}
			sh.remove(at)
			if live(data, now) {
				n++
			}
		})
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
		n += len(sh.records) + len(sh.others)
		sh.mu.RUnlock()
	}
	return n
}

// Sweep removes expired records and returns how many it removed. It locks
// one shard at a time, and releases the lock every few hundred records, so
// it holds up requests for only a few microseconds at a time.
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
		sh.scan(true, func(at ref, data string) {
			if !live(data, now) {
				sh.remove(at)
				n++
			}
		})
	}
	return n, nil
}
