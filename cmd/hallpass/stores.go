package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/memcachestore"
	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// openRemoteSessions opens a session store named by a URL: redis://,
// rediss://, redis+cluster://, postgres:// or memcached://host:port[,...].
func openRemoteSessions(ctx context.Context, a *app, u string) (session.Store, error) {
	scheme, _, _ := strings.Cut(u, "://")
	switch scheme {
	case "redis", "rediss", "redis+cluster", "rediss+cluster":
		client, err := a.redis(u)
		if err != nil {
			return nil, fmt.Errorf("HALLPASS_SESSION_STORE: %w", err)
		}
		st := redisstore.New(client, redisstore.Options{})
		a.checks["redis"] = st.Ping
		return st, nil
	case "postgres", "postgresql":
		db, err := a.postgres(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("HALLPASS_SESSION_STORE: %w", err)
		}
		return db.Sessions(), nil
	case "memcached":
		client, err := memcachedClient(u)
		if err != nil {
			return nil, fmt.Errorf("HALLPASS_SESSION_STORE: %w", err)
		}
		st := memcachestore.New(client, memcachestore.Options{})
		a.checks["memcached"] = st.Ping
		a.closers = append(a.closers, client.Close)
		return st, nil
	}
	return nil, fmt.Errorf("HALLPASS_SESSION_STORE: unsupported store %q", scheme)
}

// memcachedMaxIdle is how many idle connections the server keeps to each
// Memcached server unless the URL says otherwise (max_idle_conns).
// gomemcache's own default is 2: under load every request beyond the
// second dialed a connection of its own and closed it, leaving a socket in
// TIME_WAIT each time (on one 2-core machine, 8 k pages/s against 12 k with
// the connections kept).
const memcachedMaxIdle = 64

// memcachedClient returns a gomemcache client for a URL of the form
// memcached://host:port[,host:port][?max_idle_conns=N&timeout=D]:
// max_idle_conns is how many idle connections to keep per server (default
// memcachedMaxIdle; keep it above the requests a process serves at once),
// timeout the deadline of each network operation (gomemcache's 500ms by
// default).
func memcachedClient(u string) (*memcache.Client, error) {
	_, rest, _ := strings.Cut(u, "://")
	hosts, rawQuery, _ := strings.Cut(rest, "?")
	const form = "want memcached://host:port[,host:port][?max_idle_conns=N&timeout=D]"
	var addrs []string
	for _, h := range strings.Split(strings.TrimSuffix(hosts, "/"), ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" || !validPort(port) {
			return nil, fmt.Errorf("%q is not a host:port; %s", h, form)
		}
		addrs = append(addrs, h)
	}
	if len(addrs) == 0 {
		return nil, errors.New(form)
	}
	client := memcache.New(addrs...)
	client.MaxIdleConns = memcachedMaxIdle
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w; %s", err, form)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "max_idle_conns":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10000 {
				return nil, fmt.Errorf("max_idle_conns=%s: want a number of connections from 1 to 10000", v)
			}
			client.MaxIdleConns = n
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Millisecond || d > time.Minute {
				return nil, fmt.Errorf("timeout=%s: want a duration from 1ms to 1m, such as 500ms", v)
			}
			client.Timeout = d
		default:
			return nil, fmt.Errorf("unknown parameter %q; %s", k, form)
		}
	}
	return client, nil
}

// openTimeout bounds opening PostgreSQL at start-up (connecting and
// applying migrations), so a database that does not answer stops start-up
// with an error instead of hanging it.
const openTimeout = 30 * time.Second

// redis returns the Redis client for url, opening it once.
func (a *app) redis(url string) (redis.UniversalClient, error) {
	if a.redisClients == nil {
		a.redisClients = map[string]redis.UniversalClient{}
	}
	if c, ok := a.redisClients[url]; ok {
		return c, nil
	}
	c, err := redisstore.ParseURL(url)
	if err != nil {
		return nil, redactError(err, url)
	}
	// go-redis prints every failed dial; the session manager already logs
	// an outage once, so its own lines go to debug level.
	redis.SetLogger(redisLogger{a.log})
	a.redisClients[url] = c
	a.closers = append(a.closers, c.Close)
	return c, nil
}

// postgres returns the PostgreSQL database for url, opening it (and
// running its migrations) once.
func (a *app) postgres(ctx context.Context, url string) (*pgstore.DB, error) {
	if a.pg != nil {
		if a.pgURL != url {
			return nil, fmt.Errorf("sessions and accounts must use the same PostgreSQL database")
		}
		return a.pg, nil
	}
	// A database that does not answer fails within the store timeout, as
	// every later call would, not at openTimeout, which leaves room for
	// the migrations.
	if err := pingPostgres(ctx, url, a.cfg.StoreTimeout); err != nil {
		err = redactError(err, url)
		a.log.Error("store unreachable at start-up", "store", "postgres", "setting", a.storeSetting("postgres"), "err", err)
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("PostgreSQL %s does not answer within %v (HALLPASS_STORE_TIMEOUT): %w", redactURL(url), a.cfg.StoreTimeout, err)
		}
		return nil, fmt.Errorf("open PostgreSQL %s: %w", redactURL(url), err)
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	db, err := pgstore.Open(ctx, url, pgstore.Options{Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL %s: %w", redactURL(url), redactError(err, url))
	}
	a.pg, a.pgURL = db, url
	a.closers = append(a.closers, db.Close)
	a.checks["postgres"] = db.Ping
	return db, nil
}

// pingPostgres connects to the database at url and pings it within
// timeout.
func pingPostgres(ctx context.Context, url string, timeout time.Duration) error {
	// The pool's own settings (pool_max_conns, ...) are not the server's:
	// parsed as a pool's URL, as pgstore.Open does, not as a connection's.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// openPostgresAccounts opens the accounts database on PostgreSQL.
func openPostgresAccounts(ctx context.Context, a *app, url string) (accountStores, error) {
	db, err := a.postgres(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("HALLPASS_DATABASE_URL: %w", err)
	}
	return db.Accounts(), nil
}

// openCounter returns the throttle counters: on Redis when HALLPASS_REDIS_URL
// is set or the session store is Redis, so the limit holds across
// processes; in memory otherwise.
func openCounter(ctx context.Context, a *app, cfg *config) (throttle.Counter, string, error) {
	url := cfg.RedisURL
	if url == "" && hasScheme(cfg.SessionStore, redisSchemes...) {
		url = cfg.SessionStore
	}
	if url == "" {
		return throttle.NewMemoryCounter(throttle.MemoryOptions{}), "memory (this process only)", nil
	}
	client, err := a.redis(url)
	if err != nil {
		return nil, "", fmt.Errorf("HALLPASS_REDIS_URL: %w", err)
	}
	if url != cfg.SessionStore {
		a.checks["redis-throttle"] = func(ctx context.Context) error { return client.Ping(ctx).Err() }
	}
	return redisstore.NewCounter(client, redisstore.Options{}), redactURL(url), nil
}

// redisLogger sends go-redis's internal messages to slog at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
