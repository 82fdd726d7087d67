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
// Each method maps to one atomic round trip in Redis. Incr is the script
//
//	local n = redis.call('INCR', KEYS[1])
//	if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
//	return {n, redis.call('PTTL', KEYS[1])}
//
// with resetAt = now + PTTL; Get is GET and PTTL in one script or
// pipeline, and Reset is DEL.
type Counter interface {
	// Incr atomically adds one to the count under key and returns the
	// new count and the time the count will be forgotten.
	//
	// If key has no live count, Incr starts a new window: the count is
	// 1 and resetAt is now + window. A live count's resetAt never moves,
	// however often it is incremented (a fixed window from the first
	// event). window is positive.
	Incr(ctx context.Context, key string, window time.Duration) (count int, resetAt time.Time, err error)

	// Get returns the live count under key and when it will be
	// forgotten. A key that was never incremented, was reset, or whose
	// window has ended has count 0, a zero resetAt and a nil error; an
	// error reports a failure of the counter itself.
	Get(ctx context.Context, key string) (count int, resetAt time.Time, err error)

	// Reset forgets the count under key. Resetting a key with no live
	// count is not an error.
	Reset(ctx context.Context, key string) error
}
