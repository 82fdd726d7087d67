package throttle

import (
	"context"
	"time"
)

// Counter counts events per key in fixed windows. It is the only state a
// [Limiter] keeps, so one Counter shared by every server instance (Redis,
// say) makes the limits hold across all of them. Implementations must be
// safe for concurrent use.
//
// Each method maps to one atomic round trip on one key in Redis. Incr is
// the script
//
//	local n = redis.call('INCR', KEYS[1])
//	if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
//	return {n, redis.call('PTTL', KEYS[1])}
//
// with resetAt = now + PTTL; Reserve is the same behind a GET that
// compares the count with the limit; Get is GET and PTTL in one script
// or pipeline; Release is a script that DECRs (or DELs a count of one);
// and Reset is DEL.
//
// A [Limiter] counts an attempt with Reserve before the password is
// checked, so parallel attempts can never all pass a limit that only
// some of them fit under.
type Counter interface {
	// Incr atomically adds one to the count under key and returns the
	// new count and the time the count will be forgotten.
	//
	// If key has no live count, Incr starts a new window: the count is
	// 1 and resetAt is now + window. A live count's resetAt never moves,
	// however often it is incremented (a fixed window from the first
	// event). window is positive.
	Incr(ctx context.Context, key string, window time.Duration) (count int, resetAt time.Time, err error)

	// Reserve is Incr under a limit, in one atomic step: if the live
	// count under key is below limit, it adds one exactly as Incr does
	// and returns the new count, its resetAt and ok true. Otherwise it
	// changes nothing and returns the live count, its resetAt and ok
	// false. Of n concurrent Reserves on a key with count c, exactly
	// max(0, min(n, limit-c)) succeed. limit and window are positive;
	// anything else is an error.
	Reserve(ctx context.Context, key string, limit int, window time.Duration) (count int, resetAt time.Time, ok bool, err error)

	// Release atomically takes one back from the live count under key,
	// undoing a Reserve (or Incr) whose event did not happen. The
	// window is kept; a count that falls to zero is forgotten, as by
	// Reset. Releasing a key with no live count is not an error and
	// changes nothing: a count never goes below zero.
	Release(ctx context.Context, key string) error

	// Get returns the live count under key and when it will be
	// forgotten. A key that was never incremented, was reset, or whose
	// window has ended has count 0, a zero resetAt and a nil error; an
	// error reports a failure of the counter itself.
	Get(ctx context.Context, key string) (count int, resetAt time.Time, err error)

	// Reset forgets the count under key. Resetting a key with no live
	// count is not an error.
	Reset(ctx context.Context, key string) error
}
