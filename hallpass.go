package hallpass

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/twofa"
)

// Config configures an Auth. Keys, Sessions, Users and BaseURL are
// required; every other zero field is a safe default, documented on the
// field. Nothing that protects users is off unless a field says so in its
// name.
type Config struct {
	// Keys are the app's secret keys, each at least 32 bytes (KeyFile
	// makes and keeps one). The first signs cookies; all of them verify,
	// so a key is rotated by putting a new one first. Required.
	Keys [][]byte

	// Sessions keeps the sessions: sqlitestore, redisstore, pgstore,
	// memcachestore or memstore. Required.
	Sessions session.Store

	// Users finds the user accounts: an account.Store (hallpass's own
	// users table, as sqlitestore, pgstore and memstore keep it) or the
	// app's own account.Source (UserByID and UserByUsername over its own
	// users table; see package login, "Your own users"). Required.
	Users account.Source

	// BaseURL is the app's public URL, such as "https://notes.example.com"
	// or, in development, "http://localhost:8080". It is the one notion of
	// "served over https": with https, the session, remember-me, device
	// and CSRF cookies are all Secure and named with the __Host- prefix;
	// with http they are neither, so plain http on localhost works with no
	// other setting. Its origin is also trusted by the CSRF origin check,
	// for proxies that rewrite the Host header. Required.
	BaseURL string

	// Remember keeps remember-me tokens. Default: Users, when it keeps
	// them too (the sqlitestore, pgstore and memstore account stores do);
	// otherwise remember-me is off and Login ignores its remember argument.
	Remember account.RememberStore

	// APITokens keeps API bearer tokens ("hp_..."); nil turns bearer
	// authentication off. See package apitoken.
	APITokens account.TokenStore

	// Passwords hashes and verifies passwords. Default a *password.Hasher
	// with its defaults (argon2id, OWASP's parameters).
	Passwords login.Hasher

	// Policy checks new passwords (SignUp, Register). Default
	// password.Policy{}: 8 to 128 characters, common passwords refused.
	Policy login.PasswordPolicy

	// Counter keeps the login throttle's counts. Default a
	// throttle.MemoryCounter, which counts in this process only; give a
	// shared one (redisstore.Counter) when several processes serve the
	// app.
	Counter throttle.Counter

	// Throttle sets the throttle's limits; the zero value is its
	// defaults (10 failures per account, 100 per address in 15 minutes,
	// growing delays; 10 sign-ups an hour per address).
	Throttle throttle.Config

	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// when finding a client's address. Default none: the connection's
	// address.
	TrustedProxies []netip.Prefix

	// TrustedOrigins are other origins ("https://admin.example.com")
	// whose cross-origin form posts the CSRF check allows, besides
	// BaseURL's.
	TrustedOrigins []string

	// DangerouslyDisableCSRF turns the CSRF check off: any site can then
	// make a logged-in visitor's browser post forms to the app. Only for
	// an app whose every unsafe request is checked some other way. New
	// logs a warning when it is set.
	DangerouslyDisableCSRF bool

	// LoginPath is where RequireLogin sends browsers. Default "/login".
	LoginPath string

	// IdleTimeout ends sessions unused for this long (default 30
	// minutes); AbsoluteTimeout ends them this long after login (default
	// 12 hours); RememberFor is the remember-me lifetime (default 30
	// days).
	IdleTimeout, AbsoluteTimeout, RememberFor time.Duration

	// StoreTimeout is the deadline of each store call; past it the
	// request gets 503. Default 3 seconds.
	StoreTimeout time.Duration

	// ErrorHandler answers every request the middleware refuses: 403 for
	// CSRF, 401 or 403 from RequireLogin and RequireRole for clients that
	// are not sent to the login page, 503 for a store that is down, 500
	// for a handler outside Handler. Default autherr.WriteHTTP (text or
	// JSON by the request's Accept header).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives operational errors and the audit events (logins,
	// logouts, lockouts). Default slog.Default().
	Logger *slog.Logger

	// Now returns the current time. Default time.Now; tests inject a
	// clock.
	Now func() time.Time

	// TwoFA keeps second factors (TOTP with recovery codes): sqlitestore's
	// DB.TwoFA, pgstore's or memstore.NewTwoFAStore; user IDs are any
	// text, so an app's own users table works too. With it, Login of a
	// user who enrolled answers login.ErrSecondFactorRequired and keeps a
	// pending login that CompleteSecondFactor finishes. The secrets are
	// sealed with a key derived from Keys. Nil: passwords alone.
	TwoFA twofa.Store
	// TwoFAIssuer names the app in authenticator apps. Default BaseURL's
	// host name.
	TwoFAIssuer string

	// Passkeys keeps WebAuthn credentials (sqlitestore's DB.Passkeys,
	// pgstore's, memstore.NewPasskeyStore); the relying party is
	// BaseURL's host, which must then be a name, not an IP address. With
	// it, a user's passkey is a second factor too (see Auth.Passkeys and
	// login.Manager.CompleteWith), and a passkey sign-in logs in with
	// login.Manager.LoginVerified. Nil: no passkeys.
	Passkeys passkey.Store
}

// Auth is an app's authentication: sessions, the login manager, CSRF
// protection and login throttling, built by New and installed on a mux by
// Handler. It is safe for concurrent use.
type Auth struct {
	sessions  *session.Manager
	login     *login.Manager
	protector *csrf.Protector // nil only with DangerouslyDisableCSRF
	limiter   *throttle.Limiter
	secure    bool
	clientIP  func(*http.Request) string
	errorH    func(http.ResponseWriter, *http.Request, error)
	log       *slog.Logger
	handler   func(http.Handler) http.Handler
	miswired  sync.Once
	twofa     *twofa.Service   // nil without Config.TwoFA
	passkeys  *passkey.Service // nil without Config.Passkeys
}

// ErrNoMiddleware is returned (and answered with 500) by the methods of an
// Auth used on a request that did not pass through Auth.Handler: the mux
// is not wrapped, or the handler is mounted outside it. Its kind is
// autherr.Internal; the log says the fix once.
var ErrNoMiddleware error = &autherr.Error{Kind: autherr.Internal, Code: "middleware_missing",
	Message: "The server is misconfigured: hallpass's middleware is missing (wrap the mux with auth.Handler).",
	Err:     errors.New("hallpass: the request did not pass through Auth.Handler")}

// New builds an Auth from cfg, or returns an error naming the setting
// that is wrong.
func New(cfg Config) (*Auth, error) {
	if len(cfg.Keys) == 0 || cfg.Sessions == nil || cfg.Users == nil {
		return nil, errors.New("hallpass: Config.Keys, Sessions and Users are required")
	}
	secure, origin, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Passwords == nil {
		cfg.Passwords = &password.Hasher{}
	}
	if cfg.Policy == nil {
		cfg.Policy = password.Policy{}
	}
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = autherr.WriteHTTP
	}
	if cfg.Remember == nil {
		cfg.Remember, _ = cfg.Users.(account.RememberStore)
	}
	if cfg.Throttle.Now == nil {
		cfg.Throttle.Now = cfg.Now
	}
	if cfg.Throttle.StoreTimeout == 0 {
		cfg.Throttle.StoreTimeout = cfg.StoreTimeout
	}
	log := cfg.Logger
	if !secure && !isLoopback(cfg.BaseURL) {
		log.Warn("hallpass: BaseURL is plain http on a public host, so cookies are sent without the Secure attribute; serve the app over https",
			"base_url", cfg.BaseURL)
	}
	trusted := cfg.TrustedProxies
	clientIP := func(r *http.Request) string { return throttle.ClientIP(r, trusted) }

	sessions, err := session.New(session.Config{
		Store:           cfg.Sessions,
		Keys:            cfg.Keys,
		IdleTimeout:     cfg.IdleTimeout,
		AbsoluteTimeout: cfg.AbsoluteTimeout,
		Secure:          secure,
		Logger:          log,
		ErrorHandler:    cfg.ErrorHandler,
		ClientIP:        clientIP,
		StoreTimeout:    cfg.StoreTimeout,
		Now:             cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("hallpass: %w", err)
	}
	var protector *csrf.Protector
	if cfg.DangerouslyDisableCSRF {
		log.Warn("hallpass: CSRF protection is OFF (Config.DangerouslyDisableCSRF): any site can post forms as your logged-in users")
	} else {
		protector, err = csrf.New(csrf.Config{
			Keys:           cfg.Keys,
			Insecure:       !secure,
			TrustedOrigins: append([]string{origin}, cfg.TrustedOrigins...),
			ErrorHandler:   cfg.ErrorHandler,
		})
		if err != nil {
			return nil, fmt.Errorf("hallpass: %w", err)
		}
	}
	auditLog := audit.New(log)
	var tokens *apitoken.Service
	if cfg.APITokens != nil {
		tokens = &apitoken.Service{Store: cfg.APITokens, Audit: auditLog, Now: cfg.Now, StoreTimeout: cfg.StoreTimeout, Logger: cfg.Logger}
	}
	limiter := throttle.New(cfg.Counter, cfg.Throttle)
	lc := login.Config{
		Sessions:     sessions,
		Users:        cfg.Users,
		Passwords:    cfg.Passwords,
		Policy:       cfg.Policy,
		Remember:     cfg.Remember,
		RememberFor:  cfg.RememberFor,
		Tokens:       tokens,
		Throttle:     limiter,
		CSRF:         protector,
		Audit:        auditLog,
		LoginPath:    cfg.LoginPath,
		Secure:       secure,
		ClientIP:     clientIP,
		ErrorHandler: cfg.ErrorHandler,
		Logger:       log,
		StoreTimeout: cfg.StoreTimeout,
		Now:          cfg.Now,
	}
	var tf *twofa.Service
	if cfg.TwoFA != nil {
		issuer := cfg.TwoFAIssuer
		if issuer == "" {
			u, _ := url.Parse(cfg.BaseURL)
			issuer = u.Hostname()
		}
		if tf, err = twofa.New(twofa.Config{Store: cfg.TwoFA, Keys: cfg.Keys, Issuer: issuer, Audit: auditLog, Now: cfg.Now, StoreTimeout: cfg.StoreTimeout}); err != nil {
			return nil, fmt.Errorf("hallpass: %w", err)
		}
		lc.SecondFactor = tf
	}
	var pk *passkey.Service
	if cfg.Passkeys != nil {
		if pk, err = passkey.New(passkey.Config{Store: cfg.Passkeys, BaseURL: cfg.BaseURL, Audit: auditLog, Now: cfg.Now, StoreTimeout: cfg.StoreTimeout}); err != nil {
			return nil, fmt.Errorf("hallpass: %w", err)
		}
		f := login.Factors{Others: []interface {
			EnrolledAt(ctx context.Context, userID string) (time.Time, error)
		}{pk}}
		if tf != nil {
			f.Code = tf
		}
		lc.SecondFactor = f
	}
	lm, err := login.New(lc)
	if err != nil {
		return nil, fmt.Errorf("hallpass: %w", err)
	}
	a := &Auth{sessions: sessions, login: lm, protector: protector, limiter: limiter,
		secure: secure, clientIP: clientIP, errorH: cfg.ErrorHandler, log: log, twofa: tf, passkeys: pk}
	// Outermost first: the session, then the current user (which needs
	// the session), then the CSRF check (which needs both: the session's
	// secret, and whether a bearer token authenticated the request).
	checkCSRF := func(next http.Handler) http.Handler { return next }
	if protector != nil {
		checkCSRF = lm.CSRF
	}
	a.handler = func(next http.Handler) http.Handler {
		return sessions.Middleware(lm.Middleware(checkCSRF(next)))
	}
	return a, nil
}

// parseBaseURL checks u and returns whether it is https, and its origin.
func parseBaseURL(u string) (secure bool, origin string, err error) {
	if u == "" {
		return false, "", errors.New(`hallpass: Config.BaseURL is required: the app's public URL, such as "https://app.example.com" (or "http://localhost:8080" in development)`)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return false, "", fmt.Errorf("hallpass: Config.BaseURL %q is not an http or https URL, such as \"https://app.example.com\"", u)
	}
	return p.Scheme == "https", p.Scheme + "://" + p.Host, nil
}

// isLoopback reports whether the host of the URL u is localhost or a
// loopback address.
func isLoopback(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := p.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type ctxKey struct{}

// Handler returns next behind the whole of hallpass, in the order it
// needs: the session middleware, the login middleware (which resolves the
// current user from the session, a remember-me cookie or a bearer token),
// then the CSRF check of every unsafe request (POST, PUT, PATCH, DELETE):
// a request from another origin, or without the page's token in the
// csrf_token field or the X-CSRF-Token header, is answered 403 and never
// reaches next. Wrap the whole mux once:
//
//	http.ListenAndServe(addr, auth.Handler(mux))
//
// Wrapping twice is harmless: the inner Handler passes requests through.
func (a *Auth) Handler(next http.Handler) http.Handler {
	inner := a.handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(ctxKey{}) == a {
			next.ServeHTTP(w, r)
			return
		}
		inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, a)))
	})
}

// inside reports whether r passed through a's Handler; when it did not,
// it logs the mistake once at ERROR with the fix (what names the method).
func (a *Auth) inside(r *http.Request, what string) bool {
	if r.Context().Value(ctxKey{}) == a {
		return true
	}
	a.miswired.Do(func() {
		a.log.ErrorContext(r.Context(), "hallpass: auth."+what+" used on a request that did not pass through auth.Handler",
			"fix", "wrap your mux with auth.Handler: http.ListenAndServe(addr, auth.Handler(mux))", "path", r.URL.Path)
	})
	return false
}

// guard returns next, answering 500 (ErrNoMiddleware) instead when the
// request did not pass through Handler.
func (a *Auth) guard(what string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.inside(r, what) {
			a.Error(w, r, ErrNoMiddleware)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Error answers r with err the way the middleware answers its own
// refusals (Config.ErrorHandler): the status of err's autherr kind and a
// message fit to show a person, never the error's text.
func (a *Auth) Error(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	a.errorH(w, r, err)
}

// Authenticate checks a username and password (Flask-Login leaves this to
// the app; hallpass does it safely). It returns the user, or an error:
// login.ErrInvalidCredentials for a wrong password, an unknown user and a
// disabled account alike (401), an error of kind autherr.Throttled with a
// RetryAfter when the throttle refuses the attempt before checking the
// password (429), autherr.Busy when the hashing queue is full (503), and
// autherr.Unavailable when a store is down (503). autherr.MessageOf gives
// the sentence to show. See login.Manager.Authenticate.
func (a *Auth) Authenticate(r *http.Request, username, password string) (*account.User, error) {
	if !a.inside(r, "Authenticate") {
		return nil, ErrNoMiddleware
	}
	return a.login.Authenticate(r, username, password)
}

// Login logs u in on this request (Flask-Login's login_user): a new
// session token, the user recorded in the session, and, when remember is
// true and remember-me is on, a remember-me cookie. Call it after
// Authenticate or SignUp, before writing the response.
func (a *Auth) Login(w http.ResponseWriter, r *http.Request, u *account.User, remember bool) error {
	if !a.inside(r, "Login") {
		return ErrNoMiddleware
	}
	return a.login.Login(w, r, u, remember)
}

// Logout ends the request's session on the server, and its remember-me
// token (Flask-Login's logout_user).
func (a *Auth) Logout(w http.ResponseWriter, r *http.Request) error {
	if !a.inside(r, "Logout") {
		return ErrNoMiddleware
	}
	return a.login.Logout(w, r)
}

// SignUp creates an account for the person sending r, as a registration
// form does: the fields are checked first (account.FieldErrors, kind
// autherr.Invalid, one message per field), a taken username is
// account.ErrUsernameTaken (409), and the client address's sign-ups are
// throttled. It does not log the new user in; call Login for that.
func (a *Auth) SignUp(r *http.Request, username, email, password string) (*account.User, error) {
	if !a.inside(r, "SignUp") {
		return nil, ErrNoMiddleware
	}
	return a.login.SignUp(r, username, email, password)
}

// CurrentUser returns the request's logged-in user (Flask-Login's
// current_user), or nil. The user carries no password hash. Outside
// Handler it returns nil and logs the mistake once.
func (a *Auth) CurrentUser(r *http.Request) *account.User {
	if !a.inside(r, "CurrentUser") {
		return nil
	}
	return login.CurrentUser(r.Context())
}

// RequireLogin lets only logged-in users through (Flask-Login's
// @login_required). A browser is sent to LoginPath with next set to the
// page it asked for (303 See Other); an API client gets 401.
func (a *Auth) RequireLogin(next http.Handler) http.Handler {
	return a.guard("RequireLogin", a.login.RequireLogin(next))
}

// RequireRole lets only users with role through; other logged-in users
// get 403 and anonymous ones what RequireLogin gives them.
func (a *Auth) RequireRole(role string) func(http.Handler) http.Handler {
	mw := a.login.RequireRole(role, nil)
	return func(next http.Handler) http.Handler { return a.guard("RequireRole", mw(next)) }
}

// RequireFresh lets through only users who entered their password within
// d (Flask-Login's @fresh_login_required): others, such as a session
// restored by remember-me, are asked for their password again.
func (a *Auth) RequireFresh(d time.Duration) func(http.Handler) http.Handler {
	mw := a.login.RequireFresh(d)
	return func(next http.Handler) http.Handler { return a.guard("RequireFresh", mw(next)) }
}

// RequireSecondFactor lets through only users whose login passed a second
// factor (or who enrolled one in this session); others are sent to
// enrolPath (303), API clients get 401 "second_factor_required". Use it
// on the routes that need one, such as an admin area.
func (a *Auth) RequireSecondFactor(enrolPath string) func(http.Handler) http.Handler {
	mw := a.login.RequireSecondFactor(enrolPath)
	return func(next http.Handler) http.Handler { return a.guard("RequireSecondFactor", mw(next)) }
}

// Passkeys returns the passkey service (WebAuthn ceremonies), or nil
// without Config.Passkeys.
func (a *Auth) Passkeys() *passkey.Service { return a.passkeys }

// TwoFA returns the second-factor service (enrolment, codes, recovery
// codes), or nil without Config.TwoFA.
func (a *Auth) TwoFA() *twofa.Service { return a.twofa }

// CompleteSecondFactor finishes a login that Login left pending
// (login.ErrSecondFactorRequired) with a TOTP or recovery code: see
// login.Manager.CompleteSecondFactor. A wrong code is an error of kind
// autherr.Unauthenticated (401), an expired or missing pending login
// login.ErrNoPendingLogin.
func (a *Auth) CompleteSecondFactor(w http.ResponseWriter, r *http.Request, code string) (*account.User, error) {
	if !a.inside(r, "CompleteSecondFactor") {
		return nil, ErrNoMiddleware
	}
	return a.login.CompleteSecondFactor(w, r, code)
}

// Session returns the request's session, for the app's own values
// (session.Session.Put, Get, AddFlash), or nil outside Handler (logged
// once; the methods of a nil session are safe and return
// session.ErrNoSession).
func (a *Auth) Session(r *http.Request) *session.Session {
	if !a.inside(r, "Session") {
		return nil
	}
	return session.FromRequest(r)
}

// ClientIP returns the address of the client that sent r: the connection's
// peer, or the address a trusted proxy (Config.TrustedProxies) names. It
// is the address the login throttle counts, for an app's own limits and
// audit lines (recovery.Service.RequestReset takes one).
func (a *Auth) ClientIP(r *http.Request) string { return a.clientIP(r) }

// Secure reports whether the app is served over https (Config.BaseURL):
// its cookies are then Secure and __Host- prefixed.
func (a *Auth) Secure() bool { return a.secure }

// SessionManager returns the session manager, for what Auth does not
// wrap (listing or ending a user's sessions).
func (a *Auth) SessionManager() *session.Manager { return a.sessions }

// LoginManager returns the login manager, for what Auth does not wrap
// (ChangePassword, SetRoles, SetDisabled, Register, RevokeSession, ...).
func (a *Auth) LoginManager() *login.Manager { return a.login }

// CSRF returns the CSRF protector, or nil when
// Config.DangerouslyDisableCSRF turned it off.
func (a *Auth) CSRF() *csrf.Protector { return a.protector }

// Throttle returns the login throttle.
func (a *Auth) Throttle() *throttle.Limiter { return a.limiter }

// APITokens returns the API token service (create, list and revoke a
// user's bearer tokens), or nil without Config.APITokens. A handler that
// creates a token for the current user should then call
// auth.LoginManager().StillLoggedIn(r), and revoke the token if it fails:
// a password change or a revocation at the same moment would miss it.
func (a *Auth) APITokens() *apitoken.Service { return a.login.Config().Tokens }
