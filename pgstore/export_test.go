package pgstore

import "context"

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
