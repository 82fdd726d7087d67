package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/sqlitestore"
	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/web"
)

// accountStores is what an accounts database provides.
type accountStores interface {
	account.Store
	account.RememberStore
	account.TokenStore
}

// app is everything the server and the CLI share: the stores and the
// managers built on them.
type app struct {
	cfg      *config
	log      *slog.Logger
	sessions *session.Manager
	login    *login.Manager
	accounts accountStores
	tokens   *apitoken.Service
	hasher   *password.Hasher
	web      *web.Server
	checks   map[string]func(context.Context) error // health checks by store
	closers  []func() error

	redisClients map[string]redis.UniversalClient
	pg           *pgstore.DB
	pgURL        string
	storeLog     []any // which stores are used, for the start-up line

	metrics *metrics.Metrics // nil unless HALLPASS_METRICS_ADDR is set
}

// close releases the stores in reverse order of opening.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// health reports the first store that does not answer.
func (a *app) health(ctx context.Context) error {
	for name, check := range a.checks {
		if err := check(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// ready reports the first store that does not answer within its deadline,
// checking them all at once.
func (a *app) ready(ctx context.Context) error {
	errs := make(chan error, len(a.checks))
	for name, check := range a.checks {
		go func() {
			ctx, cancel := context.WithTimeout(ctx, readyStoreTimeout)
			defer cancel()
			if err := check(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				return
			}
			errs <- nil
		}()
	}
	var first error
	for range a.checks {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// readyStoreTimeout is how long /readyz waits for each store.
const readyStoreTimeout = 2 * time.Second

// openApp opens the stores named by cfg and builds the managers.
func openApp(ctx context.Context, cfg *config, logger *slog.Logger) (_ *app, err error) {
	a := &app{cfg: cfg, log: logger, checks: map[string]func(context.Context) error{}}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	keys, err := secretKeys(cfg)
	if err != nil {
		return nil, err
	}

	// The SQLite database is opened when accounts or sessions live there.
	var sqlite *sqlitestore.DB
	openSQLite := func() (*sqlitestore.DB, error) {
		if sqlite != nil {
			return sqlite, nil
		}
		path := filepath.Join(cfg.Data, "hallpass.db")
		if err := ensureFile(path); err != nil {
			return nil, err
		}
		db, err := sqlitestore.Open(ctx, path, sqlitestore.Options{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open the SQLite database %s: %w", path, err)
		}
		sqlite = db
		a.closers = append(a.closers, db.Close)
		a.checks["sqlite"] = db.Ping
		return db, nil
	}

	// Accounts.
	if cfg.DatabaseURL == "" {
		db, err := openSQLite()
		if err != nil {
			return nil, err
		}
		a.accounts = db.Accounts()
		a.storeLog = append(a.storeLog, "accounts", "sqlite:"+filepath.Join(cfg.Data, "hallpass.db"))
	} else {
		st, err := openPostgresAccounts(ctx, a, cfg.DatabaseURL)
		if err != nil {
			return nil, err
		}
		a.accounts = st
		a.storeLog = append(a.storeLog, "accounts", redactURL(cfg.DatabaseURL))
	}

	// Sessions.
	var store session.Store
	switch {
	case cfg.SessionStore == "sqlite":
		db, err := openSQLite()
		if err != nil {
			return nil, err
		}
		store = db.Sessions()
		a.storeLog = append(a.storeLog, "sessions", "sqlite")
	case cfg.SessionStore == "memory":
		mem := memstore.NewSessionStore(memstore.SessionOptions{})
		a.closers = append(a.closers, mem.Close)
		store = mem
		a.storeLog = append(a.storeLog, "sessions", "memory")
	default:
		s, err := openRemoteSessions(ctx, a, cfg.SessionStore)
		if err != nil {
			return nil, err
		}
		store = s
		a.storeLog = append(a.storeLog, "sessions", redactURL(cfg.SessionStore))
	}

	// Throttling counters.
	counter, where, err := openCounter(ctx, a, cfg)
	if err != nil {
		return nil, err
	}
	a.storeLog = append(a.storeLog, "throttle", where)

	if cfg.MetricsAddr != "" {
		a.metrics = metrics.New(versionString())
		store = a.metrics.SessionStore(store)
		a.accounts = a.metrics.AccountStores(a.accounts)
		counter = a.metrics.Counter(counter)
	}

	clientIP := func(r *http.Request) string { return throttle.ClientIP(r, cfg.TrustedProxies) }
	errorHandler := web.ErrorHandler(logger)
	a.sessions, err = session.New(session.Config{
		Store:           store,
		Keys:            keys,
		IdleTimeout:     cfg.IdleTimeout,
		AbsoluteTimeout: cfg.AbsoluteTimeout,
		Secure:          cfg.Secure(),
		Logger:          logger,
		ErrorHandler:    errorHandler,
		ClientIP:        clientIP,
		Hooks:           a.metrics.SessionHooks(),
	})
	if err != nil {
		return nil, err
	}
	protector, err := csrf.New(csrf.Config{
		Keys:           keys,
		Insecure:       !cfg.Secure(),
		TrustedOrigins: []string{cfg.BaseURL.Scheme + "://" + cfg.BaseURL.Host},
		ErrorHandler:   web.CSRFErrorHandler(logger),
	})
	if err != nil {
		return nil, err
	}
	a.hasher = &password.Hasher{MaxConcurrent: cfg.HashConcurrency}
	a.metrics.Hasher(a.hasher)
	a.tokens = &apitoken.Service{Store: a.accounts}
	a.login, err = login.New(login.Config{
		Sessions:     a.sessions,
		Users:        a.accounts,
		Passwords:    a.hasher,
		Policy:       password.Policy{MinLength: cfg.PasswordMin},
		Remember:     a.accounts,
		RememberFor:  cfg.RememberFor,
		Tokens:       a.tokens,
		Throttle:     throttle.New(counter, throttle.Config{}),
		CSRF:         protector,
		Audit:        audit.New(logger),
		Secure:       cfg.Secure(),
		ClientIP:     clientIP,
		ErrorHandler: errorHandler,
		Logger:       logger,
		Hooks:        a.metrics.LoginHooks(),
	})
	if err != nil {
		return nil, err
	}
	a.web, err = web.New(web.Config{
		Sessions: a.sessions,
		Login:    a.login,
		Accounts: a.accounts,
		Tokens:   a.tokens,
		BaseURL:  cfg.BaseURL.String(),
		Logger:   logger,
		Health:   a.health,
		Version:  versionString(),
		Audit:    audit.New(logger),

		TrustRequestID: func(r *http.Request) bool { return throttle.FromTrustedProxy(r, cfg.TrustedProxies) },
		AccessLog:      cfg.AccessLog,
		Observe:        a.metrics.RequestObserver(),
		Ready:          a.ready,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// secretKeys returns the configured keys, or the key kept in the data
// directory, generating it (mode 0600) on first start.
func secretKeys(cfg *config) ([][]byte, error) {
	if len(cfg.SecretKeys) > 0 {
		return cfg.SecretKeys, nil
	}
	path := filepath.Join(cfg.Data, "secret.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("create the data directory: %w", err)
		}
		var k [32]byte
		rand.Read(k[:])
		b = []byte(hex.EncodeToString(k[:]) + "\n")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			// Another process generated it first: use theirs.
			return secretKeys(cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("create the secret key file: %w", err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("write the secret key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("write the secret key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read the secret key file: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if len(k) < 32 {
		return nil, fmt.Errorf("the secret key in %s is shorter than 32 characters; delete the file to generate a new one (this logs everyone out)", path)
	}
	return [][]byte{[]byte(k)}, nil
}

// ensureFile creates path (and its directory) with owner-only permissions
// if it does not exist, so the database SQLite creates is not readable by
// others.
func ensureFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}

// newLogger returns the server's logger: text lines on w at level.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return newFormatLogger(w, level, "text")
}

// newFormatLogger returns a logger writing to w at level in format ("text"
// or "json"), adding the request ID to every line logged while serving a
// request.
func newFormatLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(web.LogHandler(h))
}
