package session

import (
	"context"
	"time"
)

// DefaultStoreTimeout is the deadline of each store call the Manager makes
// when Config.StoreTimeout is zero.
const DefaultStoreTimeout = 3 * time.Second

// deadlineStore calls a Store with a deadline on each call, so a store
// whose network has gone silent fails the call instead of hanging the
// request.
type deadlineStore struct {
	s Store
	d time.Duration
}

func (b deadlineStore) Load(ctx context.Context, id string) (*Record, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.Load(ctx, id)
}

func (b deadlineStore) Create(ctx context.Context, id string, rec *Record) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.Create(ctx, id, rec)
}

func (b deadlineStore) Update(ctx context.Context, id string, u *Update) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.Update(ctx, id, u)
}

func (b deadlineStore) Delete(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.s.Delete(ctx, id)
}

// listByUser and deleteByUser are UserIndex calls; ix is the Manager's
// store, already asserted to be one.
func (b deadlineStore) listByUser(ctx context.Context, ix UserIndex, userID string) ([]Info, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return ix.ListByUser(ctx, userID)
}

func (b deadlineStore) deleteByUser(ctx context.Context, ix UserIndex, userID string, except ...string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return ix.DeleteByUser(ctx, userID, except...)
}
