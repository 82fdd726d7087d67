// Package sqlitestore keeps hallpass's state in one SQLite database file,
// through the pure-Go driver modernc.org/sqlite (no cgo). It implements the
// session store (session.Store with session.UserIndex and session.Sweeper)
// and the account stores (account.Store with account.Importer,
// account.RememberStore and account.TokenStore), all in the same file.
//
// Open a database once per process and share it:
//
//	db, err := sqlitestore.Open(ctx, "/var/lib/hallpass/hallpass.db", sqlitestore.Options{})
//	if err != nil { ... }
//	defer db.Close()
//	m, err := session.New(session.Config{Store: db.Sessions(), ...})
//	accounts := db.Accounts() // users, remember-me tokens, API tokens
//
// The database runs in WAL mode, so reads never wait for a write. All
// writes of a DB go through a single connection, so they never fail with
// SQLITE_BUSY against each other; another process writing the same file is
// waited for up to 5 seconds. The schema is created and upgraded by Open.
// A database file Open creates is readable by its owner only (mode 0600),
// and so are the -wal and -shm files SQLite creates beside it.
//
// An app that already has the database open (its own tables, its own
// users) gives its *sql.DB to New instead; see New for the settings that
// handle needs. Every table and index hallpass creates is named
// hallpass_*, so it never collides with the app's users or sessions
// tables.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/hallpass/hallpass/internal/sweep"
)

// DefaultSweepInterval is the interval of the background sweep when
// Options.SweepInterval is zero.
const DefaultSweepInterval = time.Minute

// DefaultReadConns is the size of the reader pool when Options.ReadConns
// is zero.
const DefaultReadConns = 4

// busyTimeout is how long a statement waits for a lock held by another
// process before failing with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Options configures a DB. The zero value is ready to use.
type Options struct {
	// Now returns the current time, against which expiry is checked (SQL's
	// own clock is never used). Default time.Now; tests pass a fake clock.
	Now func() time.Time

	// SweepInterval is how often a background goroutine deletes expired
	// rows. Zero means DefaultSweepInterval (one minute); a negative value
	// disables the background sweep (call the stores' Sweep yourself).
	SweepInterval time.Duration

	// ReadConns is the maximum number of connections that serve reads
	// concurrently. Zero means DefaultReadConns. Writes always use one
	// connection of their own.
	ReadConns int

	// Logger receives the errors of the background sweep, which has no
	// caller to return them to. Default slog.Default().
	Logger *slog.Logger
}

// DB is an open hallpass database. It owns the file: the stores it hands
// out (Sessions, Accounts) stay valid until Close. A DB is safe for
// concurrent use.
type DB struct {
	write *sql.DB   // one connection; every write goes through it (New: the app's handle)
	read  *sql.DB   // a pool of query_only connections (New: the app's handle)
	watch *sql.DB   // one query_only connection, that asks PRAGMA data_version; nil for New
	wal   *walIndex // the WAL index, whose header tells commits apart; nil for New or when unreadable
	// shared is set for an app's handle (New): d does not own it, and its
	// transactions do not take the write lock at BEGIN.
	shared bool
	now    func() time.Time
	log    *slog.Logger

	sessions *SessionStore
	accounts *AccountStore

	stopSweep func() // stops the background sweep and waits for it; nil if none
	closeOnce sync.Once
	closeErr  error
}

// Open opens the SQLite database at path, creating the file if needed and
// applying any schema migrations this version of hallpass has and the
// database lacks, then starts the background sweep unless
// opts.SweepInterval is negative. path names a file: in-memory databases
// are not supported, since the reading and writing connections must share
// the database.
//
// It returns an error if the database's schema is newer than this
// program knows, or if the file system cannot hold a database in WAL mode.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open %q: want the path of a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	if err := createPrivate(abs); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	d := newDB(opts)
	if err := d.open(ctx, abs, opts); err != nil {
		d.closeDBs()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := d.start(ctx, opts); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return d, nil
}

// New keeps hallpass's tables in db, a database the app already has open,
// next to the app's own tables: it applies hallpass's migrations to it
// (creating tables and indexes named hallpass_* only), prepares its
// statements and starts the background sweep unless opts.SweepInterval is
// negative. opts.ReadConns is ignored. The app keeps ownership of db:
// DB.Close stops the sweep and releases hallpass's statements, and leaves
// db open.
//
// db must use the modernc.org/sqlite driver ("sqlite"). hallpass sets no
// pragma on it, since they are the app's choice; give its DSN
//
//	?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)
//
// busy_timeout makes a write wait for another connection's instead of
// failing at once with SQLITE_BUSY (a 503 for the request), and is logged
// as a warning when it is 0; WAL lets reads run while a write does. Every
// transaction of hallpass's that reads before it writes takes the write
// lock with its first statement, so it works with the driver's default
// deferred transactions. Sessions are read with a query each time (Open's
// read cache needs a connection of its own, which a shared pool cannot
// spare).
func New(ctx context.Context, db *sql.DB, opts Options) (*DB, error) {
	if db == nil {
		return nil, errors.New("sqlitestore: New: the *sql.DB is nil")
	}
	if _, ok := db.Driver().(*sqlite.Driver); !ok {
		return nil, fmt.Errorf("sqlitestore: New: the *sql.DB uses the driver %T; want modernc.org/sqlite (sql.Open(\"sqlite\", ...))", db.Driver())
	}
	d := newDB(opts)
	d.write, d.read, d.shared = db, db, true
	var busy int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		return nil, fmt.Errorf("sqlitestore: New: %w", err)
	}
	if busy == 0 {
		d.log.WarnContext(ctx, "sqlitestore: the database handle has busy_timeout 0: a write that meets another connection's fails at once; add _pragma=busy_timeout(5000) to its DSN")
	}
	if err := (migrator{db: db, shared: true, now: d.now}).migrate(ctx, schemaMigrations, schemaBaseline); err != nil {
		return nil, fmt.Errorf("sqlitestore: New: %w", err)
	}
	if err := d.start(ctx, opts); err != nil {
		return nil, fmt.Errorf("sqlitestore: New: %w", err)
	}
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

// start prepares the stores of d, whose handles are open and whose schema
// is up to date, and starts the background sweep. On failure it closes
// what it opened.
func (d *DB) start(ctx context.Context, opts Options) error {
	var err error
	if d.sessions, err = newSessionStore(ctx, d); err != nil {
		d.closeDBs()
		return err
	}
	if d.accounts, err = newAccountStore(ctx, d); err != nil {
		d.closeDBs()
		return err
	}
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval > 0 {
		d.stopSweep = sweep.Start(interval, d.log, "sqlitestore",
			sweep.Job{Table: "hallpass_sessions", Run: d.sessions.Sweep},
			sweep.Job{Table: "hallpass_remember_tokens", Run: d.accounts.sweepRemember},
			sweep.Job{Table: "hallpass_api_tokens", Run: d.accounts.sweepTokens},
			sweep.Job{Table: "hallpass_email_tokens", Run: d.Recovery().sweep})
	}
	return nil
}

// createPrivate creates the file at path, readable and writable by its
// owner only, unless it exists; SQLite gives the -wal and -shm files it
// creates beside a database the database file's permissions.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn returns the data source name of the file at the absolute path abs
// with the given driver parameters. A "file:" URI, unlike a plain name,
// keeps a path containing '?' or '#' intact.
func dsn(abs string, params url.Values) string {
	u := url.URL{Path: filepath.ToSlash(abs)}
	if !strings.HasPrefix(u.Path, "/") { // a Windows drive letter
		u.Path = "/" + u.Path
	}
	return "file:" + u.EscapedPath() + "?" + params.Encode()
}

// pool opens a pool of at most conns connections, which it keeps open, to
// the file at the absolute path abs with the given driver parameters.
func pool(abs string, params url.Values, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(abs, params))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

func (d *DB) open(ctx context.Context, abs string, opts Options) error {
	busy := fmt.Sprint(busyTimeout.Milliseconds())
	var err error
	// _txlock=immediate makes every transaction take the write lock at
	// BEGIN, so a read-then-write transaction (Update) never fails halfway
	// because another process wrote in between.
	d.write, err = pool(abs, url.Values{
		"_busy_timeout": {busy},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"},
	}, 1)
	if err != nil {
		return err
	}

	var mode string
	if err := d.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want WAL (is the file on a network file system?)", mode)
	}
	if err := (migrator{db: d.write, now: d.now}).migrate(ctx, schemaMigrations, schemaBaseline); err != nil {
		return err
	}

	n := opts.ReadConns
	if n <= 0 {
		n = DefaultReadConns
	}
	d.read, err = pool(abs, url.Values{
		"_busy_timeout": {busy},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
	}, n)
	if err != nil {
		return err
	}
	if err := d.read.PingContext(ctx); err != nil {
		return err
	}

	// PRAGMA data_version is a property of one connection: it changes
	// when any other connection commits. This one never writes, so it
	// sees every commit, of this process or another.
	d.watch, err = pool(abs, url.Values{"_busy_timeout": {busy}, "_query_only": {"1"}}, 1)
	if err != nil {
		return err
	}
	if err := d.watch.PingContext(ctx); err != nil {
		return err
	}
	// The migrations and the ping have opened the WAL, and so its index.
	if d.wal, err = openWALIndex(abs); err != nil {
		d.log.WarnContext(ctx, "sqlitestore: the WAL index cannot be read; the session cache asks PRAGMA data_version instead (slower)", "err", err)
	}
	return nil
}

// Sessions returns the session store kept in the database.
func (d *DB) Sessions() *SessionStore { return d.sessions }

// Accounts returns the store of users, remember-me tokens and API tokens
// kept in the database.
func (d *DB) Accounts() *AccountStore { return d.accounts }

// Close stops the background sweep, waits for it to finish, and closes
// the database (for a DB made by New, only hallpass's statements: the
// app's handle stays open). The stores of d must not be used afterwards. Calling Close
// again returns the first call's result.
func (d *DB) Close() error {
	d.closeOnce.Do(func() {
		if d.stopSweep != nil {
			d.stopSweep()
		}
		d.closeErr = d.closeDBs()
		if d.closeErr != nil {
			d.closeErr = fmt.Errorf("sqlitestore: close: %w", d.closeErr)
		}
	})
	return d.closeErr
}

func (d *DB) closeDBs() error {
	var errs []error
	if d.sessions != nil {
		errs = append(errs, d.sessions.close())
	}
	if d.accounts != nil {
		errs = append(errs, d.accounts.close())
	}
	if d.shared { // the app's handle: the app closes it
		return errors.Join(errs...)
	}
	if d.read != nil {
		errs = append(errs, d.read.Close())
	}
	if d.watch != nil {
		errs = append(errs, d.watch.Close())
	}
	if d.wal != nil {
		errs = append(errs, d.wal.close())
	}
	if d.write != nil { // last, so the final checkpoint sees no readers
		errs = append(errs, d.write.Close())
	}
	return errors.Join(errs...)
}

// wrap adds the operation to err. When ctx is done, the result wraps
// ctx.Err() as well, whatever error the driver reported for the
// interruption.
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlitestore: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}
