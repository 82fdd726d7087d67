package memstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

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
	// records and stores compactly those not loaded since the sweep
	// before. Zero means DefaultSweepInterval (one minute); a negative
	// value disables the background sweep (call Sweep yourself).
	SweepInterval time.Duration
}

// SessionStore is an in-memory session.Store, for tests, development and
// single-process servers that accept losing their sessions on restart. It
// also implements session.UserIndex and session.Sweeper, and unless told
// otherwise sweeps in the background until Close is called.
//
// Records are kept in one of two forms. A hot record is a *session.Record
// that Load returns without copying, so the caller must not modify it (as
// the session.Store contract already requires); Update replaces it with a
// new one, and nothing ever modifies it. A cold record is one compact
// string of bytes (a quarter of the memory or less; see compact.go). Create
// stores records cold; the first Load of a cold record decodes it and
// keeps it hot; each sweep removes expired records and turns back cold the
// hot records that were not loaded since the sweep before. A million idle
// signed-in sessions thus take about 270 MB, and only those in use are
// kept decoded.
//
// A SessionStore is safe for concurrent use.
type SessionStore struct {
	now    func() time.Time
	seed   maphash.Seed
	mask   uint64 // of the hashes: all ones, but fewer bits in tests of collisions
	shards [shardCount]sessionShard
	users  [shardCount]userShard
	strs   interner // user agents and value keys of cold records

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the sweep goroutine returns; nil if none
	closeOnce sync.Once
}

// sessionShard holds the records whose IDs hash to it, keyed by the 64-bit
// hash of their ID: distinct IDs with the same hash share a key, as a chain
// of hot entries and a bucket of several cold entries.
type sessionShard struct {
	mu   sync.RWMutex
	hot  map[uint64]*hotEntry
	cold map[uint64]string // bucket of compact entries (see compact.go)
	n    int               // records held, hot and cold
}

// hotEntry is a decoded record.
type hotEntry struct {
	id   string
	rec  *session.Record // replaced by Update, never modified
	used atomic.Bool     // loaded since the last sweep
	next *hotEntry       // another ID with the same hash
}

// userShard maps the 64-bit hashes of the user IDs that hash to it to the
// hashes of their sessions' IDs, each 8 bytes little-endian, one per
// session (a multiset). It mirrors the session shards (expired records
// included, until they are swept): an entry is added while the session
// shard of its record is locked, when the record is stored, and removed
// when the record is, or by the sweep just after, so it may briefly name a
// record that is gone but never misses one. The lock order is session
// shard, then user shard. Hashes can collide, so every use checks the
// records themselves.
type userShard struct {
	mu  sync.Mutex
	ids map[uint64]string
}

// NewSessionStore returns an empty SessionStore configured by opts, and
// starts its background sweep unless opts.SweepInterval is negative.
func NewSessionStore(opts SessionOptions) *SessionStore {
	s := &SessionStore{now: opts.Now, seed: maphash.MakeSeed(), mask: ^uint64(0), stop: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range s.shards {
		s.shards[i].hot = make(map[uint64]*hotEntry)
		s.shards[i].cold = make(map[uint64]string)
		s.users[i].ids = make(map[uint64]string)
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

func (s *SessionStore) hash(str string) uint64 { return maphash.String(s.seed, str) & s.mask }

// hashBytes is hash for bytes: hashBytes(b) == hash(string(b)).
func (s *SessionStore) hashBytes(b []byte) uint64 { return maphash.Bytes(s.seed, b) & s.mask }

func (s *SessionStore) shardOf(h uint64) *sessionShard { return &s.shards[h%shardCount] }

// live reports whether r exists and has not expired at now.
func live(r *session.Record, now time.Time) bool {
	return r != nil && r.Expiry.After(now)
}

// InProcess marks the store as a session.InProcessStore: its calls never
// wait, so the session Manager gives them no per-call deadline.
func (s *SessionStore) InProcess() {}

// key is an ID with its hash and, if it spells one, its digest.
type key struct {
	id       string
	h        uint64
	digest   [32]byte
	isDigest bool
}

func (s *SessionStore) keyOf(id string) key {
	k := key{id: id, h: s.hash(id)}
	k.digest, k.isDigest = idDigestOf(id)
	return k
}

// matches reads the ID off entry reader d and reports whether it is k's.
func (k *key) matches(d *entryReader) bool {
	digest, str := d.readID()
	return sameID(digest, str, k.id, &k.digest, k.isDigest)
}

// findHot returns the hot entry of id (hash h) in sh, or nil.
func findHot(sh *sessionShard, h uint64, id string) *hotEntry {
	for e := sh.hot[h]; e != nil; e = e.next {
		if e.id == id {
			return e
		}
	}
	return nil
}

// findCold returns the cold entry of k in sh, or nil.
func findCold(sh *sessionShard, k *key) []byte {
	for it := iterBucket(sh.cold[k.h]); ; {
		e, ok := it.next()
		if !ok {
			return nil
		}
		if d := (entryReader{b: e}); k.matches(&d) {
			return e
		}
	}
}

// Load returns the record stored under id, or session.ErrNotFound when
// there is none or it has expired. The record is shared: the caller must
// not modify it.
func (s *SessionStore) Load(ctx context.Context, id string) (*session.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: load session: %w", err)
	}
	h := s.hash(id)
	sh := s.shardOf(h)
	r, cold := s.hot(sh, h, id)
	switch {
	case r != nil:
		return liveOrNotFound(r, s.now())
	case cold:
		return s.promote(id, h, sh)
	}
	return nil, session.ErrNotFound
}

// LoadCached returns the record stored under id when it is held decoded
// (session.CachedLoader), without a clock read: the session Manager, its
// only caller, checks the expiry of every record it loads. ok false sends
// the Manager to Load, which also decodes a record held compact.
func (s *SessionStore) LoadCached(id string) (rec *session.Record, ok bool) {
	h := s.hash(id)
	r, _ := s.hot(s.shardOf(h), h, id)
	return r, r != nil
}

// hot returns the decoded record of id (hash h) in sh, marking it used,
// or nil, and whether sh holds a compact record under h.
func (s *SessionStore) hot(sh *sessionShard, h uint64, id string) (rec *session.Record, cold bool) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if e := findHot(sh, h, id); e != nil {
		if !e.used.Load() {
			e.used.Store(true)
		}
		return e.rec, false
	}
	_, cold = sh.cold[h]
	return nil, cold
}

// promote decodes the cold record of id and keeps it hot.
func (s *SessionStore) promote(id string, h uint64, sh *sessionShard) (*session.Record, error) {
	k := s.keyOf(id)
	k.h = h
	sh.mu.RLock()
	e := findCold(sh, &k)
	sh.mu.RUnlock()
	if e == nil {
		// Gone, or promoted by a concurrent Load: look again.
		return s.loadHot(id, h, sh)
	}
	r, err := s.decodeRecord(e) // e is immutable: no lock needed
	if err != nil {
		return nil, fmt.Errorf("memstore: load session: %w: %w", session.ErrCorrupt, err)
	}
	if !live(r, s.now()) {
		return nil, session.ErrNotFound // left cold for the sweep
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if he := findHot(sh, h, id); he != nil {
		return liveOrNotFound(he.rec, s.now())
	}
	if e2 := findCold(sh, &k); e2 == nil || !bytes.Equal(e, e2) {
		// Replaced or deleted meanwhile.
		if e2 == nil {
			return nil, session.ErrNotFound
		}
		if r, err = s.decodeRecord(e2); err != nil {
			return nil, fmt.Errorf("memstore: load session: %w: %w", session.ErrCorrupt, err)
		}
	}
	removeCold(sh, &k)
	he := &hotEntry{id: id, rec: r}
	he.used.Store(true)
	addHot(sh, h, he)
	return liveOrNotFound(r, s.now())
}

func liveOrNotFound(r *session.Record, now time.Time) (*session.Record, error) {
	if !live(r, now) {
		return nil, session.ErrNotFound
	}
	return r, nil
}

// loadHot returns the hot record of id, if any.
func (s *SessionStore) loadHot(id string, h uint64, sh *sessionShard) (*session.Record, error) {
	sh.mu.RLock()
	e := findHot(sh, h, id)
	var r *session.Record
	if e != nil {
		e.used.Store(true)
		r = e.rec
	}
	sh.mu.RUnlock()
	return liveOrNotFound(r, s.now())
}

// addHot adds e under hash h; sh is locked and holds no record of e.id.
func addHot(sh *sessionShard, h uint64, e *hotEntry) {
	e.next = sh.hot[h]
	sh.hot[h] = e
}

// removeHot unlinks the hot entry of id, if any, and returns it.
func removeHot(sh *sessionShard, h uint64, id string) *hotEntry {
	for p := (**hotEntry)(nil); ; {
		var e *hotEntry
		if p == nil {
			e = sh.hot[h]
		} else {
			e = *p
		}
		if e == nil {
			return nil
		}
		if e.id == id {
			switch {
			case p != nil:
				*p = e.next
			case e.next != nil:
				sh.hot[h] = e.next
			default:
				delete(sh.hot, h)
			}
			e.next = nil
			return e
		}
		p = &e.next
	}
}

// addCold adds the compact entry e under hash h; sh is locked and holds no
// record of e's ID.
func addCold(sh *sessionShard, h uint64, e []byte) {
	old, ok := sh.cold[h]
	if !ok {
		sh.cold[h] = makeBucket(e)
		return
	}
	es := [][]byte{e}
	for it := iterBucket(old); ; {
		oe, ok := it.next()
		if !ok {
			break
		}
		es = append(es, oe)
	}
	sh.cold[h] = makeBucket(es...)
}

// removeCold removes the cold entry of k, if any, and returns it.
func removeCold(sh *sessionShard, k *key) []byte {
	var kept [][]byte
	var found []byte
	for it := iterBucket(sh.cold[k.h]); ; {
		e, ok := it.next()
		if !ok {
			break
		}
		if d := (entryReader{b: e}); found == nil && k.matches(&d) {
			found = e
		} else {
			kept = append(kept, e)
		}
	}
	if found == nil {
		return nil
	}
	if len(kept) == 0 {
		delete(sh.cold, k.h)
	} else {
		sh.cold[k.h] = makeBucket(kept...)
	}
	return found
}

// remove deletes the record of k from sh, which the caller has locked, and
// from the user index. It reports the record's expiry, and whether there
// was one.
func (s *SessionStore) remove(sh *sessionShard, k *key) (expiry time.Time, ok bool) {
	if e := removeHot(sh, k.h, k.id); e != nil {
		sh.n--
		s.unindex(e.rec.UserID, k.h)
		return e.rec.Expiry, true
	}
	if e := removeCold(sh, k); e != nil {
		sh.n--
		hd := headerOf(e)
		s.unindexHash(hd.userID, k.h)
		return hd.times[2], true
	}
	return time.Time{}, false
}

// Create stores rec under id, in compact form, replacing any record there.
func (s *SessionStore) Create(ctx context.Context, id string, rec *session.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create session: %w", err)
	}
	k := s.keyOf(id)
	var buf [512]byte
	e := s.appendEntry(buf[:0], &k, rec)
	sh := s.shardOf(k.h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.remove(sh, &k)
	addCold(sh, k.h, e)
	sh.n++
	s.index(rec.UserID, k.h)
	return nil
}

// Update applies u to the record under id, or returns session.ErrNotFound
// when it is missing or expired. The values in u.Set are copied. The
// updated record is kept hot.
func (s *SessionStore) Update(ctx context.Context, id string, u *session.Update) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: update session: %w", err)
	}
	h := s.hash(id)
	sh := s.shardOf(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	he := findHot(sh, h, id)
	if he == nil {
		k := s.keyOf(id)
		e := findCold(sh, &k)
		if e == nil {
			return session.ErrNotFound
		}
		r, err := s.decodeRecord(e)
		if err != nil {
			return fmt.Errorf("memstore: update session: %w: %w", session.ErrCorrupt, err)
		}
		if !live(r, s.now()) {
			return session.ErrNotFound
		}
		removeCold(sh, &k)
		he = &hotEntry{id: id, rec: r}
		addHot(sh, h, he)
	}
	r := he.rec
	if !live(r, s.now()) {
		return session.ErrNotFound
	}
	nr := u.Apply(r)
	for k, v := range u.Set {
		nr.Values[k] = bytes.Clone(v)
	}
	he.rec = nr // UserID never changes, so the index stays
	he.used.Store(true)
	return nil
}

// Delete removes the record under id, if any.
func (s *SessionStore) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete session: %w", err)
	}
	k := s.keyOf(id)
	sh := s.shardOf(k.h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s.remove(sh, &k)
	return nil
}

// index adds session hash h to the sessions of userID. The caller holds
// the lock of the session's shard.
func (s *SessionStore) index(userID string, h uint64) {
	if userID == "" {
		return
	}
	uh := s.hash(userID)
	us := &s.users[uh%shardCount]
	us.mu.Lock()
	defer us.mu.Unlock()
	old := us.ids[uh]
	b := make([]byte, len(old), len(old)+8)
	copy(b, old)
	b = binary.LittleEndian.AppendUint64(b, h)
	us.ids[uh] = unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// unindex removes one occurrence of session hash h from the sessions of
// userID. The caller holds the lock of the session's shard.
func (s *SessionStore) unindex(userID string, h uint64) {
	if userID != "" {
		s.unindexUser(s.hash(userID), h)
	}
}

// unindexHash is unindex for a user ID read from a compact entry.
func (s *SessionStore) unindexHash(userID []byte, h uint64) {
	if len(userID) != 0 {
		s.unindexUser(s.hashBytes(userID), h)
	}
}

// unindexUser is unindex for the user whose ID hashes to uh.
func (s *SessionStore) unindexUser(uh, h uint64) {
	us := &s.users[uh%shardCount]
	us.mu.Lock()
	defer us.mu.Unlock()
	old := us.ids[uh]
	for i := 0; i+8 <= len(old); i += 8 {
		if binary.LittleEndian.Uint64(view(old[i:])) == h {
			if len(old) == 8 {
				delete(us.ids, uh)
			} else {
				us.ids[uh] = old[:i] + old[i+8:]
			}
			return
		}
	}
}

// userHashes returns the distinct hashes of the session IDs indexed under
// userID (a snapshot).
func (s *SessionStore) userHashes(userID string) []uint64 {
	uh := s.hash(userID)
	us := &s.users[uh%shardCount]
	us.mu.Lock()
	old := us.ids[uh]
	us.mu.Unlock()
	hs := make([]uint64, 0, len(old)/8)
	for i := 0; i+8 <= len(old); i += 8 {
		hs = append(hs, binary.LittleEndian.Uint64(view(old[i:])))
	}
	slices.Sort(hs)
	return slices.Compact(hs)
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
	for _, h := range s.userHashes(userID) {
		sh := s.shardOf(h)
		sh.mu.RLock()
		for e := sh.hot[h]; e != nil; e = e.next {
			// The record may have changed since the snapshot of the index.
			if live(e.rec, now) && e.rec.UserID == userID {
				list = append(list, session.InfoOf(e.id, e.rec))
			}
		}
		for it := iterBucket(sh.cold[h]); ; {
			e, ok := it.next()
			if !ok {
				break
			}
			hd := headerOf(e)
			if string(hd.userID) == userID && hd.times[2].After(now) {
				id, r, err := s.decodeEntry(e)
				if err != nil {
					sh.mu.RUnlock()
					return nil, fmt.Errorf("memstore: list sessions by user: %w: %w", session.ErrCorrupt, err)
				}
				list = append(list, session.InfoOf(id, r))
			}
		}
		sh.mu.RUnlock()
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
	for _, h := range s.userHashes(userID) {
		sh := s.shardOf(h)
		sh.mu.Lock()
		// The IDs of the user's records under h, collected first, as
		// removing changes the chain and the bucket.
		var ids []string
		for e := sh.hot[h]; e != nil; e = e.next {
			if e.rec.UserID == userID {
				ids = append(ids, e.id)
			}
		}
		for it := iterBucket(sh.cold[h]); ; {
			e, ok := it.next()
			if !ok {
				break
			}
			d := entryReader{b: e}
			digest, str := d.readID()
			var hd header
			d.readHeader(&hd)
			if string(hd.userID) == userID {
				ids = append(ids, entryID(digest, str))
			}
		}
		for _, id := range ids {
			if slices.Contains(except, id) {
				continue
			}
			k := s.keyOf(id)
			if expiry, ok := s.remove(sh, &k); ok && expiry.After(now) {
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
		n += sh.n
		sh.mu.RUnlock()
	}
	return n
}

// Sweep removes expired records and returns how many it removed; it also
// turns cold the hot records not loaded since the sweep before. It works
// through each shard in small steps, so no lock is held for long.
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

// sweepStep is the number of records a sweep examines under one hold of a
// shard's read lock; it then takes the write lock only to remove the
// expired ones and to swap in the compact form of idle hot ones (encoded
// beforehand, without the lock), and updates the user index after
// releasing it. So no lock is held for more than some microseconds.
const sweepStep = 128

// sweeper is the state of one sweep, reused across shards and steps.
type sweeper struct {
	s       *SessionStore
	now     time.Time
	hs      []uint64 // the keys of the shard being swept
	demote  []demotion
	expired []expiry
	buf     []byte
	gone    []removal
	removed int
}

// removal is a cold entry removed under hash h. e aliases the bucket it was
// in, which is never modified.
type removal struct {
	h uint64
	e []byte
}

// demotion is a hot record to turn cold, with its compact form.
type demotion struct {
	h     uint64
	e     *hotEntry
	rec   *session.Record
	start int // of its entry in sweeper.buf
}

// expiry is an expired record to remove: hot (e) or cold (bucket, the
// cold form it was seen in).
type expiry struct {
	h      uint64
	e      *hotEntry
	bucket string
}

// sweep sweeps every shard, one at a time, until done or until stop is
// closed.
func (s *SessionStore) sweep(stop <-chan struct{}) (int, error) {
	w := &sweeper{s: s, now: s.now()}
	for i := range s.shards {
		sh := &s.shards[i]
		// Snapshot the keys (a read lock: Loads go on), then work through
		// them in steps.
		w.hs = w.hs[:0]
		sh.mu.RLock()
		for h := range sh.hot {
			w.hs = append(w.hs, h)
		}
		nhot := len(w.hs)
		for h := range sh.cold {
			w.hs = append(w.hs, h)
		}
		sh.mu.RUnlock()
		for start := 0; start < len(w.hs); {
			select {
			case <-stop:
				return w.removed, errStopped
			default:
			}
			if start < nhot {
				end := min(start+sweepStep, nhot)
				w.hot(sh, w.hs[start:end])
				start = end
			} else {
				end := min(start+sweepStep, len(w.hs))
				w.cold(sh, w.hs[start:end])
				start = end
			}
		}
	}
	return w.removed, nil
}

// hot sweeps the hot records of sh under the hashes hs: it removes the
// expired ones, turns cold those not loaded since the last sweep, and
// marks the others as not loaded.
func (w *sweeper) hot(sh *sessionShard, hs []uint64) {
	w.demote, w.expired, w.buf = w.demote[:0], w.expired[:0], w.buf[:0]
	sh.mu.RLock()
	for _, h := range hs {
		for e := sh.hot[h]; e != nil; e = e.next {
			switch {
			case !live(e.rec, w.now):
				w.expired = append(w.expired, expiry{h: h, e: e})
			case e.used.Load():
				e.used.Store(false)
			default:
				w.demote = append(w.demote, demotion{h: h, e: e, rec: e.rec})
			}
		}
	}
	sh.mu.RUnlock()
	if len(w.demote) == 0 && len(w.expired) == 0 {
		return
	}
	for i := range w.demote { // records never change: no lock needed
		d := &w.demote[i]
		d.start = len(w.buf)
		k := w.s.keyOf(d.e.id)
		w.buf = w.s.appendEntry(w.buf, &k, d.rec)
	}
	sh.mu.Lock()
	for i, d := range w.demote {
		end := len(w.buf)
		if i+1 < len(w.demote) {
			end = w.demote[i+1].start
		}
		// Unless loaded or updated meanwhile.
		if findHot(sh, d.h, d.e.id) == d.e && d.e.rec == d.rec && !d.e.used.Load() {
			removeHot(sh, d.h, d.e.id)
			addCold(sh, d.h, w.buf[d.start:end])
		}
	}
	for i, x := range w.expired {
		if findHot(sh, x.h, x.e.id) == x.e && !live(x.e.rec, w.now) {
			removeHot(sh, x.h, x.e.id)
			sh.n--
		} else {
			w.expired[i].e = nil // changed meanwhile: left for the next sweep
		}
	}
	sh.mu.Unlock()
	// The index may lose a record's entry just after the record.
	for _, x := range w.expired {
		if x.e != nil {
			w.s.unindex(x.e.rec.UserID, x.h)
			w.removed++
		}
	}
}

// cold removes the expired cold records of sh under the hashes hs.
func (w *sweeper) cold(sh *sessionShard, hs []uint64) {
	w.expired = w.expired[:0]
	sh.mu.RLock()
	for _, h := range hs {
		bucket, ok := sh.cold[h]
		if !ok {
			continue
		}
		for it := iterBucket(bucket); ; {
			e, ok := it.next()
			if !ok {
				break
			}
			hd := headerOf(e)
			if !hd.times[2].After(w.now) {
				w.expired = append(w.expired, expiry{h: h, bucket: bucket})
				break
			}
		}
	}
	sh.mu.RUnlock()
	if len(w.expired) == 0 {
		return
	}
	w.gone = w.gone[:0]
	sh.mu.Lock()
	for _, x := range w.expired {
		bucket := sh.cold[x.h]
		if unsafe.StringData(bucket) != unsafe.StringData(x.bucket) {
			continue // changed meanwhile: left for the next sweep
		}
		if it := iterBucket(bucket); !it.multi {
			// One record (the rule): remove it without decoding its ID.
			delete(sh.cold, x.h)
			sh.n--
			w.gone = append(w.gone, removal{x.h, it.b})
			continue
		}
		for _, k := range w.s.expiredIn(bucket, w.now) {
			if removed := removeCold(sh, &k); removed != nil {
				sh.n--
				w.gone = append(w.gone, removal{x.h, removed})
			}
		}
	}
	sh.mu.Unlock()
	// The index may lose a record's entry just after the record.
	for _, g := range w.gone {
		hd := headerOf(g.e)
		w.s.unindexHash(hd.userID, g.h)
		w.removed++
	}
}

// expiredIn returns the keys of the expired records in a bucket of several.
func (s *SessionStore) expiredIn(bucket string, now time.Time) []key {
	var keys []key
	for it := iterBucket(bucket); ; {
		e, ok := it.next()
		if !ok {
			return keys
		}
		d := entryReader{b: e}
		digest, str := d.readID()
		var hd header
		d.readHeader(&hd)
		if !hd.times[2].After(now) {
			keys = append(keys, s.keyOf(entryID(digest, str)))
		}
	}
}
