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
// Load is one HGETALL, sent through the client's automatic pipeline
// (AsyncAutoPipeline), so that the Loads of concurrent requests share
// round trips: under load, one write and one read carry a batch of them.
// The batches go one after the other, so a server (or, on a cluster, a
// node) that stops answering holds every Load made meanwhile; each
// still returns when its context ends (the session Manager's per-call
// deadline), and the batch fails after the client's ReadTimeout.
// Update is one Lua script that checks that the record exists and has not
// expired, then applies the sets, deletes and new timestamps atomically; when it moves the expiry of a user's
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
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the key prefix of a SessionStore when Options.Prefix is
// empty.
const DefaultPrefix = "hallpass:"

// Timeouts that ParseURL sets on a client when its URL names none
// (dial_timeout, read_timeout, write_timeout): a Redis that does not
// answer fails a call within seconds instead of hanging the request.
const (
	DefaultDialTimeout = 2 * time.Second
	DefaultIOTimeout   = 2 * time.Second
)

// DefaultDialerRetries is the number of times ParseURL's clients try to
// open a connection for one command (redis.Options.DialerRetries), where
// go-redis tries five times, 100 ms apart: with its retries of the
// command itself, a Redis that refuses connections held every call for
// about two seconds, and every request for the store's whole timeout,
// instead of failing at once.
const DefaultDialerRetries = 1

// ParseURL returns a client for the Redis server or cluster that url
// names. It accepts:
//
//   - redis://[user:password@]host[:port][/db][?option=value...] for a
//     single server, and rediss://... for one reached over TLS, as
//     redis.ParseURL reads them (options such as dial_timeout, pool_size
//     or skip_verify=true are snake_case names of redis.Options fields);
//   - unix://[user:password@]/path/to/redis.sock[?db=N] for a local
//     socket;
//   - redis+cluster://[user:password@]host:port[,host:port...][?option=value...]
//     for a Redis Cluster (rediss+cluster:// over TLS): one or more seed
//     nodes separated by commas, any of which lets the client discover
//     the whole cluster. A cluster has no database number, so a path such
//     as /0 is an error, and so is an empty or malformed node address.
//
// Every client honours the deadline of the context it is given
// (ContextTimeoutEnabled), gets DefaultDialTimeout and DefaultIOTimeout
// unless the URL sets its own, and DefaultDialerRetries. A cluster client also
// reloads its slot map as soon as a call fails on the network, so it
// follows a replica promoted after a master dies within moments, not at
// its next periodic reload.
//
// The caller owns the client and closes it when done.
func ParseURL(url string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, fmt.Errorf("redisstore: parse URL: missing scheme (want redis://, rediss://, unix:// or redis+cluster://)")
	}
	switch strings.ToLower(scheme) {
	case "redis+cluster", "rediss+cluster":
		opts, err := parseClusterURL(strings.TrimSuffix(strings.ToLower(scheme), "+cluster"), rest)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse cluster URL: %w", redactErr(err, url))
		}
		opts.ContextTimeoutEnabled = true
		opts.DialTimeout = cmp.Or(opts.DialTimeout, DefaultDialTimeout)
		opts.ReadTimeout = cmp.Or(opts.ReadTimeout, DefaultIOTimeout)
		opts.WriteTimeout = cmp.Or(opts.WriteTimeout, DefaultIOTimeout)
		opts.DialerRetries = cmp.Or(opts.DialerRetries, DefaultDialerRetries)
		c := redis.NewClusterClient(opts)
		c.AddHook(reloadOnNetError{c})
		return c, nil
	case "redis", "rediss", "unix":
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse URL: %w", redactErr(err, url))
		}
		opts.ContextTimeoutEnabled = true
		opts.DialTimeout = cmp.Or(opts.DialTimeout, DefaultDialTimeout)
		opts.ReadTimeout = cmp.Or(opts.ReadTimeout, DefaultIOTimeout)
		opts.WriteTimeout = cmp.Or(opts.WriteTimeout, DefaultIOTimeout)
		opts.DialerRetries = cmp.Or(opts.DialerRetries, DefaultDialerRetries)
		return redis.NewClient(opts), nil
	default:
		return nil, fmt.Errorf("redisstore: parse URL: unsupported scheme %q (want redis://, rediss://, unix:// or redis+cluster://)", scheme)
	}
}

// parseClusterURL reads the part of a redis+cluster:// URL after the
// "://": the comma-separated seed nodes become redis.ClusterOptions.Addrs.
func parseClusterURL(scheme, rest string) (*redis.ClusterOptions, error) {
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	path, query, _ := strings.Cut(tail, "?")
	if path != "" && path != "/" {
		return nil, errors.New("a cluster has no database number: remove the path")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return nil, fmt.Errorf("want host:port for every node, separated by commas, got %q", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("bad port in node %q", h)
		}
		addrs = append(addrs, h)
	}
	opts, err := redis.ParseClusterURL(scheme + "://" + userinfo + addrs[0] + "/?" + query)
	if err != nil {
		return nil, err
	}
	opts.Addrs = append(addrs, opts.Addrs[1:]...) // the seeds, then any addr= parameters
	return opts, nil
}

// reloadOnNetError is a hook that makes a cluster client reload its slot
// map when a call fails for a reason other than a Redis error reply:
// go-redis otherwise reloads it only on MOVED or READONLY replies, or
// once a minute, so a client whose master died would keep dialling the
// dead node long after its replica took over. ReloadState runs in the
// background and coalesces concurrent requests.
type reloadOnNetError struct{ c *redis.ClusterClient }

func (h reloadOnNetError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNetError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnNetError) check(ctx context.Context, err error) {
	var reply redis.Error
	if err == nil || errors.As(err, &reply) || errors.Is(err, context.Canceled) {
		return
	}
	h.c.ReloadState(ctx)
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
