// Package redisstore keeps hallpass's sessions, and its login throttling
// counters, in Redis, through github.com/redis/go-redis/v9. SessionStore
// implements session.Store and session.UserIndex (Redis expires records by
// itself, so there is no Sweeper); Counter (NewCounter) implements
// throttle.Counter with one round trip per failed login, so the limit
// holds across every process sharing the Redis.
//
// Give New any redis.UniversalClient: a single server (*redis.Client), a
// Redis Cluster (*redis.ClusterClient) or a Sentinel-managed failover
// client. ParseURL builds one from a URL:
//
//	client, err := redisstore.ParseURL(os.Getenv("REDIS_URL"))
//	if err != nil { ... }
//	defer client.Close()
//	store := redisstore.New(client, redisstore.Options{})
//
// # Keys
//
// With the default Prefix "hallpass:", a session is the hash
//
//	hallpass:s:<id>
//
// with the fields user, created, seen, expiry, ip and ua (times as Unix
// microseconds in decimal), and one field "v:<key>" per session value, so
// an Update writes only the values it changes. The sessions of a user are
// indexed by the sorted set
//
//	hallpass:u:<userID>
//
// whose members are session IDs scored by their expiry (Unix
// microseconds). Anonymous sessions are not indexed. Every key gets a
// native time-to-live that ends at (or, for an index, after) the expiry
// of what it holds, at least one second; the store also checks each
// record's expiry against Options.Now, so the native TTL only reclaims
// memory and a clock skew between the application and Redis is harmless.
//
// # Round trips and atomicity
//
// Load is one HGETALL. Update is one Lua script that checks that the
// record exists and has not expired, then applies the sets, deletes and
// new timestamps atomically; when it moves the expiry of a user's
// session, a second script raises that session's score in the user's
// index. Create writes the hash and the index entry in one pipeline.
// Delete takes two round trips for a user's session (delete the hash, then
// its index entry), one for an anonymous session.
//
// # Redis Cluster
//
// Every command and script touches exactly one key, so the store runs
// unchanged on Redis Cluster, whose scripts and transactions must not
// span hash slots; no hash tags are needed, and none are used, so the
// sessions spread over all the slots. The price is that a session and its
// user's index, in different slots, are not changed atomically together.
// The store orders its writes so that this never hides a live session
// from DeleteByUser in normal operation: an index entry is written before
// Create returns, and its score is raised before Update returns. If Redis
// fails between the two steps of an Update that extends a session, Update
// returns an error; the index then keeps the session's previous expiry
// until its next refresh, and in the meantime a ListByUser made after
// that previous expiry can drop the entry. Delete, and a Create that
// replaces another user's session, remove the old index entry at once;
// entries that a failure leaves behind are removed by ListByUser and
// DeleteByUser when they find the session gone.
//
// Prefix should not contain '{' or '}': Redis Cluster would hash every
// key by that part, putting all the sessions in one slot.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix of a SessionStore when Options.Prefix is
// empty.
const DefaultPrefix = "hallpass:"

// ParseURL returns a client for the Redis server or cluster that url
// names. It accepts:
//
//   - redis://[user:password@]host[:port][/db][?option=value...] for a
//     single server, and rediss://... for one reached over TLS, as
//     redis.ParseURL reads them (options such as dial_timeout, pool_size
//     or skip_verify=true are snake_case names of redis.Options fields);
//   - unix://[user:password@]/path/to/redis.sock[?db=N] for a local
//     socket;
//   - redis+cluster://[user:password@]host[:port][?addr=host2:port&addr=host3:port]
//     for a Redis Cluster (rediss+cluster:// over TLS), as
//     redis.ParseClusterURL reads it after the "+cluster" is removed:
//     further seed nodes are given as addr parameters, and a cluster has
//     no database number.
//
// The caller owns the client and closes it when done.
func ParseURL(url string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("redisstore: parse URL: missing scheme (want redis://, rediss://, unix:// or redis+cluster://)")
	}
	switch strings.ToLower(scheme) {
	case "redis+cluster", "rediss+cluster":
		opts, err := redis.ParseClusterURL(strings.TrimSuffix(strings.ToLower(scheme), "+cluster") + "://" + rest)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse cluster URL: %w", redactErr(err, url))
		}
		return redis.NewClusterClient(opts), nil
	case "redis", "rediss", "unix":
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse URL: %w", redactErr(err, url))
		}
		return redis.NewClient(opts), nil
	default:
		return nil, fmt.Errorf("redisstore: parse URL: unsupported scheme %q (want redis://, rediss://, unix:// or redis+cluster://)", scheme)
	}
}

// redactErr returns err, unless its text would repeat the password of
// url (net/url quotes the whole URL in its errors), in which case it
// returns a generic error instead.
func redactErr(err error, url string) error {
	_, afterScheme, _ := strings.Cut(url, "://")
	userinfo, _, found := strings.Cut(afterScheme, "@")
	if !found {
		return err
	}
	if _, password, ok := strings.Cut(userinfo, ":"); ok && password != "" && strings.Contains(err.Error(), password) {
		return errors.New("malformed URL (details withheld: the URL holds a password)")
	}
	return err
}

// Ping checks that Redis answers, for health checks.
func (s *SessionStore) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}
