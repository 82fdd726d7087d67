// Package session keeps per-browser state on the server: a Manager issues
// signed cookies that carry a random token, and a Store keeps the data under
// a digest of that token.
//
// It is what Flask's session and Flask-Session give a Python developer, in
// Go and secure by default: 256-bit tokens from crypto/rand, cookies
// authenticated with HMAC-SHA256 under rotating keys, idle and absolute
// timeouts enforced on the server, token renewal on login and privilege
// change, server-side revocation of one session or all of a user's, and
// saves that merge each request's changes into the stored state instead of
// overwriting it.
//
// Wrap handlers with Manager.Middleware and reach the request's Session with
// FromContext. A request that never touches its session costs no store
// round trip; one that only reads it costs one load and no write.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/internal/outage"
)

// Config configures a Manager. The zero value of every field but Store and
// Keys is a safe default, documented on the field.
type Config struct {
	// Store keeps the session records. Required.
	Store Store

	// Keys are the server's secret keys, each at least MinKeySize bytes.
	// The first signs new cookies; all of them verify, so a key is rotated
	// by putting a new one first and dropping the old one once every
	// cookie it signed has expired. Required.
	Keys [][]byte

	// IdleTimeout ends a session that has not been used for this long.
	// Default 30 minutes.
	IdleTimeout time.Duration

	// AbsoluteTimeout ends a session this long after it was created,
	// however active it is. Renewing the token does not restart it.
	// Default 12 hours.
	AbsoluteTimeout time.Duration

	// TouchInterval is how stale a session's last-seen time may grow
	// before a request that only reads the session refreshes it with a
	// store write. Default: a tenth of IdleTimeout, so with the defaults a
	// read-only request writes at most once every 3 minutes, and an idle
	// session ends between 27 and 30 minutes after its last request. It
	// must be shorter than IdleTimeout.
	TouchInterval time.Duration

	// Persistent makes session cookies outlive the browser (they carry an
	// expiry at the end of the absolute lifetime). By default they are
	// browser-session cookies. Session.SetPersistent overrides it per
	// session.
	Persistent bool

	// Secure marks the app as served over https: cookies get the Secure
	// attribute and the "__Host-" name prefix.
	Secure bool

	// CookieName names the session cookie. Default "hallpass_session",
	// prefixed with "__Host-" when Secure is set. It must be a valid
	// cookie name (RFC 6265's token: no spaces, '=', ';' or other
	// separators); New says so otherwise.
	CookieName string

	// SameSite is the cookie's SameSite attribute. Default Lax. None
	// needs Secure, as browsers do.
	SameSite http.SameSite

	// Logger receives store failures and corrupt records. Default
	// slog.Default(). An outage is logged once as an error when a store
	// call first fails, and once as over when the store answers again after
	// 3 seconds without a failed call, however many requests fail between.
	Logger *slog.Logger

	// ErrorHandler answers a request whose session could not be loaded or
	// saved (an error wrapping ErrStoreUnavailable). Default
	// autherr.WriteHTTP: 503 with Retry-After and a short text or JSON
	// message.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// ClientIP returns the address recorded on a new session. Default: the
	// host part of r.RemoteAddr. Set it to honour trusted proxies.
	ClientIP func(r *http.Request) string

	// StoreTimeout is the deadline of each call the Manager makes to the
	// Store. A call that exceeds it fails like a store that is down: the
	// request gets ErrStoreUnavailable (503 from the middleware) and the
	// outage is logged once. Default DefaultStoreTimeout (3 seconds).
	StoreTimeout time.Duration

	// Now returns the current time. Default time.Now; tests inject a clock.
	Now func() time.Time

	// Hooks are told when sessions start and end, for metrics.
	Hooks Hooks
}

// Hooks are optional callbacks a Manager calls, for metrics; each nil one
// costs nothing. They run on the request's goroutine and must be fast and
// safe for concurrent use.
type Hooks struct {
	// Created is called after a session was started for a user: by
	// SetUser with a user other than the session's (a login, or a
	// remember-me restore). Anonymous sessions (a flash message, a value
	// put before login) and token renewals for the same user are not
	// counted.
	Created func(ctx context.Context)

	// Revoked is called after n sessions were ended on purpose, before
	// they expired: by Session.Destroy (a logout), DestroyUserSession or
	// DestroyByUser.
	Revoked func(ctx context.Context, n int)
}

// created calls Hooks.Created.
func (m *Manager) created(ctx context.Context) {
	if f := m.cfg.Hooks.Created; f != nil {
		f(ctx)
	}
}

// revoked calls Hooks.Revoked.
func (m *Manager) revoked(ctx context.Context, n int) {
	if f := m.cfg.Hooks.Revoked; f != nil && n > 0 {
		f(ctx, n)
	}
}

// Manager issues session cookies and loads and saves sessions. It is safe
// for concurrent use.
type Manager struct {
	cfg    Config
	store  Store
	calls  deadlineStore // store, with a deadline on every call
	keys   *keyring
	outage *outage.Log // store failures, logged once per outage
	log    *slog.Logger
}

// New returns a Manager for cfg, or an error naming the invalid setting.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("session: Config.Store is required")
	}
	kr, err := newKeyring(cfg.Keys, "hallpass session cookie v1")
	if err != nil {
		return nil, err
	}
	if cfg.IdleTimeout < 0 || cfg.AbsoluteTimeout < 0 || cfg.TouchInterval < 0 || cfg.StoreTimeout < 0 {
		return nil, errors.New("session: timeouts must not be negative")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.AbsoluteTimeout == 0 {
		cfg.AbsoluteTimeout = 12 * time.Hour
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = cfg.IdleTimeout / 10
	}
	if cfg.TouchInterval >= cfg.IdleTimeout {
		// The last-seen time would never be refreshed before the idle
		// timeout: users reading pages would be logged out mid-visit.
		return nil, fmt.Errorf("session: Config.TouchInterval (%v) must be shorter than IdleTimeout (%v), or active sessions end while in use", cfg.TouchInterval, cfg.IdleTimeout)
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "hallpass_session"
	}
	if cfg.Secure && !strings.HasPrefix(cfg.CookieName, "__Host-") {
		cfg.CookieName = "__Host-" + cfg.CookieName
	}
	if (&http.Cookie{Name: cfg.CookieName}).Valid() != nil {
		// net/http would drop every cookie of that name without a word.
		return nil, fmt.Errorf("session: Config.CookieName %q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", cfg.CookieName)
	}
	if cfg.SameSite == 0 {
		cfg.SameSite = http.SameSiteLaxMode
	}
	if cfg.SameSite == http.SameSiteNoneMode && !cfg.Secure {
		// Browsers refuse a SameSite=None cookie that is not Secure.
		return nil, errors.New("session: Config.SameSite None needs Secure (https): browsers drop such a cookie otherwise")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = autherr.WriteHTTP
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteIP
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	return &Manager{cfg: cfg, store: cfg.Store, calls: newDeadlineStore(cfg.Store, cfg.StoreTimeout), keys: kr, log: cfg.Logger,
		outage: &outage.Log{Name: "session store", Logger: cfg.Logger, Now: cfg.Now}}, nil
}

// Store returns the store the Manager uses.
func (m *Manager) Store() Store { return m.store }

// CookieName returns the name of the session cookie.
func (m *Manager) CookieName() string { return m.cfg.CookieName }

// Config returns the Manager's configuration with defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

// expiry returns when a session created at created and last seen at seen
// ends: the earlier of its idle and absolute deadlines.
func (m *Manager) expiry(created, seen time.Time) time.Time {
	idle := seen.Add(m.cfg.IdleTimeout)
	abs := created.Add(m.cfg.AbsoluteTimeout)
	if abs.Before(idle) {
		return abs
	}
	return idle
}

// live reports whether rec is within both timeouts at now, judged from its
// stored timestamps (not from the store's expiry alone, so shortening a
// timeout takes effect at once).
func (m *Manager) live(rec *Record, now time.Time) bool {
	return now.Before(m.expiry(rec.CreatedAt, rec.LastSeen)) && now.Before(rec.Expiry)
}

// storeErr wraps a store failure (a call past its deadline included) as
// ErrStoreUnavailable and logs it once per outage: the first failure is
// logged as an error, the rest at debug level until the outage is over
// (see storeOK).
func (m *Manager) storeErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		// The client went away; that says nothing about the store.
		return fmt.Errorf("session: %s: %w", op, err)
	}
	m.outage.Failed(ctx, op, err)
	return fmt.Errorf("%w: %s: %w", ErrStoreUnavailable, op, err)
}

// storeOK notes a successful store call, and logs the end of an outage
// once no call has failed for a few seconds (outage.DefaultQuiet).
func (m *Manager) storeOK() {
	m.outage.OK()
}

// load fetches the record under id and checks it at now. A missing,
// expired or corrupt record yields (nil, nil).
func (m *Manager) load(ctx context.Context, id string, now time.Time) (*Record, error) {
	rec, err := m.calls.Load(ctx, id)
	switch {
	case err == nil:
		m.storeOK()
		if !m.live(rec, now) {
			return nil, nil
		}
		return rec, nil
	case errors.Is(err, ErrNotFound):
		m.storeOK()
		return nil, nil
	case errors.Is(err, ErrCorrupt):
		m.storeOK()
		m.log.WarnContext(ctx, "session record cannot be decoded; treating it as missing", "session", ShortID(id), "err", err)
		return nil, nil
	default:
		return nil, m.storeErr(ctx, "load", err)
	}
}

// ShortID returns a short, non-reversible label for a session ID, for logs
// and audit events: the first 8 characters of the ID's own digest would
// still be an ID prefix, so it is re-hashed.
func ShortID(id string) string {
	if id == "" {
		return ""
	}
	return IDOf([]byte(id))[:8]
}

// ListByUser returns the live sessions of userID, newest first. It returns
// ErrNotSupported when the store cannot list by user.
func (m *Manager) ListByUser(ctx context.Context, userID string) ([]Info, error) {
	ix, ok := m.store.(UserIndex)
	if !ok {
		return nil, ErrNotSupported
	}
	list, err := m.calls.listByUser(ctx, ix, userID)
	if err != nil {
		return nil, m.storeErr(ctx, "list sessions", err)
	}
	m.storeOK()
	now := m.cfg.Now()
	out := list[:0]
	for _, in := range list {
		if now.Before(m.expiry(in.CreatedAt, in.LastSeen)) && now.Before(in.Expiry) {
			out = append(out, in)
		}
	}
	return out, nil
}

// DestroyByUser ends every session of userID except those whose ID is in
// except, and returns how many it ended. Call it when a password changes
// (sparing the session that changed it) or an account is disabled.
func (m *Manager) DestroyByUser(ctx context.Context, userID string, except ...string) (int, error) {
	ix, ok := m.store.(UserIndex)
	if !ok {
		return 0, ErrNotSupported
	}
	n, err := m.calls.deleteByUser(ctx, ix, userID, except...)
	if err != nil {
		return n, m.storeErr(ctx, "destroy sessions by user", err)
	}
	m.storeOK()
	m.revoked(ctx, n)
	return n, nil
}

// Exists reports whether the session id is stored, live and userID's now,
// asking the store (not a request's copy of the session): for a request
// that must not finish what a revocation at the same moment ended, or that
// must know a session is the user's before acting on it.
func (m *Manager) Exists(ctx context.Context, userID, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	rec, err := m.load(ctx, id, m.cfg.Now())
	return rec != nil && rec.UserID == userID, err
}

// DestroyUserSession ends the session id if it belongs to userID, as when a
// user revokes one of their sessions from an account page. It returns
// ErrNotFound when userID has no such session.
func (m *Manager) DestroyUserSession(ctx context.Context, userID, id string) error {
	rec, err := m.calls.Load(ctx, id)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) || (err == nil && rec.UserID != userID) {
		return ErrNotFound
	}
	if err != nil {
		return m.storeErr(ctx, "load", err)
	}
	if err := m.calls.Delete(ctx, id); err != nil {
		return m.storeErr(ctx, "delete", err)
	}
	m.storeOK()
	m.revoked(ctx, 1)
	return nil
}

// PutByUser sets key to value in every live session of userID, as when a
// cached copy of the user (roles, name) must change in all of their
// sessions at once. Sessions that end meanwhile are skipped.
func (m *Manager) PutByUser(ctx context.Context, userID, key string, value any) error {
	b, err := encodeValue(value)
	if err != nil {
		return err
	}
	list, err := m.ListByUser(ctx, userID)
	if err != nil {
		return err
	}
	for _, in := range list {
		err := m.calls.Update(ctx, in.ID, &Update{Set: map[string][]byte{key: b}})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return m.storeErr(ctx, "update", err)
		}
	}
	return nil
}

// Middleware loads the request's session lazily, on its first use, makes it
// reachable through FromContext, and saves its changes just before the
// response's header is written. A store failure is answered by
// Config.ErrorHandler (503 by default) instead of the handler's response.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &state{}
		st.w = w
		st.s.m = m
		st.s.ctx = r.Context()
		r = r.WithContext(st) // st.Value gives the session
		st.s.req = r
		next.ServeHTTP(st, r)
		if !st.s.committed {
			st.commit()
		}
	})
}

type ctxKey struct{}

// FromContext returns the session of the request whose context is ctx, or
// nil outside Manager.Middleware. The methods of a nil *Session are safe:
// reads find nothing and writes return ErrNoSession.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(ctxKey{}).(*Session)
	return s
}

// FromRequest is FromContext(r.Context()).
func FromRequest(r *http.Request) *Session { return FromContext(r.Context()) }

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
