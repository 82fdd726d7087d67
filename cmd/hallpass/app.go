package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass"
	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/internal/logbuf"
	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/sqlitestore"
	"github.com/hallpass/hallpass/twofa"
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

	recovery *recovery.Service // reset, verification and change-of-address links
	twofa    *twofa.Service    // second factors
	passkeys passkey.Store     // the users' passkeys (the CLI removes them whatever the base URL)
	mailer   mail.Mailer       // SMTP or the development mailer, without the queue (for the CLI)

	identities identity.Store // links to OpenID Connect identities
}

// close releases the stores in reverse order of opening.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// pingStores calls every store's health check at once, each with the
// store timeout as its deadline, and returns the failures by store name
// ("sqlite", "postgres", "redis", "memcached", and "redis-throttle" when
// HALLPASS_REDIS_URL names another Redis than the sessions'); an empty map
// means every store answered in time.
func (a *app) pingStores(ctx context.Context) map[string]error {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs = map[string]error{}
	)
	for name, check := range a.checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, a.cfg.StoreTimeout)
			defer cancel()
			if err := check(ctx); err != nil {
				mu.Lock()
				errs[name] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// health reports the first store, by name, that does not answer within
// the store timeout; /healthz and /readyz both use it.
func (a *app) health(ctx context.Context) error {
	errs := a.pingStores(ctx)
	for _, name := range slices.Sorted(maps.Keys(errs)) {
		return fmt.Errorf("%s: %w", name, errs[name])
	}
	return nil
}

// checkStartup tries every store once and returns an error naming each
// that does not answer, so a misconfigured or unreachable store stops
// start-up with a clear message instead of failing the first requests.
func (a *app) checkStartup(ctx context.Context) error {
	errs := a.pingStores(ctx)
	if len(errs) == 0 {
		return nil
	}
	var msgs []string
	for _, name := range slices.Sorted(maps.Keys(errs)) {
		msgs = append(msgs, fmt.Sprintf("%s (%s) does not answer: %v", name, a.storeSetting(name), errs[name]))
		a.log.Error("store unreachable at start-up", "store", name, "setting", a.storeSetting(name), "err", errs[name])
	}
	return fmt.Errorf("stores unreachable at start-up: %s", strings.Join(msgs, "; "))
}

// storeSetting names the setting that points at the store called name.
func (a *app) storeSetting(name string) string {
	switch name {
	case "sqlite":
		return "HALLPASS_DATA"
	case "postgres":
		if a.cfg.DatabaseURL != "" {
			return "HALLPASS_DATABASE_URL"
		}
		return "HALLPASS_SESSION_STORE"
	case "redis", "memcached":
		return "HALLPASS_SESSION_STORE"
	case "redis-throttle":
		return "HALLPASS_REDIS_URL"
	}
	return name
}

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
		if err := ensureDir(cfg.Data); err != nil {
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

	// Emailed links live beside the accounts.
	var recStore recovery.Store
	if sqlite != nil && cfg.DatabaseURL == "" {
		recStore = sqlite.Recovery()
	} else {
		recStore = a.pg.Recovery()
	}
	var twofaStore twofa.Store
	var passkeyStore passkey.Store
	if sqlite != nil && cfg.DatabaseURL == "" {
		twofaStore, passkeyStore = sqlite.TwoFA(), sqlite.Passkeys()
	} else {
		twofaStore, passkeyStore = a.pg.TwoFA(), a.pg.Passkeys()
	}
	servedPasskeys := passkeyStore
	if cfg.command {
		// A command signs no one in: no relying party (nor the warning
		// that an IP address cannot be one).
		servedPasskeys = nil
	}
	users, _ := a.accounts.(recovery.Users)
	emails, _ := a.accounts.(recovery.EmailSetter)
	queue, err := a.openMailer(cfg)
	if err != nil {
		return nil, err
	}

	// Links to OpenID Connect identities live beside the accounts too.
	if sqlite != nil && cfg.DatabaseURL == "" {
		a.identities = sqlite.Identities()
	} else {
		a.identities = a.pg.Identities()
	}
	var oidcConfig *oidc.Config
	if len(cfg.OIDC) > 0 {
		oidcConfig = &oidc.Config{Providers: cfg.OIDC, Identities: a.identities, VerifiedEmail: recStore.SetVerifiedEmail}
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

	a.hasher = &password.Hasher{MaxConcurrent: cfg.HashConcurrency}
	a.metrics.Hasher(a.hasher)
	srv, err := server.New(server.Config{
		SessionStore:         store,
		Accounts:             a.accounts,
		Counter:              counter,
		Keys:                 keys,
		Secure:               cfg.Secure(),
		TrustedProxies:       cfg.TrustedProxies,
		IdleTimeout:          cfg.IdleTimeout,
		AbsoluteTimeout:      cfg.AbsoluteTimeout,
		RememberFor:          cfg.RememberFor,
		PasswordMin:          cfg.PasswordMin,
		StoreTimeout:         cfg.StoreTimeout,
		Passwords:            a.hasher,
		Logger:               logger,
		Mailer:               queue,
		Recovery:             recStore,
		Users:                users,
		Emails:               emails,
		ResetFor:             cfg.ResetFor,
		RequireVerifiedEmail: cfg.RequireVerified,
		TwoFA:                twofaStore,
		Passkeys:             servedPasskeys,
		SessionHooks:         a.metrics.SessionHooks(),
		LoginHooks:           a.metrics.LoginHooks(),
		Web: web.Config{
			BaseURL:   cfg.BaseURL.String(),
			Health:    a.health,
			Ready:     a.health,
			Version:   versionString(),
			AccessLog: cfg.AccessLog,
			Observe:   a.metrics.RequestObserver(),
			OIDC:      oidcConfig,

			RequireSecondFactorFor: cfg.Require2FAFor,
		},
	})
	if err != nil {
		return nil, err
	}
	a.sessions, a.login, a.tokens, a.web = srv.Sessions, srv.Login, srv.Tokens, srv.Web
	a.recovery = srv.Recovery
	if svc := srv.Web.OIDC(); svc != nil {
		a.closers = append(a.closers, func() error { svc.Close(); return nil })
		// A provider that does not answer now is logged at start-up, and
		// tried again in the background.
		wait, cancel := context.WithTimeout(ctx, oidcDiscoveryWait)
		svc.WaitDiscovery(wait)
		cancel()
	}
	a.twofa, a.passkeys = srv.TwoFA, passkeyStore
	a.closers = append(a.closers, func() error {
		// Hand over the links already asked for before the stores close.
		ctx, cancel := context.WithTimeout(context.Background(), mailDrainTimeout)
		defer cancel()
		a.recovery.Close(ctx)
		return queue.Close(ctx)
	})
	if err := a.checkStartup(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// oidcDiscoveryWait bounds how long start-up waits for the OpenID Connect
// providers' discovery documents.
const oidcDiscoveryWait = 15 * time.Second

// mailDrainTimeout bounds how long a stopping process waits for queued
// mail to be handed to the mail server.
const mailDrainTimeout = 10 * time.Second

// openMailer returns the server's Mailer, a queue in front of the SMTP
// server of HALLPASS_SMTP_URL or, without one, of the development mailer
// (the log); a.mailer is the same without the queue.
func (a *app) openMailer(cfg *config) (*mail.Queue, error) {
	if cfg.SMTPURL == "" {
		a.mailer = &mail.Log{Logger: a.log}
	} else {
		m, err := mail.NewSMTP(cfg.SMTPURL, cfg.From(), mail.SMTPOptions{Hello: cfg.BaseURL.Hostname()})
		if err != nil {
			return nil, fmt.Errorf("HALLPASS_SMTP_URL: %w", err)
		}
		a.mailer = m
	}
	return mail.NewQueue(a.mailer, mail.QueueOptions{Logger: a.log}), nil
}

// mailSummary describes where mail goes, for the start-up log.
func (a *app) mailSummary() (msg string, args []any) {
	if m, ok := a.mailer.(*mail.SMTP); ok {
		return "hallpass mail", []any{"smtp", m.String(), "from", a.cfg.From()}
	}
	return "hallpass mail: DEVELOPMENT MAILER, email is written to this log and not sent (set HALLPASS_SMTP_URL to send it)", nil
}

// secretKeys returns the configured keys, or the key kept in the data
// directory, generating it (mode 0600) on first start.
func secretKeys(cfg *config) ([][]byte, error) {
	if len(cfg.SecretKeys) > 0 {
		return cfg.SecretKeys, nil
	}
	k, err := hallpass.KeyFile(filepath.Join(cfg.Data, "secret.key"))
	if err != nil {
		return nil, fmt.Errorf("HALLPASS_DATA: %w", err)
	}
	return [][]byte{k}, nil
}

// ensureDir creates dir, the data directory, with owner-only permissions
// if it does not exist; sqlitestore.Open creates the database in it with
// owner-only permissions too.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("HALLPASS_DATA: create the data directory: %w", err)
	}
	return nil
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
	if b, ok := w.(*logbuf.Writer); ok {
		// The access log is written in batches, within
		// logbuf.DefaultDelay, and formatted by hand (b takes concurrent
		// writes of whole lines); every other line at once.
		h = logbuf.Handler(h, b, web.IsAccessLog)
		h = &accessLogHandler{next: h, w: b, json: format == "json"}
	}
	return slog.New(web.LogHandler(h))
}
