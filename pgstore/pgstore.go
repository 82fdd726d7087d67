// Package pgstore keeps hallpass's state in PostgreSQL, through
// github.com/jackc/pgx/v5 and its connection pool. It implements the
// session store (session.Store with session.UserIndex and
// session.Sweeper) and the account stores (account.Store with
// account.Importer, account.RememberStore and account.TokenStore), all in
// the same database, behind the same DB.
//
// Open a database once per process and share it:
//
//	db, err := pgstore.Open(ctx, "postgres://hallpass@db.internal/hallpass", pgstore.Options{})
//	if err != nil { ... }
//	defer db.Close()
//	m, err := session.New(session.Config{Store: db.Sessions(), ...})
//	accounts := db.Accounts() // users, remember-me tokens, API tokens
//
// An app that already has a pool on its database gives it to New instead
// of a URL to Open; the tables all being named hallpass_*, they live next
// to the app's own (users, sessions) without a clash.
//
// Open creates and upgrades the tables it needs (all named hallpass_*),
// recording the applied versions in hallpass_schema_migrations; several
// processes may open the same database at once. The role needs the right
// to create tables in its schema (and to create the schema, if
// Options.Schema names one that does not exist yet).
//
// Times are kept as timestamptz, at microsecond precision, and are always
// compared with Options.Now, never with the database's clock. Expired
// sessions and tokens are never returned; a background sweep deletes their
// rows (see AccountStore for how long expired API tokens are kept).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/sweep"
)

// DefaultSweepInterval is the interval of the background sweep when
// Options.SweepInterval is zero.
const DefaultSweepInterval = time.Minute

// Options configures a DB. The zero value is ready to use.
type Options struct {
	// Schema, when not empty, is the PostgreSQL schema that holds
	// hallpass's tables: Open creates it if needed and sets it as the
	// search_path of every connection (overriding any search_path in the
	// URL). Default: the connection's own search_path, usually "public".
	Schema string

	// Now returns the current time, against which expiry is checked (the
	// database's own clock is never used). Default time.Now; tests pass a
	// fake clock.
	Now func() time.Time

	// SweepInterval is how often a background goroutine deletes expired
	// rows. Zero means DefaultSweepInterval (one minute); a negative value
	// disables the background sweep (call the stores' Sweep yourself).
	SweepInterval time.Duration

	// Logger receives the errors of the background sweep, which has no
	// caller to return them to. Default slog.Default().
	Logger *slog.Logger
}

// DB is an open hallpass database. It owns its connection pool: the stores
// it hands out (Sessions, Accounts) stay valid until Close. A DB is safe for
// concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	shared bool // the app's pool (New): Close leaves it open
	now    func() time.Time
	log    *slog.Logger

	sessions *SessionStore
	accounts *AccountStore

	stopSweep func() // stops the background sweep and waits for it; nil if none
	closeOnce sync.Once
}

// Open connects to the PostgreSQL database that url names (a URL or a
// keyword/value string, as pgxpool.ParseConfig reads them, including pool
// settings such as pool_max_conns), applies any schema migrations this
// version of hallpass has and the database lacks, then starts the
// background sweep unless opts.SweepInterval is negative.
//
// It returns an error if the database cannot be reached, or if its schema
// is newer than this program knows.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors never repeat the password.
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	d := newDB(opts)
	d.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if err := migrate(ctx, d.pool, opts.Schema, schemaMigrations, d.now); err != nil {
		d.pool.Close()
		return nil, fmt.Errorf("pgstore: open %s: %w", cfg.ConnConfig.Database, err)
	}
	d.start(opts)
	return d, nil
}

// New keeps hallpass's tables in the database of pool, a pool the app
// already has: it applies hallpass's migrations there (in the first
// schema of the connections' search_path, creating tables named
// hallpass_* only) and starts the background sweep unless
// opts.SweepInterval is negative. opts.Schema must be empty: put the
// schema in the pool's search_path instead. The app keeps ownership of
// pool: DB.Close stops the sweep and leaves the pool open, and Pool
// returns it.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*DB, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New: the pool is nil")
	}
	if opts.Schema != "" {
		return nil, fmt.Errorf("pgstore: New: Options.Schema %q applies to Open only; set search_path in the pool's configuration", opts.Schema)
	}
	d := newDB(opts)
	d.pool, d.shared = pool, true
	if err := migrate(ctx, pool, "", schemaMigrations, d.now); err != nil {
		return nil, fmt.Errorf("pgstore: New: %w", err)
	}
	d.start(opts)
	return d, nil
}

// newDB returns a DB with opts' clock and logger, or their defaults.
func newDB(opts Options) *DB {
	d := &DB{now: opts.Now, log: opts.Logger}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	return d
}

// start makes the stores of d, whose pool is open and whose schema is up
// to date, and starts the background sweep.
func (d *DB) start(opts Options) {
	d.sessions = &SessionStore{pool: d.pool, now: d.now, sweepBatch: sweepBatch}
	d.accounts = &AccountStore{pool: d.pool, now: d.now}

	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval > 0 {
		d.stopSweep = sweep.Start(interval, d.log, "pgstore",
			sweep.Job{Table: "hallpass_sessions", Run: d.sessions.Sweep},
			sweep.Job{Table: "hallpass_remember_tokens", Run: d.accounts.sweepRemember},
			sweep.Job{Table: "hallpass_api_tokens", Run: d.accounts.sweepTokens},
			sweep.Job{Table: "hallpass_email_tokens", Run: d.Recovery().sweep})
	}
}

// Sessions returns the session store kept in the database.
func (d *DB) Sessions() *SessionStore { return d.sessions }

// Accounts returns the store of users, remember-me tokens and API tokens
// kept in the database.
func (d *DB) Accounts() *AccountStore { return d.accounts }

// Pool returns the connection pool of d, for callers that need to run
// their own queries on the same database. Close closes the pool Open
// made, not the one given to New.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Ping checks that the database answers, for health checks.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close stops the background sweep, waits for it to finish, and closes the
// connection pool that Open made, waiting for the connections in use to be
// released (the pool given to New stays open).
// The stores of d must not be used afterwards. Close always returns nil
// (it has an error result so that DB is an io.Closer); calling it again
// does nothing.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		if d.stopSweep != nil {
			d.stopSweep()
		}
		if !d.shared {
			d.pool.Close()
		}
	})
	return nil
}
