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
//
// # Your own users
//
// An app that keeps its own user table gives Config.Users an
// account.Source: two methods, UserByID (Flask-Login's user_loader) and
// UserByUsername (with the password hash, for Authenticate), and
// optionally RehashPassword (account.Rehasher). Sessions, remember-me
// tokens and API tokens still live in hallpass's stores, keyed by the
// user's ID as text, with no reference to any users table. What needs
// more of the Source (Register and SignUp need CreateUser, ChangePassword
// and SetPassword need SetPassword, SetDisabled, SetRoles, DeleteUser
// their namesakes, as account.Store declares them) returns an error
// wrapping account.ErrNotSupported when it lacks them.
//
// Since such an app changes its users without telling the Manager, the
// Manager reads the current user from the Source on every request that
// carries a logged-in session, when the Source is not a full
// account.Store: a user the Source no longer finds, or reports Disabled,
// or whose PasswordChangedAt moved, is logged out on that very request,
// and CurrentUser returns the User the Source returned (Extra included,
// PasswordHash cleared). The cost is one UserByID call per such request
// (a primary-key lookup; requests without a session cookie cost nothing).
// Only the ID, username, email, roles and password time are kept in the
// session, never Extra. An app that changes a password or bans a user in
// its own table can also end everything at once with RevokeUser.
//
// Most apps do not build a Manager by hand: package hallpass (the module's
// root) builds one with the session manager, CSRF protection and throttling
// wired in the right order, and wraps its methods.
package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/internal/outage"
	"github.com/hallpass/hallpass/internal/slots"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// Errors. Check them with errors.Is; each carries its autherr kind, a
// message fit to show a person and, where one exists, a precise machine
// code.
var (
	// ErrInvalidCredentials reports a failed login: wrong password,
	// unknown user and disabled account alike, so the answer reveals
	// nothing about which usernames exist. Kind autherr.Unauthenticated,
	// code "invalid_credentials".
	ErrInvalidCredentials error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "invalid_credentials",
		Message: "Invalid username or password.", Err: errors.New("login: invalid username or password")}

	// ErrUnauthenticated reports a request without a logged-in user.
	// Kind autherr.Unauthenticated.
	ErrUnauthenticated error = &autherr.Error{Kind: autherr.Unauthenticated,
		Message: "Please log in.", Err: errors.New("login: not logged in")}

	// ErrSessionEnded reports an unsafe request whose CSRF token belonged
	// to a session that has ended (expired, logged out, revoked), which
	// Manager.CSRF answers as RequireLogin would rather than as a forged
	// request: a script can tell "log in again" from a CSRF failure. Kind
	// autherr.Unauthenticated, code "session_ended".
	ErrSessionEnded error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "session_ended",
		Message: "Your session has ended. Please log in again.", Err: errors.New("login: the session of the page has ended")}

	// ErrForbidden reports a logged-in user without the required role.
	// Kind autherr.Forbidden.
	ErrForbidden error = &autherr.Error{Kind: autherr.Forbidden,
		Message: "You do not have permission to see this page.", Err: errors.New("login: forbidden")}

	// ErrNotFresh reports that the password was not entered recently
	// enough for the requested action. Kind autherr.Unauthenticated, code
	// "fresh_login_required".
	ErrNotFresh error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "fresh_login_required",
		Message: msgFresh, Err: errors.New("login: recent password entry required")}

	// ErrWrongPassword reports a wrong current password when changing it.
	// Kind autherr.Forbidden, code "wrong_password".
	ErrWrongPassword error = &autherr.Error{Kind: autherr.Forbidden, Code: "wrong_password",
		Message: "Your current password is not correct.", Err: errors.New("login: current password is wrong")}

	// ErrInsufficientScope reports a request authenticated by an API token
	// whose scopes do not cover it. Kind autherr.Forbidden, code
	// "insufficient_scope"; the error the Manager answers with names the
	// missing scope and the RFC 6750 challenge.
	ErrInsufficientScope error = &autherr.Error{Kind: autherr.Forbidden, Code: "insufficient_scope",
		Err: errors.New("login: the API token's scopes do not allow this request")}

	// ErrStoreUnavailable wraps every failure of a store the Manager
	// calls besides the session store, whose failures wrap
	// session.ErrStoreUnavailable: accounts, remember-me and API tokens,
	// throttle counters. Kind autherr.Unavailable.
	ErrStoreUnavailable error = autherr.New(autherr.Unavailable, "login: store unavailable")
)

// msgFresh asks for the password again.
const msgFresh = "Please enter your password again to continue."

// storeFailure wraps err, a failure of a store while doing what, as
// ErrStoreUnavailable, and logs it once per outage of the stores the
// Manager calls (accounts, remember-me, API tokens). The throttle's
// counter, often in another place (Redis), has an outage log of its own:
// see counted.
func (m *Manager) storeFailure(ctx context.Context, what string, err error) error {
	m.outage.Failed(ctx, what, err)
	return fmt.Errorf("%w: %s: %w", ErrStoreUnavailable, what, err)
}

// Hasher is what the Manager needs of package password: hashing,
// verification of any supported format (VerifyRehash also says when the
// stored hash should be replaced: weaker than today's parameters, a legacy
// format, or made from an unnormalized password), and a dummy verification
// that spends the work of a real one. *password.Hasher implements it.
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyRehash(ctx context.Context, password, encoded string) (ok, rehash bool, err error)
	DummyVerify(ctx context.Context, password string) error
}

// PasswordPolicy checks a new password. *password.Policy implements it.
type PasswordPolicy interface {
	Check(password, username string) error
}

// Throttle limits password guessing. *throttle.Limiter implements it.
type Throttle interface {
	// Reserve counts an attempt before its password is checked. It
	// returns an error wrapping throttle.ErrThrottled when a limit
	// refuses the attempt, another error when it cannot count, and
	// otherwise a reservation that the Manager settles (Fail, Succeed or
	// Cancel) once the password has been checked.
	Reserve(ctx context.Context, a throttle.Attempt) (*throttle.Reservation, error)

	// AllowRegistration counts a registration from client address ip
	// (SignUp) before its password is hashed, and returns an error
	// wrapping throttle.ErrThrottled when the address has made too
	// many, another error when it cannot count.
	AllowRegistration(ctx context.Context, ip string) error
}

// Config configures a Manager. Sessions, Users and Passwords are required;
// every other zero field is a documented default or turns a feature off.
type Config struct {
	Sessions *session.Manager // required
	// Users finds users: an account.Store (hallpass's own user table) or
	// an app's own account.Source (see the package documentation).
	// Required.
	Users     account.Source
	Passwords Hasher         // required
	Policy    PasswordPolicy // checks new passwords; nil accepts any

	// Remember keeps remember-me tokens; nil turns remember-me off.
	Remember account.RememberStore
	// RememberFor is the lifetime of a remember-me token. Default 30 days.
	RememberFor time.Duration
	// RememberCookie names the remember-me cookie. Default
	// "hallpass_remember", prefixed with "__Host-" when Secure. It must be
	// a valid cookie name (no spaces, =, ; or other separators), as
	// DeviceCookie; New says so otherwise.
	RememberCookie string

	// Tokens checks API bearer tokens; nil turns them off.
	Tokens *apitoken.Service

	// Throttle limits failed logins; nil turns throttling off.
	Throttle Throttle

	// DeviceCookie names the device cookie, set at each password login,
	// by which the throttle recognises the owner's usual browser and
	// never locks it out for others' failures (see Authenticate).
	// Default "hallpass_device", prefixed with "__Host-" when Secure.
	DeviceCookie string
	// DeviceFor is the lifetime of a device cookie. Default 365 days;
	// negative turns device cookies off.
	DeviceFor time.Duration

	// CSRF checks unsafe requests; nil leaves CSRF to the caller.
	CSRF *csrf.Protector

	// Audit records security events; nil discards them.
	Audit *audit.Logger

	// LoginPath is where RequireLogin sends browsers. Default "/login".
	LoginPath string

	// SendToLogin reports whether a request refused for want of a login
	// (or of a fresh one) comes from a browser, which is sent to
	// LoginPath with 303 See Other; other requests are answered by
	// ErrorHandler with ErrUnauthenticated or ErrNotFresh. Default: the
	// request does not ask for JSON (!autherr.WantsJSON).
	SendToLogin func(r *http.Request) bool

	// Secure marks the app as served over https (Secure, __Host- cookie).
	Secure bool

	// ClientIP returns the client address of a request. Default: the
	// session Manager's.
	ClientIP func(r *http.Request) string

	// ErrorHandler answers every request the Manager refuses or cannot
	// serve: no login (ErrUnauthenticated, ErrNotFresh, ErrSessionEnded) for a request
	// SendToLogin does not send to the login page, a missing role
	// (ErrForbidden), a token beyond its scopes (ErrInsufficientScope),
	// a store down (kind autherr.Unavailable). The Manager writes no
	// response itself. Default autherr.WriteHTTP.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives operational errors. Default slog.Default().
	Logger *slog.Logger

	// StoreTimeout is the deadline of each call the Manager makes to
	// Users, Remember and Tokens. A call that exceeds it fails like a store
	// that is down (an error wrapping ErrStoreUnavailable: 503).
	// Default DefaultStoreTimeout (3 seconds).
	StoreTimeout time.Duration

	// Now returns the current time. Default time.Now.
	Now func() time.Time

	// Hooks are told about authentication results and remember-me uses,
	// for metrics.
	Hooks Hooks

	// SecondFactor, when set, is asked at every Login: a user with a
	// second factor gets a pending login (ErrSecondFactorRequired) that
	// CompleteSecondFactor finishes, and remember-me restores only
	// tokens issued after the factor was enabled. Nil: passwords alone.
	SecondFactor SecondFactor
	// PendingFor is how long a pending login waits for its second
	// factor. Default DefaultPendingFor (5 minutes).
	PendingFor time.Duration
}

// Manager logs users in and out and resolves the current user.
type Manager struct {
	cfg        Config
	sessions   *session.Manager
	users      deadlineUsers
	indexed    bool // the session store can list a user's sessions
	reload     bool // read the current user from Users on every request
	log        *slog.Logger
	remember   string
	devKeys    [][]byte        // device cookie subkeys, first signs; nil when off
	deleter    account.Deleter // cfg.Users as given, when it can delete users
	outage     *outage.Log     // failures of the stores besides the session store and the throttle's
	counter    *outage.Log     // failures of the throttle's counter (Redis, when shared)
	wiring     sync.Once       // the missing middleware is logged once
	noRemember sync.Once       // a remember-me asked for without Config.Remember is logged once
	snaps      snapshotCache   // decoded user snapshots, by their encoding
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
	if cfg.DeviceCookie == "" {
		cfg.DeviceCookie = "hallpass_device"
	}
	if cfg.Secure && !strings.HasPrefix(cfg.DeviceCookie, "__Host-") {
		cfg.DeviceCookie = "__Host-" + cfg.DeviceCookie
	}
	for _, name := range []string{cfg.RememberCookie, cfg.DeviceCookie} {
		if (&http.Cookie{Name: name}).Valid() != nil {
			// net/http would drop every cookie of that name without a word.
			return nil, fmt.Errorf("login: cookie name %q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", name)
		}
	}
	if cfg.DeviceFor == 0 {
		cfg.DeviceFor = 365 * 24 * time.Hour
	}
	var devKeys [][]byte
	if cfg.DeviceFor > 0 {
		devKeys = deviceKeys(cfg.Sessions.Config().Keys)
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
		cfg.ErrorHandler = autherr.WriteHTTP
	}
	if cfg.SendToLogin == nil {
		cfg.SendToLogin = func(r *http.Request) bool { return !autherr.WantsJSON(r) }
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
	if cfg.PendingFor <= 0 {
		cfg.PendingFor = DefaultPendingFor
	}
	// Optional capabilities are looked up before the deadline wrapper,
	// which has only account.Store's methods, hides them.
	deleter, _ := cfg.Users.(account.Deleter)
	// An app's own Source changes users without telling the Manager,
	// which then cannot rewrite their sessions: it asks the Source.
	_, full := cfg.Users.(account.Store)
	ol := &outage.Log{Name: "login: account store", Logger: cfg.Logger, Now: cfg.Now}
	users := deadlineUsers{cfg.Users, cfg.StoreTimeout, storeHealth{ol}}
	cfg.Users = users
	if cfg.Remember != nil {
		cfg.Remember = deadlineRemember{cfg.Remember, cfg.StoreTimeout, storeHealth{ol}}
	}
	cfg.Passwords = &busyHasher{Hasher: cfg.Passwords, log: cfg.Logger, now: cfg.Now}
	_, indexed := cfg.Sessions.Store().(session.UserIndex)
	return &Manager{cfg: cfg, sessions: cfg.Sessions, users: users, indexed: indexed, reload: !indexed || !full,
		log: cfg.Logger, remember: cfg.RememberCookie, devKeys: devKeys, deleter: deleter, outage: ol,
		counter: &outage.Log{Name: "login: throttle counter", Logger: cfg.Logger, Now: cfg.Now}}, nil
}

// Config returns the Manager's configuration with its defaults filled in,
// so that code built on the Manager (package web) takes the session
// manager, account store, token service and client-address function from
// it rather than being given them a second time. Its Users is always an
// account.Store that calls the configured Source with Config.StoreTimeout;
// a method the Source lacks returns an error wrapping
// account.ErrNotSupported.
func (m *Manager) Config() Config { return m.cfg }

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
	// Renew asks the session's next request to renew its token: set when
	// a privilege change rewrote the snapshot from outside the session.
	Renew bool `json:"n,omitempty"`
}

func snapshotOf(u *account.User) snapshot {
	return snapshot{ID: u.ID, Username: u.Username, Email: u.Email, Roles: u.Roles, PwAt: u.PasswordChangedAt}
}

// sameUser reports whether a and b copy the same state of one user.
func (s snapshot) sameUser(o snapshot) bool {
	return s.ID == o.ID && s.Username == o.Username && s.Email == o.Email &&
		slices.Equal(s.Roles, o.Roles) && s.PwAt.Equal(o.PwAt)
}

// user returns the user s copies; its Roles are its own (a snapshot may
// be shared through the snapshotCache).
func (s snapshot) user() account.User {
	return account.User{ID: s.ID, Username: s.Username, Email: s.Email, Roles: slices.Clone(s.Roles), PasswordChangedAt: s.PwAt}
}

// snapshotCache keeps decoded user snapshots by their exact encoding, so
// a request whose session holds the same snapshot as an earlier request
// costs a hash and a comparison instead of a JSON decode (the largest cost
// of a logged-in request otherwise). Sessions of one user share an
// encoding until the user changes, and any change is a new encoding, so an
// entry is never stale. It is a slots.Table: each slot holds the last
// encoding decoded into it, without a lock, and it never grows. The zero
// value is ready to use.
type snapshotCache struct {
	slots.Table[cachedSnapshot]
}

// cachedSnapshot is one decoded snapshot with its encoding.
type cachedSnapshot struct {
	enc  string
	snap snapshot
}

// decode sets *dst to the snapshot encoded in b.
func (c *snapshotCache) decode(b []byte, dst *snapshot) error {
	slot := c.Slot(b)
	if e := slot.Load(); e != nil && e.enc == string(b) {
		*dst = e.snap
		return nil
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("login: decode the user snapshot: %w", err)
	}
	slot.Store(&cachedSnapshot{enc: string(b), snap: snap})
	*dst = snap
	return nil
}

// public returns a copy of u without its password hash, for CurrentUser;
// the copy keeps u.Extra. The Source's own value is left as it was.
func public(u *account.User) *account.User {
	c := *u
	c.PasswordHash = ""
	return &c
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
//
// How the request was authenticated follows from what is set: nothing
// (anonymous), user and token (bearer), user alone (remember-me), user and
// authRaw (a session, if authRaw decodes). The state is allocated on every
// request: it keeps no field it can do without.
type state struct {
	user     *account.User
	snapUser account.User      // what user points to when it comes from the session's snapshot
	token    *account.APIToken // the bearer token that authenticated the request

	// authRaw is the encoded time of the session's password login, decoded
	// by how on first need (most requests never ask) into authAt: a zero
	// time when it does not decode. Until then, kind says BySession for a
	// session that holds one: how tells.
	authRaw []byte
	authAt  atomic.Pointer[time.Time]
	second  bool // the session's login passed a second factor
}

// kind returns how the request was authenticated, as far as it can tell
// without decoding authRaw.
func (st *state) kind() Method {
	switch {
	case st.user == nil:
		return Anonymous
	case st.token != nil:
		return ByBearer
	case st.authRaw != nil:
		return BySession
	}
	return ByRemember
}

// how returns how the request was authenticated and, for BySession, when
// the password was entered.
func (st *state) how() (Method, time.Time) {
	if st.user == nil || st.authRaw == nil {
		return st.kind(), time.Time{}
	}
	at := st.authAt.Load()
	if at == nil {
		// Concurrent askers may each decode: they store the same time.
		at = new(time.Time)
		if json.Unmarshal(st.authRaw, at) != nil {
			*at = time.Time{}
		}
		st.authAt.Store(at)
	}
	if at.IsZero() {
		// A session without a valid login time was restored by
		// remember-me (whose login stores none).
		return ByRemember, time.Time{}
	}
	return BySession, *at
}

type ctxKey struct{}

func stateOf(ctx context.Context) *state {
	st, _ := session.FromContext(ctx).RequestValue(ctxKey{}).(*state)
	if st == nil {
		return &state{}
	}
	return st
}

// CurrentUser returns the logged-in user of the request whose context is
// ctx, or nil. The user carries no password hash. When the Manager read
// the user from Config.Users on this request (always for an app's own
// Source, see the package documentation) it is a copy of what the Source
// returned, Extra included; otherwise it is the copy kept in the session,
// with ID, Username, Email, Roles and PasswordChangedAt only.
func CurrentUser(ctx context.Context) *account.User { return stateOf(ctx).user }

// IsAuthenticated reports whether the request has a logged-in user.
func IsAuthenticated(ctx context.Context) bool { return stateOf(ctx).user != nil }

// HowAuthenticated returns how the request's user was authenticated.
func HowAuthenticated(ctx context.Context) Method {
	m, _ := stateOf(ctx).how()
	return m
}

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
//
// A request authenticated by an API token must be within the token's
// scopes (MethodScope: read for safe methods, write for the others), on
// every route; others get 403 "insufficient_scope". Routes that need more
// add RequireScope.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.needSession(w, r, "login.Manager.Middleware") {
			return
		}
		st, err := m.resolve(w, r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		if need := MethodScope(r.Method); st.token != nil && !st.token.HasScope(need) {
			m.fail(w, r, insufficientScope(need))
			return
		}
		// Kept with the request's session rather than in a context of its
		// own: no copy of the request.
		session.FromRequest(r).SetRequestValue(ctxKey{}, st)
		next.ServeHTTP(w, r)
	})
}

// MethodScope returns the API token scope a request with method needs:
// apitoken.ScopeRead for GET, HEAD, OPTIONS and TRACE, apitoken.ScopeWrite
// for every other method.
func MethodScope(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return apitoken.ScopeRead
	}
	return apitoken.ScopeWrite
}

// HasScope reports whether the request whose context is ctx may do what
// scope allows: always for a session (password or remember-me), only when
// the token carries scope for an API token, never for an anonymous
// request.
func HasScope(ctx context.Context, scope string) bool {
	st := stateOf(ctx)
	switch st.kind() {
	case BySession, ByRemember:
		return true
	case ByBearer:
		return st.token.HasScope(scope)
	}
	return false
}

// RequireScope lets through requests whose API token carries scope, and
// every request not authenticated by a token (sessions are not limited by
// scopes; combine it with RequireLogin or RequireRole for those). Use it
// with apitoken.ScopeAdmin on administrators' routes. A token without the
// scope gets 403 "insufficient_scope" naming it.
func (m *Manager) RequireScope(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := m.needState(w, r, "RequireScope")
			if st == nil {
				return
			}
			if st.token != nil && !st.token.HasScope(scope) {
				m.fail(w, r, insufficientScope(scope))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// insufficientScope returns the error for a token request beyond the
// token's scopes, with the challenge RFC 6750 section 3.1 describes.
func insufficientScope(scope string) error {
	return &autherr.Error{Kind: autherr.Forbidden, Code: "insufficient_scope",
		Message:   fmt.Sprintf("This API token does not allow this request: it needs the %q scope.", scope),
		Challenge: fmt.Sprintf(`Bearer realm="hallpass", error="insufficient_scope", scope=%q`, scope),
		Err:       ErrInsufficientScope}
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
		raw, ok := s.Raw(userKey)
		if ok {
			ok = m.snaps.decode(raw, &snap) == nil
		}
		if ok && snap.ID != "" && snap.ID == s.UserID() {
			var user *account.User
			if m.reload {
				// Without a session index, or with an app's own users,
				// changes cannot reach this session: ask the source of
				// truth on every request.
				fresh, err := m.users.UserByID(r.Context(), snap.ID)
				if err != nil && !errors.Is(err, account.ErrNotFound) {
					return nil, m.storeFailure(r.Context(), "load user", err)
				}
				if fresh == nil || fresh.Disabled || !fresh.PasswordChangedAt.Equal(snap.PwAt) {
					s.Destroy()
					return st, nil
				}
				if next := snapshotOf(fresh); !next.sameUser(snap) {
					next.Renew = !slices.Equal(next.Roles, snap.Roles)
					snap = next
					if err := s.Put(userKey, snap); err != nil {
						return nil, err
					}
				}
				user = public(fresh)
			}
			if snap.Renew {
				// The user's roles changed since this token was issued:
				// it dies now and the browser gets a new one with this
				// response, as at login.
				snap.Renew = false
				if err := s.Put(userKey, snap); err != nil {
					return nil, err
				}
				if err := s.Renew(); err != nil {
					return nil, err
				}
			}
			st.user = user
			if user == nil {
				st.snapUser = snap.user() // in the state's own allocation
				st.user = &st.snapUser
			}
			if raw, ok := s.Raw(authAtKey); ok {
				st.authRaw = raw // BySession if it decodes: see how
			}
			_, st.second = s.Raw(secondKey) // present: passed (no decode on every request)
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
		return nil, m.storeFailure(r.Context(), "check api token", err) // ctx is cancelled: the outage log would take it for a client gone
	}
	u, err := m.users.UserByID(r.Context(), tok.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return nil, m.storeFailure(r.Context(), "load user", err)
	}
	if u.Disabled {
		return st, nil
	}
	st.user = public(u)
	st.token = tok
	return st, nil
}

// Authenticate checks a username and password. On success it returns the
// user, resets the account's failure count and, when the stored hash is
// weaker than today's parameters, a legacy format, or matched only the
// password's unnormalized bytes, rehashes it (as NFC argon2id). An
// unknown user costs the same hashing work as a wrong password, and a
// disabled account the same answer, ErrInvalidCredentials. The attempt is
// counted by the throttle before the password is checked, so parallel
// guesses get no more checks than the limit; over the limit it returns the
// throttle's error (throttle.ErrThrottled) without checking the password.
//
// A browser holding a device cookie for the user (set by Login, kept at
// Logout) is judged by its own failures only, so others' failures never
// lock the owner out of their usual browser; every other client faces the
// account-wide limit.
func (m *Manager) Authenticate(r *http.Request, username, pw string) (_ *account.User, err error) {
	if f := m.cfg.Hooks.Authenticated; f != nil {
		defer func() { f(r.Context(), resultOf(err)) }()
	}
	ctx := r.Context()
	// The throttle normalises account names (case, spaces) itself.
	a := throttle.Attempt{Account: username, IP: m.ip(r)}
	var u *account.User
	device := m.deviceCookie(r)
	if device != nil {
		// Only a browser with a device cookie costs a user lookup
		// before the throttle: the cookie is signed for a user ID.
		if u, err = m.userByName(ctx, username); err != nil {
			return nil, err
		}
		if u != nil {
			a.Device = m.knownDevice(device, u.ID)
		}
	}
	res, err := m.reserve(r, a)
	if errors.Is(err, throttle.ErrThrottled) {
		m.record(r, audit.Event{Name: audit.Lockout, Username: truncate(username), Reason: "throttled"})
	}
	if err != nil {
		return nil, err
	}
	if device == nil {
		if u, err = m.userByName(ctx, username); err != nil {
			res.cancel(ctx)
			return nil, err
		}
	}
	reason, rehash := "", false
	if u == nil || u.PasswordHash == "" {
		// An account without a password (signed up through an OpenID
		// Connect provider) is refused as an unknown user is, at the
		// same cost.
		err := m.cfg.Passwords.DummyVerify(ctx, pw)
		if errors.Is(err, password.ErrBusy) {
			res.cancel(ctx)
			return nil, err
		}
		reason = "unknown_user"
		if u != nil {
			reason = "no_password"
		}
	} else {
		var ok bool
		ok, rehash, err = m.cfg.Passwords.VerifyRehash(ctx, pw, u.PasswordHash)
		switch {
		case errors.Is(err, password.ErrBusy):
			res.cancel(ctx)
			return nil, err
		case errors.Is(err, password.ErrTooLong), errors.Is(err, password.ErrInvalidUTF8):
			reason = "unusable_password"
		case err != nil:
			m.log.WarnContext(ctx, "login: stored password hash cannot be verified", "user_id", u.ID, "err", err)
			reason = "bad_hash"
		case !ok:
			reason = "wrong_password"
		case u.Disabled:
			reason = "disabled"
		}
	}
	if reason != "" {
		res.fail(ctx)
		e := audit.Event{Name: audit.LoginFailure, Username: truncate(username), Reason: reason}
		if u != nil {
			e.UserID = u.ID
		}
		m.record(r, e)
		return nil, ErrInvalidCredentials
	}
	res.succeed(ctx)
	if rehash {
		m.rehash(r, u, pw)
	}
	return u, nil
}

// userByName returns the user called username, nil when there is none,
// or an error wrapping ErrStoreUnavailable.
func (m *Manager) userByName(ctx context.Context, username string) (*account.User, error) {
	u, err := m.users.UserByUsername(ctx, username)
	if errors.Is(err, account.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, m.storeFailure(ctx, "load user", err)
	}
	return u, nil
}

func (m *Manager) rehash(r *http.Request, u *account.User, pw string) {
	if _, ok := m.users.s.(account.Rehasher); !ok {
		return // no hashing work for nothing
	}
	h, err := m.cfg.Passwords.Hash(r.Context(), pw)
	if err != nil {
		m.log.WarnContext(r.Context(), "login: rehash skipped", "user_id", u.ID, "err", err)
		return
	}
	switch err := m.users.RehashPassword(r.Context(), u.ID, u.PasswordHash, h); {
	case err == nil:
		u.PasswordHash = h
		m.record(r, audit.Event{Name: audit.PasswordRehash, UserID: u.ID})
	case errors.Is(err, account.ErrConflict), errors.Is(err, account.ErrNotSupported):
		// The password changed meanwhile, or the app's own Source keeps
		// its hashes as they are: nothing to upgrade.
	default:
		m.log.WarnContext(r.Context(), "login: rehash not saved", "user_id", u.ID, "err", err)
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
// remember is true, a remember-me cookie is issued. A device cookie marks
// the browser as one the user logs in from (see Authenticate). Call it
// after Authenticate. The session's copy of the user (roles included)
// comes from a read of the account made after the password check, not
// from u, and u is updated to match; a disabled account or a password
// changed since Authenticate read u fails with ErrInvalidCredentials. The
// response must not have been written yet.
//
// Login is the one step every way of signing in goes through: for a user
// with a second factor (Config.SecondFactor) it logs no one in, but keeps
// a pending login in the session, under a new token, and returns
// ErrSecondFactorRequired; CompleteSecondFactor finishes it.
func (m *Manager) Login(w http.ResponseWriter, r *http.Request, u *account.User, remember bool) error {
	at, err := m.enrolledAt(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if !at.IsZero() {
		if err := m.startPending(r, u, remember); err != nil {
			return err
		}
		return ErrSecondFactorRequired
	}
	return m.finishLogin(w, r, u, remember, false)
}

// finishLogin logs u in; second says the login passed a second factor.
func (m *Manager) finishLogin(w http.ResponseWriter, r *http.Request, u *account.User, remember, second bool) error {
	fresh, err := m.startSession(w, r, u, m.now(), second)
	if err != nil {
		return err
	}
	u.Username, u.Email, u.Roles = fresh.Username, fresh.Email, fresh.Roles
	m.issueDevice(w, u.ID)
	switch {
	case remember && m.cfg.Remember != nil:
		if err := m.issueRemember(w, r, u.ID); err != nil {
			return err
		}
	case remember:
		m.noRemember.Do(func() {
			m.log.WarnContext(r.Context(), "login: remember-me was asked for, but it is off: Config.Remember is nil, so no remember-me cookie is set",
				"fix", "set login.Config.Remember (hallpass.Config.Remember when Users keeps no remember-me tokens), or stop offering \"remember me\"")
		})
	}
	m.record(r, audit.Event{Name: audit.LoginSuccess, UserID: u.ID, Session: session.ShortID(session.FromRequest(r).ID())})
	return nil
}

// startSession binds the request's session to u and returns the user as
// stored in it. authAt is the time the password was entered; zero for a
// session restored by remember-me.
//
// The user is read again here, after the (slow) password check, and once
// more after the session exists in the store: a change made before that
// last read is in the snapshot, and a change made after it finds the
// session when it rewrites the user's sessions (SetRoles, SetDisabled). A
// disabled account, or a password changed since u was read, ends the
// session with ErrInvalidCredentials.
func (m *Manager) startSession(w http.ResponseWriter, r *http.Request, u *account.User, authAt time.Time, second bool) (*account.User, error) {
	s := session.FromRequest(r)
	if s == nil {
		m.miswired(r.Context(), "Login runs outside session.Manager.Middleware")
		return nil, session.ErrNoSession
	}
	fresh, err := m.stillValid(r.Context(), u)
	if err != nil || fresh == nil {
		s.Destroy()
		return nil, err
	}
	// A second factor passed, or pending, for an earlier login of this
	// session is not this login's; this login's is stored with the
	// session, in its first write.
	s.Delete(pendingKey)
	if second {
		if err := s.Put(secondKey, true); err != nil {
			return nil, err
		}
	} else {
		s.Delete(secondKey)
	}
	if err := s.Put(userKey, snapshotOf(fresh)); err != nil {
		return nil, err
	}
	if authAt.IsZero() {
		s.Delete(authAtKey)
	} else if err := s.Put(authAtKey, authAt); err != nil {
		return nil, err
	}
	if m.cfg.CSRF != nil {
		m.cfg.CSRF.ClearCookie(w)
		if err := s.Put(csrfKey, csrf.NewSecret()); err != nil {
			return nil, err
		}
	}
	// SetUser stores the session with the values above at once, so a
	// concurrent change that lists the user's sessions from now on sees it.
	if err := s.SetUser(u.ID); err != nil {
		return nil, err
	}
	for range 3 {
		again, err := m.stillValid(r.Context(), u)
		if err != nil || again == nil {
			s.Destroy()
			return nil, err
		}
		if snapshotOf(again).sameUser(snapshotOf(fresh)) {
			return fresh, nil
		}
		// Changed meanwhile: store the new copy under a new token, then
		// read once more, as a change may have missed this session again.
		fresh = again
		if err := s.Put(userKey, snapshotOf(fresh)); err != nil {
			return nil, err
		}
		if err := s.Renew(); err != nil {
			return nil, err
		}
	}
	s.Destroy()
	return nil, fmt.Errorf("login: %w: the account keeps changing", account.ErrConflict)
}

// stillValid reads u's account again and returns it, or nil with
// ErrInvalidCredentials when it is gone, disabled, or its password changed
// since u was read.
func (m *Manager) stillValid(ctx context.Context, u *account.User) (*account.User, error) {
	fresh, err := m.users.UserByID(ctx, u.ID)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return nil, m.storeFailure(ctx, "load user", err)
	}
	if fresh == nil || fresh.Disabled || !fresh.PasswordChangedAt.Equal(u.PasswordChangedAt) {
		return nil, ErrInvalidCredentials
	}
	return public(fresh), nil
}

// Logout ends the request's session on the server, deletes its remember-me
// token, and clears both cookies.
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request) error {
	s := session.FromRequest(r)
	if s == nil {
		m.miswired(r.Context(), "Logout runs outside session.Manager.Middleware")
		return session.ErrNoSession
	}
	userID := s.UserID()
	short := session.ShortID(s.ID())
	if m.cfg.Remember != nil {
		if c, err := r.Cookie(m.remember); err == nil {
			if sel, _, ok := parseRemember(c.Value); ok {
				if err := m.cfg.Remember.DeleteRemember(r.Context(), sel); err != nil {
					return m.storeFailure(r.Context(), "delete remember token", err)
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

// unauthorized answers a request that needs a user (err says which): a
// 303 to the login page for browsers (Config.SendToLogin), err through
// Config.ErrorHandler for others.
func (m *Manager) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	if !m.cfg.SendToLogin(r) {
		m.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, m.LoginURL(r), http.StatusSeeOther)
}

// RequireLogin lets only requests with a logged-in user through.
func (m *Manager) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := m.needState(w, r, "RequireLogin")
		if st == nil {
			return
		}
		if st.user == nil {
			m.unauthorized(w, r, ErrUnauthenticated)
			return
		}
		if h := w.Header(); !slices.Equal(h["Cache-Control"], noStore) {
			h["Cache-Control"] = noStore // shared, and full: an append copies it
		}
		next.ServeHTTP(w, r)
	})
}

// noStore is the Cache-Control header of pages for a logged-in user.
var noStore = []string{"no-store"}

// RequireRole lets only users with role through: others get 403 (through
// forbidden, or Config.ErrorHandler with ErrForbidden when it is nil),
// anonymous requests what RequireLogin gives them.
func (m *Manager) RequireRole(role string, forbidden http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !CurrentUser(r.Context()).HasRole(role) {
				if forbidden != nil {
					forbidden.ServeHTTP(w, r)
				} else {
					m.fail(w, r, ErrForbidden)
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
	method, authAt := st.how()
	return st.user != nil && method == BySession && m.now().Sub(authAt) < d
}

// RequireFresh lets through only users who entered their password within
// d. Others go back to the login form with a flash asking for the
// password (Config.SendToLogin), or get ErrNotFresh (401
// "fresh_login_required") through Config.ErrorHandler.
func (m *Manager) RequireFresh(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !m.IsFresh(r, d) {
				if m.cfg.SendToLogin(r) {
					session.FromRequest(r).AddFlash("info", msgFresh)
				}
				m.unauthorized(w, r, ErrNotFresh)
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}
