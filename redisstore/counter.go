package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/throttle"
)

var _ throttle.Counter = (*Counter)(nil)

// Counter is a throttle.Counter kept in Redis, so that every server
// instance that shares the Redis database shares the counts, and the
// limits of a throttle.Limiter hold across all of them. It is safe for
// concurrent use.
//
// With the default Prefix "hallpass:", the count under key is the string
//
//	hallpass:t:<key>
//
// holding a decimal integer, with a native time-to-live that ends the
// window. Redis's own clock therefore measures windows: Options.Now is
// used only to turn the remaining time-to-live into the resetAt that
// Incr and Get return, so a clock skew between the application and Redis
// does not move a window. Times have millisecond precision; a window is
// rounded up to a whole millisecond.
//
// Each method is one round trip: Incr, Reserve, Release and Get are Lua
// scripts (sent by digest, and by source only the first time a Redis
// server sees them), Reset is DEL. Each touches a single key, so a Counter runs unchanged
// on Redis Cluster.
type Counter struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewCounter returns a Counter that keeps its counts through client,
// under keys that start with opts.Prefix (default DefaultPrefix) followed
// by "t:". The caller keeps ownership of client and closes it after the
// last use of the counter.
func NewCounter(client redis.UniversalClient, opts Options) *Counter {
	opts = opts.withDefaults()
	return &Counter{client: client, prefix: opts.Prefix, now: opts.Now}
}

func (c *Counter) key(key string) string { return c.prefix + "t:" + key }

// reserveScript adds one to the count KEYS[1], unless ARGV[2] is
// positive and the count has reached it, and returns {count, PTTL,
// added (1 or 0)}. A new count gets the window ARGV[1] (milliseconds) as
// its time-to-live. So does a count that has none, which only a writer
// other than this script can leave: without a time-to-live it would never
// reset, and would lock its account out for good. Incr runs it with no
// limit (0).
var reserveScript = redis.NewScript(`
local n = redis.call('GET', KEYS[1])
if n then
  n = tonumber(n)
  if not n then
    return redis.error_reply('key does not hold a count')
  end
else
  n = 0
end
local limit = tonumber(ARGV[2])
local added = 0
if limit <= 0 or n < limit then
  n = redis.call('INCR', KEYS[1])
  added = 1
  if n == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    return {n, tonumber(ARGV[1]), added}
  end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl, added}
`)

// releaseScript takes one from the count KEYS[1], keeping its
// time-to-live, and deletes a count of one or less.
var releaseScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if not n then
  return redis.error_reply('key does not hold a count')
end
if n <= 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('DECR', KEYS[1])
`)

// getScript returns {count, PTTL} of KEYS[1], or an empty array when it
// does not exist.
var getScript = redis.NewScript(`
local n = redis.call('GET', KEYS[1])
if not n then
  return {}
end
return {n, redis.call('PTTL', KEYS[1])}
`)

// Incr atomically adds one to the count under key, in one round trip, and
// returns the new count and the time the count will be forgotten. A new
// count's window lasts window, rounded up to a whole millisecond; a
// window that is not positive is an error.
func (c *Counter) Incr(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	n, reset, _, err := c.reserve(ctx, "throttle incr", key, 0, window)
	return n, reset, err
}

// Reserve atomically adds one to the count under key unless it has
// reached limit, in one round trip, as [throttle.Counter] describes. A
// limit or window that is not positive is an error.
func (c *Counter) Reserve(ctx context.Context, key string, limit int, window time.Duration) (int, time.Time, bool, error) {
	const op = "throttle reserve"
	if limit <= 0 {
		return 0, time.Time{}, false, fmt.Errorf("redisstore: %s: limit %d is not positive", op, limit)
	}
	return c.reserve(ctx, op, key, limit, window)
}

// reserve runs reserveScript; limit 0 means none.
func (c *Counter) reserve(ctx context.Context, op, key string, limit int, window time.Duration) (int, time.Time, bool, error) {
	if window <= 0 {
		return 0, time.Time{}, false, fmt.Errorf("redisstore: %s: window %v is not positive", op, window)
	}
	ms := int64((window + time.Millisecond - 1) / time.Millisecond)
	res, err := reserveScript.Run(ctx, c.client, []string{c.key(key)}, ms, limit).Int64Slice()
	if err != nil {
		return 0, time.Time{}, false, wrap(ctx, op, err)
	}
	if len(res) != 3 {
		return 0, time.Time{}, false, fmt.Errorf("redisstore: %s: unexpected reply %v", op, res)
	}
	// Now is read after the reply, so resetAt is never before the moment
	// Redis forgets the count: a client told to retry then is let in.
	return int(res[0]), c.now().Add(time.Duration(res[1]) * time.Millisecond), res[2] == 1, nil
}

// Release takes one back from the live count under key, in one round
// trip, keeping its window; a count of one is deleted. Releasing a key
// with no count is not an error.
func (c *Counter) Release(ctx context.Context, key string) error {
	if err := releaseScript.Run(ctx, c.client, []string{c.key(key)}).Err(); err != nil {
		return wrap(ctx, "throttle release", err)
	}
	return nil
}

// Get returns the live count under key and when it will be forgotten, in
// one round trip; count 0 and a zero time when there is none. A count
// without a time-to-live, which only a writer other than Incr can leave,
// is returned with a zero time; the next Incr gives it one.
func (c *Counter) Get(ctx context.Context, key string) (int, time.Time, error) {
	const op = "throttle get"
	res, err := getScript.Run(ctx, c.client, []string{c.key(key)}).Slice()
	if err != nil {
		return 0, time.Time{}, wrap(ctx, op, err)
	}
	if len(res) == 0 {
		return 0, time.Time{}, nil
	}
	n, ttl, ok := parseCount(res)
	if !ok {
		return 0, time.Time{}, fmt.Errorf("redisstore: %s: key %q does not hold a count: %v", op, c.key(key), res)
	}
	if ttl < 0 {
		return n, time.Time{}, nil
	}
	return n, c.now().Add(time.Duration(ttl) * time.Millisecond), nil
}

// parseCount reads the reply {count, PTTL} of getScript.
func parseCount(res []any) (n int, ttl int64, ok bool) {
	if len(res) != 2 {
		return 0, 0, false
	}
	s, ok1 := res[0].(string)
	ttl, ok2 := res[1].(int64)
	n, err := strconv.Atoi(s)
	return n, ttl, ok1 && ok2 && err == nil
}

// Reset forgets the count under key, in one round trip. Resetting a key
// with no count is not an error.
func (c *Counter) Reset(ctx context.Context, key string) error {
	if err := c.client.Del(ctx, c.key(key)).Err(); err != nil {
		return wrap(ctx, "throttle reset", err)
	}
	return nil
}
