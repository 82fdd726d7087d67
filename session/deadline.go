package session

import (
	"context"
	"time"
)

// DefaultStoreTimeout is the deadline of each store call the Manager makes
// when Config.StoreTimeout is zero.
const DefaultStoreTimeout = 3 * time.Second

// InProcessStore is implemented by stores whose calls never wait for a
// network, a disk or another process (memstore's). The Manager calls them
// without the per-call deadline of Config.StoreTimeout, which would cost a
// timer on every request and could never fire. A wrapper around a store
// (for metrics or tracing) that has a method Unwrap() Store is seen
// through.
type InProcessStore interface {
	Store
	// InProcess is a marker; it does nothing.
	InProcess()
}

// CachedLoader is implemented by stores that keep records in the process
// and can tell, without waiting on a network or on another process, that
// one is still current (sqlitestore's Load cache, memstore's decoded
// records). LoadCached returns the record stored under id when it can
// answer so; ok false means nothing, and the Manager calls Load. Unlike
// Load, it need not check the record's expiry: the Manager checks that of
// every record it loads. The Manager tries LoadCached first, without the
// per-call deadline of Config.StoreTimeout (a timer on every request), and
// a wrapper around a store with a method Unwrap() Store is seen through,
// as for InProcessStore.
type CachedLoader interface {
	LoadCached(id string) (rec *Record, ok bool)
}

// deadlineStore calls a Store with a deadline on each call, so a store
// whose network has gone silent fails the call instead of hanging the
// request. An InProcessStore is called as it is, and a CachedLoader is
// asked first.
type deadlineStore struct {
	s      Store
	d      time.Duration
	none   bool         // s is an InProcessStore
	cached CachedLoader // s, or the store it wraps, as a CachedLoader; or nil
}

func newDeadlineStore(s Store, d time.Duration) deadlineStore {
	_, none := unwrapTo[InProcessStore](s)
	cached, _ := unwrapTo[CachedLoader](s)
	return deadlineStore{s: s, d: d, none: none, cached: cached}
}

// unwrapTo returns s, or the first store it wraps (through methods
// Unwrap() Store), that is a T.
func unwrapTo[T any](s Store) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		w, ok := s.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	var zero T
	return zero, false
}

// with returns ctx with the call's deadline, and its cancel function.
func (b deadlineStore) with(ctx context.Context) (context.Context, context.CancelFunc) {
	if b.none {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.d)
}

func (b deadlineStore) Load(ctx context.Context, id string) (*Record, error) {
	if b.cached != nil {
		if rec, ok := b.cached.LoadCached(id); ok {
			return rec, nil
		}
	}
	ctx, cancel := b.with(ctx)
	defer cancel()
	return b.s.Load(ctx, id)
}

func (b deadlineStore) Create(ctx context.Context, id string, rec *Record) error {
	ctx, cancel := b.with(ctx)
	defer cancel()
	return b.s.Create(ctx, id, rec)
}

func (b deadlineStore) Update(ctx context.Context, id string, u *Update) error {
	ctx, cancel := b.with(ctx)
	defer cancel()
	return b.s.Update(ctx, id, u)
}

func (b deadlineStore) Delete(ctx context.Context, id string) error {
	ctx, cancel := b.with(ctx)
	defer cancel()
	return b.s.Delete(ctx, id)
}

// listByUser and deleteByUser are UserIndex calls; ix is the Manager's
// store, already asserted to be one.
func (b deadlineStore) listByUser(ctx context.Context, ix UserIndex, userID string) ([]Info, error) {
	ctx, cancel := b.with(ctx)
	defer cancel()
	return ix.ListByUser(ctx, userID)
}

func (b deadlineStore) deleteByUser(ctx context.Context, ix UserIndex, userID string, except ...string) (int, error) {
	ctx, cancel := b.with(ctx)
	defer cancel()
	return ix.DeleteByUser(ctx, userID, except...)
}
