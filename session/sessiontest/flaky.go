package sessiontest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/hallpass/hallpass/session"
)

// IndexedStore is a Store that also serves cached loads and lists
// sessions by user, as the memory store does.
type IndexedStore interface {
	session.Store
	session.CachedLoader
	session.UserIndex
}

// ErrDown is the error of every call a Flaky store fails, worded as a
// Redis client's.
var ErrDown = errors.New("redis: dial tcp 10.0.0.2:6379: connection refused")

// Flaky is a store that stops answering on demand, for tests of what the
// layers above do then: while Down is set every call fails with ErrDown,
// and while WritesDown is set only the calls that write do (as with
// Redis's CLIENT PAUSE WRITE). Otherwise it passes each call to Store.
type Flaky struct {
	IndexedStore
	Down       atomic.Bool
	WritesDown atomic.Bool
}

func (f *Flaky) readErr() error {
	if f.Down.Load() {
		return ErrDown
	}
	return nil
}

func (f *Flaky) writeErr() error {
	if f.Down.Load() || f.WritesDown.Load() {
		return ErrDown
	}
	return nil
}

// LoadCached answers only while the store is up: a memory store's would
// serve a session from memory however down the store is.
func (f *Flaky) LoadCached(id string) (*session.Record, bool) {
	if f.readErr() != nil {
		return nil, false
	}
	return f.IndexedStore.LoadCached(id)
}

// Load is Store's, unless the store is down.
func (f *Flaky) Load(ctx context.Context, id string) (*session.Record, error) {
	if err := f.readErr(); err != nil {
		return nil, err
	}
	return f.IndexedStore.Load(ctx, id)
}

// ListByUser is Store's, unless the store is down.
func (f *Flaky) ListByUser(ctx context.Context, userID string) ([]session.Info, error) {
	if err := f.readErr(); err != nil {
		return nil, err
	}
	return f.IndexedStore.ListByUser(ctx, userID)
}

// Create is Store's, unless the store or its writes are down.
func (f *Flaky) Create(ctx context.Context, id string, rec *session.Record) error {
	if err := f.writeErr(); err != nil {
		return err
	}
	return f.IndexedStore.Create(ctx, id, rec)
}

// Update is Store's, unless the store or its writes are down.
func (f *Flaky) Update(ctx context.Context, id string, u *session.Update) error {
	if err := f.writeErr(); err != nil {
		return err
	}
	return f.IndexedStore.Update(ctx, id, u)
}

// Delete is Store's, unless the store or its writes are down.
func (f *Flaky) Delete(ctx context.Context, id string) error {
	if err := f.writeErr(); err != nil {
		return err
	}
	return f.IndexedStore.Delete(ctx, id)
}

// DeleteByUser is Store's, unless the store or its writes are down.
func (f *Flaky) DeleteByUser(ctx context.Context, userID string, except ...string) (int, error) {
	if err := f.writeErr(); err != nil {
		return 0, err
	}
	return f.IndexedStore.DeleteByUser(ctx, userID, except...)
}
