package throttle

import (
	"container/heap"
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxEntries is the default for [MemoryOptions.MaxEntries].
const DefaultMaxEntries = 100_000

// Errors of MemoryCounter.Incr and Reserve for arguments out of range.
var (
	errWindow = errors.New("throttle: window must be positive")
	errLimit  = errors.New("throttle: limit must be positive")
)

// MemoryOptions configures a [MemoryCounter]. The zero value is ready to
// use.
type MemoryOptions struct {
	// MaxEntries caps how many keys the counter holds. When a new key
	// would exceed it, the counter first drops expired keys and then
	// the live keys closest to expiry (the oldest windows), so an
	// attacker spraying random usernames cannot grow memory without
	// bound; the price is that under such a flood the oldest counts are
	// forgotten early. Default DefaultMaxEntries (100,000 keys, a few
	// tens of megabytes at most).
	MaxEntries int

	// Now is the counter's clock. Default time.Now.
	Now func() time.Time
}

// MemoryCounter is a [Counter] held in this process's memory, for a
// single server instance and for tests. Expired keys are dropped as the
// counter is used, without a background goroutine. It is safe for
// concurrent use.
type MemoryCounter struct {
	now      func() time.Time
	seed     maphash.Seed
	perShard int
	shards   []memShard
}

var _ Counter = (*MemoryCounter)(nil)

type memShard struct {
	mu      sync.Mutex
	entries map[string]*memEntry
	byExp   expiryHeap // the same entries, soonest expiry first
}

type memEntry struct {
	key     string
	count   int
	expires time.Time
	index   int // position in byExp
}

// NewMemoryCounter returns an empty MemoryCounter.
func NewMemoryCounter(opts MemoryOptions) *MemoryCounter {
	maxEntries := opts.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	n := 1
	if maxEntries >= 1024 {
		n = 16 // spread lock contention; perShard*n stays within maxEntries
	}
	c := &MemoryCounter{
		now:      opts.Now,
		seed:     maphash.MakeSeed(),
		perShard: maxEntries / n,
		shards:   make([]memShard, n),
	}
	if c.now == nil {
		c.now = time.Now
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[string]*memEntry)
	}
	return c
}

func (c *MemoryCounter) shard(key string) *memShard {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// Incr implements [Counter.Incr]. It never fails for a positive window.
func (c *MemoryCounter) Incr(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	if window <= 0 {
		return 0, time.Time{}, errWindow
	}
	n, reset, _ := c.add(key, 0, window)
	return n, reset, nil
}

// Reserve implements [Counter.Reserve]. It never fails for a positive
// limit and window.
func (c *MemoryCounter) Reserve(ctx context.Context, key string, limit int, window time.Duration) (int, time.Time, bool, error) {
	if window <= 0 {
		return 0, time.Time{}, false, errWindow
	}
	if limit <= 0 {
		return 0, time.Time{}, false, errLimit
	}
	n, reset, ok := c.add(key, limit, window)
	return n, reset, ok, nil
}

// add adds one to the count under key, under its shard's lock, unless
// limit is positive and the live count has reached it.
func (c *MemoryCounter) add(key string, limit int, window time.Duration) (int, time.Time, bool) {
	now := c.now()
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropExpired(now)
	if e := s.entries[key]; e != nil {
		if limit > 0 && e.count >= limit {
			return e.count, e.expires, false
		}
		e.count++
		return e.count, e.expires, true
	}
	for len(s.entries) >= c.perShard {
		s.remove(s.byExp[0])
	}
	e := &memEntry{key: key, count: 1, expires: now.Add(window)}
	s.entries[key] = e
	heap.Push(&s.byExp, e)
	return e.count, e.expires, true
}

// Release implements [Counter.Release]. It never fails.
func (c *MemoryCounter) Release(ctx context.Context, key string) error {
	now := c.now()
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[key]
	switch {
	case e == nil:
	case e.count <= 1 || !now.Before(e.expires):
		s.remove(e)
	default:
		e.count--
	}
	return nil
}

// Get implements [Counter.Get]. It never fails.
func (c *MemoryCounter) Get(ctx context.Context, key string) (int, time.Time, error) {
	now := c.now()
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[key]
	if e == nil || !now.Before(e.expires) {
		return 0, time.Time{}, nil
	}
	return e.count, e.expires, nil
}

// Reset implements [Counter.Reset]. It never fails.
func (c *MemoryCounter) Reset(ctx context.Context, key string) error {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[key]; e != nil {
		s.remove(e)
	}
	return nil
}

// Len returns the number of keys held, including expired keys not yet
// dropped. It never exceeds MemoryOptions.MaxEntries.
func (c *MemoryCounter) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.entries)
		s.mu.Unlock()
	}
	return n
}

func (s *memShard) dropExpired(now time.Time) {
	for len(s.byExp) > 0 && !now.Before(s.byExp[0].expires) {
		s.remove(s.byExp[0])
	}
}

func (s *memShard) remove(e *memEntry) {
	heap.Remove(&s.byExp, e.index)
	delete(s.entries, e.key)
}

// expiryHeap is a container/heap of entries ordered by expiry.
type expiryHeap []*memEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
