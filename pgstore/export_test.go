package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SweepInBatches runs a sweep that deletes at most batch rows per
// statement, and returns how many rows and statements it took.
func (s *SessionStore) SweepInBatches(ctx context.Context, batch int) (removed, statements int, err error) {
	saved := s.sweepBatch
	s.sweepBatch = batch
	defer func() { s.sweepBatch = saved }()
	return s.sweep(ctx)
}

// Migrations returns the versions of the embedded migrations, in order.
func Migrations() []int {
	var vs []int
	for _, m := range schemaMigrations {
		vs = append(vs, m.Version)
	}
	return vs
}

// MigrateTo applies the first n embedded migrations to the database of
// pool, in the connections' schema, as a release that had only those did.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, n int) error {
	return migrate(ctx, pool, "", schemaMigrations[:n], time.Now)
}
