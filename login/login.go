// Package login is the Flask-Login of Go: it resolves the current user of
// each request, logs users in and out, protects handlers, remembers users
// across browser restarts, and ends sessions when an account changes.
//
// The names a Flask developer knows:
//
//	login_user(user, remember)   m.Login(w, r, user, remember)
//	logout_user()                m.Logout(w, r)
//	@login_required              m.RequireLogin(handler)
//	current_user                 login.CurrentUser(r.Context())
//	@fresh_login_required        m.RequireFresh(10*time.Minute)(handler)
//
// The current user costs no database query on a request: a snapshot of the
// user (ID, name, email, roles) lives in the server-side session, and every
// change that must reach all of a user's sessions rewrites or ends them in
// the shared session store (SetDisabled, SetRoles, ChangePassword), so it
// takes effect on the very next request in every process, with no TTL.
// When the session store cannot list a user's sessions, the Manager falls
// back to reading the user on every request.
package login

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// Errors. Check them with errors.Is.
var (
	// ErrInvalidCredentials reports a failed login: wrong password,
	// unknown user and disabled account alike, so the answer reveals
	// nothing about which usernames exist.
	ErrInvalidCredentials = errors.New("login: invalid username or password")

	// ErrUnauthenticated reports a request without a logged-in user.
	ErrUnauthenticated = errors.New("login: not logged in")

	// ErrForbidden reports a logged-in user without the required role.
	ErrForbidden = errors.New("login: forbidden")

	// ErrNotFresh reports that the password was not entered recently
	// enough for the requested action.
	ErrNotFresh = errors.New("login: recent password entry required")

	// ErrWrongPassword reports a wrong current password when changing it.
	ErrWrongPassword = errors.New("login: current password is wrong")
)

// Hasher is what the Manager needs of package password: hashing,
// verification of any supported format, and a dummy verification that
// spends the work of a real one. *password.Hasher implements it.
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	NeedsRehash(encoded string) bool
	DummyVerify(ctx context.Context, password string) error
}

// PasswordPolicy checks a new password. *password.Policy implements it.
type PasswordPolicy interface {
	Check(password, username string) error
}

// Throttle counts failed logins. *throttle.Limiter implements it.
type Throttle interface {
	// Check returns an error (wrapping throttle.ErrThrottled) when the
	// account or IP may not try now.
	Check(ctx context.Context, account, ip string) error
	// Fail records a failed attempt.
	Fail(ctx context.Context, account, ip string) error
	// Succeed clears the account's failures.
	Succeed(ctx context.Context, account, ip string) error
}

// Config configures a Manager. Sessions, Users and Passwords are required;
// every other zero field is a documented default or turns a feature off.
type Config struct {
	Sessions  *session.Manager // required
	Users     account.Store    // required
	Passwords Hasher           // required
	Policy    PasswordPolicy   // checks new passwords; nil accepts any

	// Remember keeps remember-me tokens; nil turns remember-me off.
	Remember account.RememberStore
	// RememberFor is the lifetime of a remember-me token. Default 30 days.
	RememberFor time.Duration
	// RememberCookie names the remember-me cookie. Default
	// "hallpass_remember", prefixed with "__Host-" when Secure.
	RememberCookie string

	// Tokens checks API bearer tokens; nil turns them off.
	Tokens *apitoken.Service

	// Throttle limits failed logins; nil turns throttling off.
	Throttle Throttle

	// CSRF checks unsafe requests; nil leaves CSRF to the caller.
	CSRF *csrf.Protector

	// Audit records security events; nil discards them.
	Audit *audit.Logger

	// LoginPath is where RequireLogin sends browsers. Default "/login".
	LoginPath string

	// Secure marks the app as served over https (Secure, __Host- cookie).
	Secure bool

	// ClientIP returns the client address of a request. Default: the
	// session Manager's.
	ClientIP func(r *http.Request) string

	// ErrorHandler answers a request that failed for a reason other than
	// authentication (a store down: errors wrapping
	// session.ErrStoreUnavailable). Default: 503 text.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives operational errors. Default slog.Default().
	Logger *slog.Logger

	// StoreTimeout is the deadline of each call the Manager makes to
	// Users, Remember and Tokens. A call that exceeds it fails like a store
	// that is down (an error wrapping session.ErrStoreUnavailable: 503).
	// Default DefaultStoreTimeout (3 seconds).
	StoreTimeout time.Duration

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Manager logs users in and out and resolves the current user.
type Manager struct {
	cfg      Config
	sessions *session.Manager
	users    account.Store
	indexed  bool // the session store can list a user's sessions
	log      *slog.Logger
	remember string
}

// New returns a Manager for cfg.
func New(cfg Config) (*Manager, error) {
	if cfg.Sessions == nil || cfg.Users == nil || cfg.Passwords == nil {
		return nil, errors.New("login: Config.Sessions, Users and Passwords are required")
	}
	if cfg.RememberFor == 0 {
		cfg.RememberFor = 30 * 24 * time.Hour
	}
	if cfg.RememberFor < 0 {
		return nil, errors.New("login: Config.RememberFor must not be negative")
	}
	if cfg.RememberCookie == "" {
		cfg.RememberCookie = "hallpass_remember"
	}
	if cfg.Secure && !strings.HasPrefix(cfg.RememberCookie, "__Host-") {
		cfg.RememberCookie = "__Host-" + cfg.RememberCookie
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = cfg.Sessions.Config().ClientIP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "The service is temporarily unavailable. Please try again in a moment.", http.StatusServiceUnavailable)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StoreTimeout < 0 {
		return nil, errors.New("login: Config.StoreTimeout must not be negative")
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	cfg.Users = deadlineUsers{cfg.Users, cfg.StoreTimeout}
	if cfg.Remember != nil {
		cfg.Remember = deadlineRemember{cfg.Remember, cfg.StoreTimeout}
	}
	_, indexed := cfg.Sessions.Store().(session.UserIndex)
	return &Manager{cfg: cfg, sessions: cfg.Sessions, users: cfg.Users, indexed: indexed,
		log: cfg.Logger, remember: cfg.RememberCookie}, nil
}

// Session keys the Manager keeps in a logged-in session.
const (
	userKey   = "_user"    // the user snapshot
	authAtKey = "_auth_at" // when the password was last entered; absent after remember-me
	csrfKey   = "_csrf"    // the CSRF synchronizer secret
)

// snapshot is the copy of a user kept in the session.
type snapshot struct {
	ID       string    `json:"id"`
	Username string    `json:"u"`
	Email    string    `json:"e,omitempty"`
	Roles    []string  `json:"r,omitempty"`
	PwAt     time.Time `json:"p"`
}

func snapshotOf(u *account.User) snapshot {
	return snapshot{ID: u.ID, Username: u.Username, Email: u.Email, Roles: u.Roles, PwAt: u.PasswordChangedAt}
}

func (s snapshot) user() *account.User {
	return &account.User{ID: s.ID, Username: s.Username, Email: s.Email, Roles: s.Roles, PasswordChangedAt: s.PwAt}
}

// Method says how a request was authenticated.
type Method int

// Authentication methods.
const (
	Anonymous  Method = iota
	BySession         // a session started by entering the password
	ByRemember        // a session restored from a remember-me cookie
	ByBearer          // an API bearer token
)

// String names the method: "anonymous", "session", "remember" or "bearer".
func (m Method) String() string {
	names := [...]string{"anonymous", "session", "remember", "bearer"}
	if m < 0 || int(m) >= len(names) {
		return fmt.Sprintf("Method(%d)", int(m))
	}
	return names[m]
}

// state is the per-request result of resolving the user.
type state struct {
	user   *account.User
	method Method
	authAt time.Time
	token  *account.APIToken
}

type ctxKey struct{}

func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(ctxKey{}).(*state)
	if st == nil {
		return &state{}
	}
	return st
}

// CurrentUser returns the logged-in user of the request whose context is
// ctx, or nil. The user carries no password hash.
func CurrentUser(ctx context.Context) *account.User { return stateOf(ctx).user }

// IsAuthenticated reports whether the request has a logged-in user.
func IsAuthenticated(ctx context.Context) bool { return stateOf(ctx).user != nil }

// HowAuthenticated returns how the request's user was authenticated.
func HowAuthenticated(ctx context.Context) Method { return stateOf(ctx).method }

// CurrentToken returns the API token that authenticated the request, or
// nil when it was not authenticated by a bearer token.
func CurrentToken(ctx context.Context) *account.APIToken { return stateOf(ctx).token }

func (m *Manager) now() time.Time { return m.cfg.Now() }

func (m *Manager) ip(r *http.Request) string { return m.cfg.ClientIP(r) }

func (m *Manager) record(r *http.Request, e audit.Event) {
	if e.IP == "" && r != nil {
		e.IP = m.ip(r)
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	m.cfg.Audit.Record(ctx, e)
}

// Middleware resolves the current user once per request, from a bearer
// token, the session, or a remember-me cookie, in that order, and makes it
// reachable through CurrentUser. It must run inside session.Middleware. A
// request with no session cookie, remember cookie or bearer token costs no
// store round trip. A store failure is answered with Config.ErrorHandler.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := m.resolve(w, r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, st)))
	})
}

func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	m.cfg.ErrorHandler(w, r, err)
}

func (m *Manager) hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

func (m *Manager) resolve(w http.ResponseWriter, r *http.Request) (*state, error) {
	if m.cfg.Tokens != nil {
		if secret, err := apitoken.FromRequest(r); err == nil {
			return m.resolveBearer(r, secret)
		}
	}
	st := &state{}
	s := session.FromRequest(r)
	if s == nil {
		return nil, session.ErrNoSession
	}
	// Loading a session without a cookie costs nothing (no store call).
	if err := s.Load(); err != nil {
		return nil, err
	}
	if !s.IsNew() {
		var snap snapshot
		if ok, _ := s.Get(userKey, &snap); ok && snap.ID != "" && snap.ID == s.UserID() {
			u := snap.user()
			if !m.indexed {
				// Without a session index, changes cannot reach this
				// session: ask the source of truth on every request.
				fresh, err := m.users.UserByID(r.Context(), snap.ID)
				if err != nil && !errors.Is(err, account.ErrNotFound) {
					return nil, fmt.Errorf("%w: load user: %w", session.ErrStoreUnavailable, err)
				}
				if fresh == nil || fresh.Disabled || !fresh.PasswordChangedAt.Equal(snap.PwAt) {
					s.Destroy()
					return st, nil
				}
				u = snapshotOf(fresh).user()
			}
			st.user = u
			st.authAt = s.GetTime(authAtKey)
			st.method = BySession
			if st.authAt.IsZero() {
				st.method = ByRemember
			}
			return st, nil
		}
	}
	if m.cfg.Remember != nil && m.hasCookie(r, m.remember) {
		return m.resolveRemember(w, r)
	}
	return st, nil
}

func (m *Manager) resolveBearer(r *http.Request, secret string) (*state, error) {
	st := &state{}
	ctx, cancel := context.WithTimeout(r.Context(), m.cfg.StoreTimeout)
	tok, err := m.cfg.Tokens.Check(ctx, secret)
	cancel()
	if errors.Is(err, apitoken.ErrInvalid) {
		return st, nil // RequireLogin answers 401
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", session.ErrStoreUnavailable, err)
	}
	u, err := m.users.UserByID(r.Context(), tok.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: load user: %w", session.ErrStoreUnavailable, err)
	}
	if u.Disabled {
		return st, nil
	}
	st.user = snapshotOf(u).user()
	st.method = ByBearer
	st.token = tok
	return st, nil
}

// Authenticate checks a username and password. On success it returns the
// user, resets the account's failure count and, when the stored hash is
// weaker than today's parameters (or a legacy format), rehashes it. An
// unknown user costs the same hashing work as a wrong password, and a
// disabled account the same answer, ErrInvalidCredentials. Over the
// throttle's limit it returns the throttle's error (throttle.ErrThrottled)
// without checking the password.
func (m *Manager) Authenticate(r *http.Request, username, pw string) (*account.User, error) {
	ctx := r.Context()
	ip := m.ip(r)
	key := username // the throttle normalises account names (case, spaces)
	if t := m.cfg.Throttle; t != nil {
		if err := t.Check(ctx, key, ip); err != nil {
			if !errors.Is(err, throttle.ErrThrottled) {
				return nil, fmt.Errorf("%w: throttle: %w", session.ErrStoreUnavailable, err)
			}
			m.record(r, audit.Event{Name: audit.Lockout, Username: truncate(username), Reason: "throttled"})
			return nil, err
		}
	}
	u, err := m.users.UserByUsername(ctx, username)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return nil, fmt.Errorf("%w: load user: %w", session.ErrStoreUnavailable, err)
	}
	reason := ""
	if u == nil {
		err := m.cfg.Passwords.DummyVerify(ctx, pw)
		if errors.Is(err, password.ErrBusy) {
			return nil, err
		}
		reason = "unknown_user"
	} else {
		ok, err := m.cfg.Passwords.Verify(ctx, pw, u.PasswordHash)
		switch {
		case errors.Is(err, password.ErrBusy):
			return nil, err
		case errors.Is(err, password.ErrTooLong), errors.Is(err, password.ErrInvalidUTF8):
			reason = "unusable_password"
		case err != nil:
			m.log.Warn("login: stored password hash cannot be verified", "user_id", u.ID, "err", err)
			reason = "bad_hash"
		case !ok:
			reason = "wrong_password"
		case u.Disabled:
			reason = "disabled"
		}
	}
	if reason != "" {
		if t := m.cfg.Throttle; t != nil {
			if err := t.Fail(ctx, key, ip); err != nil {
				m.log.Warn("login: cannot record a failed login", "err", err)
			}
		}
		e := audit.Event{Name: audit.LoginFailure, Username: truncate(username), Reason: reason}
		if u != nil {
			e.UserID = u.ID
		}
		m.record(r, e)
		return nil, ErrInvalidCredentials
	}
	if t := m.cfg.Throttle; t != nil {
		if err := t.Succeed(ctx, key, ip); err != nil {
			m.log.Warn("login: cannot reset the failure count", "err", err)
		}
	}
	if m.cfg.Passwords.NeedsRehash(u.PasswordHash) {
		m.rehash(r, u, pw)
	}
	return u, nil
}

func (m *Manager) rehash(r *http.Request, u *account.User, pw string) {
	h, err := m.cfg.Passwords.Hash(r.Context(), pw)
	if err != nil {
		m.log.Warn("login: rehash skipped", "user_id", u.ID, "err", err)
		return
	}
	switch err := m.users.RehashPassword(r.Context(), u.ID, u.PasswordHash, h); {
	case err == nil:
		u.PasswordHash = h
		m.record(r, audit.Event{Name: audit.PasswordRehash, UserID: u.ID})
	case errors.Is(err, account.ErrConflict):
		// The password changed meanwhile; nothing to upgrade.
	default:
		m.log.Warn("login: rehash not saved", "user_id", u.ID, "err", err)
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// Login logs u in on this request's session: the session gets a new token
// (the old one dies at once), the user and the time of password entry are
// recorded, a fresh CSRF secret replaces the pre-session token, and, when
// remember is true, a remember-me cookie is issued. Call it after
// Authenticate. The response must not have been written yet.
func (m *Manager) Login(w http.ResponseWriter, r *http.Request, u *account.User, remember bool) error {
	if err := m.startSession(w, r, u, m.now()); err != nil {
		return err
	}
	if remember && m.cfg.Remember != nil {
		if err := m.issueRemember(w, r, u.ID); err != nil {
			return err
		}
	}
	m.record(r, audit.Event{Name: audit.LoginSuccess, UserID: u.ID, Session: session.ShortID(session.FromRequest(r).ID())})
	return nil
}

// startSession binds the request's session to u. authAt is the time the
// password was entered; zero for a session restored by remember-me.
func (m *Manager) startSession(w http.ResponseWriter, r *http.Request, u *account.User, authAt time.Time) error {
	s := session.FromRequest(r)
	if s == nil {
		return session.ErrNoSession
	}
	if err := s.SetUser(u.ID); err != nil {
		return err
	}
	if err := s.Put(userKey, snapshotOf(u)); err != nil {
		return err
	}
	if authAt.IsZero() {
		s.Delete(authAtKey)
	} else if err := s.Put(authAtKey, authAt); err != nil {
		return err
	}
	if m.cfg.CSRF != nil {
		m.cfg.CSRF.ClearCookie(w)
		if err := s.Put(csrfKey, csrf.NewSecret()); err != nil {
			return err
		}
	}
	// Close the race with a concurrent disable or password change: the
	// account is read again after the session exists, so a change that
	// slipped in between Authenticate and here is seen now.
	fresh, err := m.users.UserByID(r.Context(), u.ID)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return fmt.Errorf("%w: load user: %w", session.ErrStoreUnavailable, err)
	}
	if fresh == nil || fresh.Disabled || !fresh.PasswordChangedAt.Equal(u.PasswordChangedAt) {
		s.Destroy()
		return ErrInvalidCredentials
	}
	return nil
}

// Logout ends the request's session on the server, deletes its remember-me
// token, and clears both cookies.
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request) error {
	s := session.FromRequest(r)
	userID := s.UserID()
	short := session.ShortID(s.ID())
	if m.cfg.Remember != nil {
		if c, err := r.Cookie(m.remember); err == nil {
			if sel, _, ok := parseRemember(c.Value); ok {
				if err := m.cfg.Remember.DeleteRemember(r.Context(), sel); err != nil {
					return fmt.Errorf("%w: delete remember token: %w", session.ErrStoreUnavailable, err)
				}
			}
		}
		m.clearRemember(w)
	}
	if err := s.Destroy(); err != nil {
		return err
	}
	if userID != "" {
		m.record(r, audit.Event{Name: audit.Logout, UserID: userID, Session: short})
	}
	return nil
}

// wantsJSON reports whether the client expects JSON rather than a page.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	if r.Header.Get("Authorization") != "" {
		return true
	}
	ct := r.Header.Get("Content-Type")
	accept := r.Header.Get("Accept")
	return strings.Contains(ct, "json") || (strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html"))
}

// WantsJSON reports whether r comes from an API client (a path under
// /api/, a bearer token, a JSON body, or an Accept header that prefers
// JSON over HTML), which gets JSON errors instead of pages and redirects.
func WantsJSON(r *http.Request) bool { return wantsJSON(r) }

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"message":%q}`+"\n", code, msg)
}

// SafeNext returns next when it is a path on this site, else "". It
// refuses absolute URLs, scheme-relative ("//host") and backslash
// ("/\host") forms, control characters and anything a browser could
// resolve to another origin.
func SafeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return ""
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return next
}

// LoginURL returns the login page's URL with next set to the request's
// path (for GET and HEAD requests).
func (m *Manager) LoginURL(r *http.Request) string {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return m.cfg.LoginPath
	}
	next := r.URL.RequestURI()
	if SafeNext(next) == "" || next == "/" {
		return m.cfg.LoginPath
	}
	return m.cfg.LoginPath + "?next=" + url.QueryEscape(next)
}

// unauthorized answers a request that needs a user: 401 JSON with
// WWW-Authenticate for API clients, a 303 to the login page for browsers.
func (m *Manager) unauthorized(w http.ResponseWriter, r *http.Request, code, msg string) {
	if wantsJSON(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hallpass"`)
		writeJSONError(w, http.StatusUnauthorized, code, msg)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, m.LoginURL(r), http.StatusSeeOther)
}

// RequireLogin lets only requests with a logged-in user through.
func (m *Manager) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsAuthenticated(r.Context()) {
			m.unauthorized(w, r, "unauthenticated", "Please log in.")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// RequireRole lets only users with role through: others get 403 (through
// forbidden, or a plain 403 when it is nil), anonymous requests what
// RequireLogin gives them.
func (m *Manager) RequireRole(role string, forbidden http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !CurrentUser(r.Context()).HasRole(role) {
				switch {
				case forbidden != nil:
					forbidden.ServeHTTP(w, r)
				case wantsJSON(r):
					writeJSONError(w, http.StatusForbidden, "forbidden", "You do not have permission to do that.")
				default:
					http.Error(w, "You do not have permission to see this page.", http.StatusForbidden)
				}
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// IsFresh reports whether the request's user entered their password
// within d (a session restored by remember-me, or a bearer token, is never
// fresh).
func (m *Manager) IsFresh(r *http.Request, d time.Duration) bool {
	st := stateOf(r.Context())
	return st.user != nil && st.method == BySession && m.now().Sub(st.authAt) < d
}

// RequireFresh lets through only users who entered their password within
// d. Others go back to the login form (API clients get 401
// "fresh_login_required").
func (m *Manager) RequireFresh(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !m.IsFresh(r, d) {
				if !wantsJSON(r) {
					session.FromRequest(r).AddFlash("info", "Please enter your password again to continue.")
				}
				m.unauthorized(w, r, "fresh_login_required", "Please log in again with your password to do this.")
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}
