// Package web is hallpass's ready server: the HTML pages (register, log
// in, dashboard, account, admin), a JSON API for JavaScript apps, the
// templates and the stylesheet, behind one http.Handler.
//
// The handler stacks, outermost first: security headers and panic
// recovery, a 1 MiB request-body limit, the session middleware, the login
// middleware, the CSRF check, and the routes. A method or path no route
// takes is answered 405 (with Allow) or 404 before the CSRF check. Every error, from any layer,
// is answered by one function with the right status and either a page in
// the site's layout or a JSON {"error", "message"} object; a person never
// sees a Go error, SQL or a stack.
//
// The login Manager (and the session Manager, account store and token
// service it is built on) is built before the Server, by the caller; give
// it ErrorHandler and SendToLogin (and the session Manager and
// csrf.Protector ErrorHandler) so their failures look like the rest of the
// site. Errors are looked up by kind (package autherr) in one table.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/internal/outage"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/twofa"
)

// APIPrefix starts the path of every route of the JSON API.
const APIPrefix = "/api/"

// MaxBodyBytes is the largest request body the Server reads. Larger
// bodies are answered with 413 Request Entity Too Large.
const MaxBodyBytes = 1 << 20

// DefaultFreshFor is the default for Config.FreshFor.
const DefaultFreshFor = 10 * time.Minute

// Config configures a Server. Login is required; every other zero field
// is a documented default or turns a feature off.
type Config struct {
	// Login resolves the current user and logs users in and out.
	// Required. Build it with ErrorHandler as its Config.ErrorHandler
	// and !WantsJSON as its Config.SendToLogin. The Server takes the
	// session manager, account store and token service from its Config:
	// without Tokens the account page has no API token section and
	// /api/tokens answers 404; token events go to the Tokens' Audit.
	Login *login.Manager

	// BaseURL is the public URL of the site, such as
	// "https://auth.example.com". When its scheme is https, every
	// response carries Strict-Transport-Security. Its origin is also
	// trusted by the origin check of the JSON login endpoint (for
	// proxies that rewrite the Host header). Empty: neither. The Secure
	// attribute of cookies is configured by the caller on the session,
	// login and csrf packages, not here.
	BaseURL string

	// Logger receives one record per failed request (at Error level for
	// 5xx answers) and every recovered panic. Default slog.Default().
	Logger *slog.Logger

	// Health reports whether the stores answer, for GET /healthz: nil
	// means healthy (200 "ok"), an error 503 "unavailable". A nil Health
	// is always healthy.
	Health func(ctx context.Context) error

	// FreshFor is how recently the password must have been entered to
	// create an API token. Default DefaultFreshFor (10 minutes).
	FreshFor time.Duration

	// Version is shown in the page footer. Empty shows none.
	Version string

	// TrustRequestID reports whether a request came from a proxy whose
	// X-Request-ID header is to be believed (see
	// throttle.FromTrustedProxy). Every other request, and one whose
	// X-Request-ID is empty, too long or holds characters other than
	// letters, digits and -_.:+/=@, gets a random ID. Nil trusts no one.
	// The ID is sent back in X-Request-ID, shown on error pages, and
	// added to log lines (see LogHandler).
	TrustRequestID func(r *http.Request) bool

	// AccessLog writes one line per answered request to Logger, at Info
	// level: method, route pattern, status, duration, body bytes and
	// request ID; never a path, query, cookie or other header.
	AccessLog bool

	// Observe, if set, is called after every answered request, for
	// metrics. It runs on the request's goroutine; keep it fast.
	Observe func(Request)

	// Ready reports whether every store answers, for GET /readyz: nil
	// means ready (200 "ok"), an error 503 "unavailable". A nil Ready
	// uses Health.
	Ready func(ctx context.Context) error

	// Recovery serves account recovery by email: "Forgot your
	// password?" (/password/forgot, /password/reset/{token}), email
	// verification (/verify/{token}, sent at registration) and changes
	// of address (POST /account/email), with their JSON API. Build it
	// with BaseURL's paths (recovery's defaults). Nil: none of these
	// routes exist.
	Recovery *recovery.Service

	// RequireVerifiedEmail refuses logins of accounts whose address is
	// not verified, with a page that offers to send the link again (JSON:
	// 403 email_unverified). It needs Recovery.
	RequireVerifiedEmail bool

	// OIDC, when it has Providers, offers "Sign in with …" on the login
	// page and "Connect" on the account page (package oidc). New builds
	// the oidc.Service from it, filling in Login, BaseURL (required
	// here), ErrorHandler and Flash; get it with Server.OIDC and Close it
	// at shutdown.
	OIDC *oidc.Config
	// TwoFA serves second factors: enrolment and removal of TOTP on
	// /account/2fa, the code step of a login on /login/2fa and POST
	// /api/session/2fa. Give the same Service to the login Manager as its
	// Config.SecondFactor. Nil: none of these routes exist.
	TwoFA *twofa.Service

	// Passkeys serves WebAuthn: registration and removal on the account
	// page, "Sign in with a passkey" on the login page, and a passkey as
	// the second factor on /login/2fa. Give the login Manager a
	// login.Factors that includes it. Nil: no passkeys.
	Passkeys *passkey.Service

	// RequireSecondFactorFor lists roles whose users must enrol a second
	// factor at their next login before anything else. It needs TwoFA.
	RequireSecondFactorFor []string
}

// Server serves hallpass's pages and JSON API. Create one with New; it is
// safe for concurrent use.
type Server struct {
	sessions *session.Manager
	login    *login.Manager
	accounts account.Store
	tokens   *apitoken.Service
	health   func(context.Context) error
	freshFor time.Duration
	version  string
	hsts     bool
	log      *slog.Logger
	origin   *http.CrossOriginProtection
	mux      *http.ServeMux
	handler  http.Handler

	trustRequestID func(*http.Request) bool
	accessLog      bool
	observe        func(Request)
	ready          func(context.Context) error
	healthOutage   *outage.Log // failures of Config.Health, logged once per outage
	readyOutage    *outage.Log // failures of Config.Ready, likewise

	recovery        *recovery.Service
	requireVerified bool
	twofa           *twofa.Service
	passkeys        *passkey.Service
	csp             atomic.Pointer[cspHeader] // the policy for the providers ready now (with OIDC)
	require2FA      []string
	clientIP        func(*http.Request) string

	oidc       *oidc.Service  // nil without providers
	identities identity.Store // the providers' identities of users; nil without providers
}

// New returns a Server for cfg, or an error naming the invalid setting.
func New(cfg Config) (*Server, error) {
	if cfg.Login == nil {
		return nil, errors.New("web: Config.Login is required")
	}
	lc := cfg.Login.Config()
	if cfg.FreshFor < 0 {
		return nil, errors.New("web: Config.FreshFor must not be negative")
	}
	if cfg.FreshFor == 0 {
		cfg.FreshFor = DefaultFreshFor
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Ready == nil {
		cfg.Ready = cfg.Health
	}
	// The login Manager hands out its Users as a whole account.Store,
	// whose methods the Source lacks answer account.ErrNotSupported.
	accounts, ok := lc.Users.(account.Store)
	if !ok {
		return nil, fmt.Errorf("web: the login manager's Users (%T) is not an account.Store", lc.Users)
	}
	if len(cfg.RequireSecondFactorFor) > 0 && cfg.TwoFA == nil {
		return nil, errors.New("web: Config.RequireSecondFactorFor needs Config.TwoFA")
	}
	if cfg.RequireVerifiedEmail && cfg.Recovery == nil {
		return nil, errors.New("web: Config.RequireVerifiedEmail needs Config.Recovery")
	}
	s := &Server{
		sessions: lc.Sessions,
		login:    cfg.Login,
		accounts: accounts,
		tokens:   lc.Tokens,
		health:   cfg.Health,
		freshFor: cfg.FreshFor,
		version:  cfg.Version,
		log:      slog.New(LogHandler(cfg.Logger.Handler())),
		origin:   http.NewCrossOriginProtection(),

		trustRequestID: cfg.TrustRequestID,
		accessLog:      cfg.AccessLog,
		observe:        cfg.Observe,
		ready:          cfg.Ready,

		recovery:        cfg.Recovery,
		requireVerified: cfg.RequireVerifiedEmail,
		twofa:           cfg.TwoFA,
		passkeys:        cfg.Passkeys,
		require2FA:      cfg.RequireSecondFactorFor,
		clientIP:        lc.ClientIP,
	}
	// A failing probe is a warning: the managers report the outage
	// itself, as an error, when requests meet it.
	s.healthOutage = &outage.Log{Name: "web: healthz: store", Logger: s.log, Now: lc.Now, Level: slog.LevelWarn}
	s.readyOutage = &outage.Log{Name: "web: readyz: store", Logger: s.log, Now: lc.Now, Level: slog.LevelWarn}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("web: Config.BaseURL %q is not an http or https URL", cfg.BaseURL)
		}
		s.hsts = u.Scheme == "https"
		if err := s.origin.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("web: Config.BaseURL: %w", err)
		}
	}
	if cfg.OIDC != nil && len(cfg.OIDC.Providers) > 0 {
		oc := *cfg.OIDC
		oc.Login, oc.BaseURL, oc.ErrorHandler = cfg.Login, cfg.BaseURL, s.oidcError
		oc.Flash = func(r *http.Request, msg string) { s.flash(r, "success", msg) }
		oc.SecondFactor = s.secondStep
		if s.passkeys != nil {
			// A passkey is a way in too: the last identity may go.
			oc.OtherWayIn = func(ctx context.Context, userID string) (bool, error) {
				cs, err := s.passkeys.List(ctx, userID)
				return len(cs) > 0, err
			}
		}
		oc.BeforeLogin = func(w http.ResponseWriter, r *http.Request, u *account.User) bool {
			ok, err := s.verifiedOK(r, u)
			if err != nil {
				s.fail(w, r, err)
				return false
			}
			if !ok {
				s.refuseUnverified(w, r, u)
			}
			return ok
		}
		if oc.Logger == nil {
			oc.Logger = cfg.Logger
		}
		svc, err := oidc.New(oc)
		if err != nil {
			return nil, fmt.Errorf("web: Config.OIDC: %w", err)
		}
		s.oidc, s.identities = svc, oc.Identities
	}
	s.mux = s.routes()
	h := http.Handler(http.HandlerFunc(s.dispatch))
	h = s.enrolFirst(h)
	h = s.csrf(h)
	h = s.login.Middleware(h)
	h = s.sessions.Middleware(h)
	h = s.limitBody(h)
	h = s.probes(h)
	s.handler = s.outer(h)
	return s, nil
}

// OIDC returns the Server's OpenID Connect service, or nil when
// Config.OIDC had no providers.
func (s *Server) OIDC() *oidc.Service { return s.oidc }

// Handler returns the Server's complete handler: security headers, panic
// recovery, body limit, sessions, login, CSRF and routes.
func (s *Server) Handler() http.Handler { return s.handler }

// routes registers every page and API endpoint.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	needLogin := s.login.RequireLogin
	h := func(f http.HandlerFunc) http.Handler { return f }
	// Admin routes need the role, and an API token the admin scope too;
	// admin actions also need a fresh login (adminAction).
	requireAdmin := s.login.RequireRole("admin", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errForbidden)
	}))
	adminScope := s.login.RequireScope(apitoken.ScopeAdmin)
	admin := func(next http.Handler) http.Handler { return requireAdmin(adminScope(next)) }

	mux.Handle("GET /static/", h(s.serveStatic))
	mux.Handle("GET /healthz", h(s.healthz))
	mux.Handle("GET /livez", h(s.livez))
	mux.Handle("GET /readyz", h(s.readyz))

	mux.Handle("GET /{$}", h(s.home))
	mux.Handle("GET /register", h(s.registerForm))
	mux.Handle("POST /register", h(s.register))
	mux.Handle("GET /login", h(s.loginForm))
	mux.Handle("POST /login", h(s.loginSubmit))
	mux.Handle("POST /logout", h(s.logout))
	mux.Handle("GET /dashboard", needLogin(h(s.dashboard)))
	mux.Handle("GET /account", needLogin(h(s.account)))
	mux.Handle("POST /account/password", needLogin(h(s.changePassword)))
	mux.Handle("POST /account/sessions/{id}/revoke", needLogin(h(s.revokeSession)))
	mux.Handle("POST /account/sessions/revoke-others", needLogin(h(s.revokeOtherSessions)))
	mux.Handle("POST /account/tokens", needLogin(h(s.createToken)))
	mux.Handle("POST /account/tokens/{id}/revoke", needLogin(h(s.revokeToken)))
	mux.Handle("GET /admin", admin(h(s.admin)))
	mux.Handle("POST /admin/users/{id}/{action}", admin(h(s.adminAction)))

	// The JSON API, under APIPrefix: its answers are JSON unless the
	// client asks for HTML (WantsJSON).
	mux.Handle("POST /api/session", h(s.apiLogin))
	mux.Handle("GET /api/session", h(s.apiSession))
	mux.Handle("DELETE /api/session", h(s.apiLogout))
	mux.Handle("GET /api/me", needLogin(h(s.apiMe)))
	mux.Handle("GET /api/sessions", needLogin(h(s.apiSessions)))
	mux.Handle("DELETE /api/sessions/{id}", needLogin(h(s.apiRevokeSession)))
	mux.Handle("POST /api/tokens", needLogin(h(s.apiCreateToken)))
	mux.Handle("GET /api/tokens", needLogin(h(s.apiTokens)))
	mux.Handle("DELETE /api/tokens/{id}", needLogin(h(s.apiRevokeToken)))

	if s.oidc != nil {
		// Start and callback are anonymous; connect and disconnect check
		// the user themselves.
		s.oidc.Register(mux)
	}
	if s.recovery != nil {
		mux.Handle("GET /password/forgot", h(s.forgotForm))
		mux.Handle("POST /password/forgot", h(s.forgotSubmit))
		mux.Handle("GET "+resetPathPrefix+"{token}", h(s.resetForm))
		mux.Handle("POST "+resetPathPrefix+"{token}", h(s.resetSubmit))
		mux.Handle("GET "+verifyPathPrefix+"{token}", h(s.verifyEmail))
		mux.Handle("POST /verify/resend", h(s.resendVerification))
		mux.Handle("POST /account/email", needLogin(h(s.changeEmail)))
		mux.Handle("POST /api/password/forgot", h(s.apiForgot))
		mux.Handle("POST /api/password/reset", h(s.apiReset))
		mux.Handle("POST /api/email/verify", h(s.apiVerify))
	}
	if s.twofa != nil {
		s.twofaRoutes(mux, h)
	}
	if s.passkeys != nil {
		s.passkeyRoutes(mux, h)
		if s.twofa == nil {
			s.secondStepRoutes(mux, h)
		}
	}
	return mux
}

// dispatch routes r through the mux, answering unknown paths and methods
// with the site's own 404 and 405 (instead of ServeMux's plain text).
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if s.routeOf(r) != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: ServeMux would answer 404, 405 or a redirect to the
	// cleaned path. Find out which without letting it write.
	h, _ := s.mux.Handler(r)
	c := &capture{header: make(http.Header)}
	h.ServeHTTP(c, r)
	switch c.code {
	case http.StatusNotFound:
		s.fail(w, r, errNotFound)
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", c.header.Get("Allow"))
		s.fail(w, r, errMethodNotAllowed)
	default:
		if loc := c.header.Get("Location"); loc != "" {
			w.Header().Set("Location", loc)
		}
		w.WriteHeader(c.code)
	}
}

// routeOf returns the pattern of the route that takes r, "" when none
// does: looked up once, by outer, on the request as it arrived (no layer
// changes its method or path).
func (s *Server) routeOf(r *http.Request) string {
	if ri := infoOf(r); ri != nil {
		return ri.route
	}
	_, pattern := s.mux.Handler(r)
	return pattern
}

// capture records the status and headers a handler writes, discarding the
// body.
type capture struct {
	header http.Header
	code   int
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *capture) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return len(b), nil
}

// csrf runs the login Manager's CSRF check on every request that a route
// takes but the JSON login. A request no route takes goes straight to
// dispatch, which answers 404 or 405 with Allow: it can change nothing, so
// a wrong method is not reported as a forgery (403).
//
// The JSON login and the anonymous JSON recovery endpoints
// (anonymousJSON) have no token to check (an anonymous JavaScript client
// holds neither a session nor the pre-session cookie); they are protected
// instead by the origin check and by requiring a JSON body, which a
// cross-site form cannot send and a cross-site fetch cannot send without a
// CORS preflight that this server never approves.
func (s *Server) csrf(next http.Handler) http.Handler {
	checked := s.login.CSRF(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.routeOf(r) == "" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost || !anonymousJSON[r.URL.Path] {
			checked.ServeHTTP(w, r)
			return
		}
		if err := s.origin.Check(r); err != nil {
			s.fail(w, r, csrf.ErrOrigin)
			return
		}
		if !isJSON(r) {
			s.fail(w, r, errUnsupportedMediaType)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// anonymousJSON are the paths of the JSON API whose POST an anonymous
// client sends, so the csrf layer checks their origin and content type
// instead of a token.
var anonymousJSON = map[string]bool{
	"/api/session":               true,
	"/api/session/2fa":           true, // the pending session holds no CSRF secret yet
	"/api/passkey/login/options": true,
	"/api/passkey/login":         true,
	"/api/passkey/2fa/options":   true,
	"/api/passkey/2fa":           true,
	"/api/password/forgot":       true,
	"/api/password/reset":        true,
	"/api/email/verify":          true,
}

// isJSON reports whether r's body is declared as application/json.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// limitBody refuses a body whose Content-Length is over MaxBodyBytes
// before anything reads it. Longer bodies sent without a length are cut
// by outer, and the form and JSON readers turn the *http.MaxBytesError
// into 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			s.fail(w, r, &http.MaxBytesError{Limit: MaxBodyBytes})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders go on every response. Their values are shared between
// responses, as slices of one element (length = capacity), which is safe:
// Header.Set replaces a slice, Header.Add appends to a copy, and nothing
// writes into one. Sharing them saves five allocations per request.
var securityHeaders = []struct {
	key   string // in canonical form
	value []string
}{
	{"Content-Security-Policy", []string{contentSecurityPolicy}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Referrer-Policy", []string{"same-origin"}},
	{"X-Frame-Options", []string{"DENY"}},
}

var (
	hstsHeader = []string{"max-age=63072000; includeSubDomains"}
	noStore    = []string{"no-store"}
)

// outer sets the security headers on every response, marks every dynamic
// response no-store, caps the request body at MaxBodyBytes, and turns a
// panic into a logged 500 page.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range securityHeaders {
			h[kv.key] = kv.value
		}
		if s.oidc != nil {
			// Forms may go on to the ready providers (see formAction).
			h["Content-Security-Policy"] = s.contentSecurityPolicy()
		}
		if s.hsts {
			h["Strict-Transport-Security"] = hstsHeader
		}
		if r.Body != nil && r.Body != http.NoBody {
			// The server's own writer, so that hitting the limit also
			// closes the connection after the response.
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		start := time.Now()
		id := s.requestID(r)
		h["X-Request-Id"] = []string{id} // canonical form of X-Request-ID
		// One allocation for the writer, the request's information and
		// the context that carries the latter.
		st := &requestState{
			Context: r.Context(),
			rw:      responseWriter{ResponseWriter: w, noStore: !strings.HasPrefix(r.URL.Path, "/static/")},
			ri:      requestInfo{version: s.version, id: id},
		}
		rw, ri := &st.rw, &st.ri
		if s.mux != nil {
			_, ri.route = s.mux.Handler(r)
		}
		r = r.WithContext(st)
		if s.accessLog || s.observe != nil {
			defer s.done(r, rw, start)
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "web: panic serving a request", "method", r.Method, "path", logPath(r), "panic", v, "stack", stack())
			if rw.wroteHeader {
				// Too late for an error page: cut the response short, so
				// the client cannot take it for a complete one.
				panic(http.ErrAbortHandler)
			}
			s.fail(rw, r, errPanic)
		}()
		next.ServeHTTP(rw, r)
	})
}

// contentSecurityPolicy allows the site's own stylesheet, images and
// script file (static/passkey.js, for navigator.credentials) and fetches
// to the site itself, nothing else: no inline scripts or styles, no
// framing. Forms go to the site itself and, through the 303 of a
// "Sign in with …" form, to the OpenID Connect providers (formAction).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// contentSecurityPolicy returns the policy header of every response with
// OIDC: the constant, with the ready providers' origins added to
// form-action, made once per change of those origins.
func (s *Server) contentSecurityPolicy() []string {
	origins := s.oidc.FormOrigins()
	if c := s.csp.Load(); c != nil && sameSlice(c.origins, origins) {
		return c.header
	}
	v := contentSecurityPolicy
	if len(origins) > 0 {
		v = strings.Replace(v, "form-action 'self'", "form-action 'self' "+strings.Join(origins, " "), 1)
	}
	c := &cspHeader{origins: origins, header: []string{v}}
	s.csp.Store(c)
	return c.header
}

// cspHeader is the Content-Security-Policy made for one answer of
// oidc.Service.FormOrigins (which stays the same slice until a provider
// becomes ready), shared by every response as securityHeaders are.
type cspHeader struct {
	origins []string
	header  []string
}

// sameSlice reports whether a and b are the same slice (not merely equal).
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// done reports an answered request to the access log and Observe.
func (s *Server) done(r *http.Request, rw *responseWriter, start time.Time) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	// The route was looked up by outer, on the request as it arrived.
	now := time.Now()
	q := Request{Method: r.Method, Route: infoOf(r).route, Status: status, Bytes: rw.bytes,
		Duration: now.Sub(start), ID: RequestID(r.Context())}
	if s.accessLog {
		s.logRequest(r.Context(), q, now)
	}
	if s.observe != nil {
		s.observe(q)
	}
}

// responseWriter enforces Cache-Control: no-store on dynamic responses
// when the header is written, after inner layers (the session
// middleware's no-cache="Set-Cookie") had their say, and remembers
// whether the header went out, its status and the body's length.
type responseWriter struct {
	http.ResponseWriter
	noStore     bool
	wroteHeader bool
	status      int
	bytes       int64
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.wroteHeader = true
		w.status = code
		if h := w.Header(); w.noStore && !slices.Equal(h["Cache-Control"], noStore) {
			// Only when it differs: storing into a full small map (8
			// entries, a page's header) grows it to a table, even to
			// replace a key it holds, and net/http then clones the table.
			h["Cache-Control"] = noStore
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// started sends the default 200 header when the handler writes before
// it chose a status, as net/http would, so that noStore and the status
// are applied and recorded.
func (w *responseWriter) started() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.started()
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// WriteString is Write for a string: io.WriteString passes it down to
// net/http's writer without a copy.
func (w *responseWriter) WriteString(s string) (int, error) {
	w.started()
	n, err := io.WriteString(w.ResponseWriter, s)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client.
func (w *responseWriter) Flush() {
	w.started()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestState is what outer allocates per request.
type requestState struct {
	// Context is the request's context as it came in; the state is the
	// context of the request the layers below see, adding ri under
	// infoKey{} (Value) without another allocation.
	context.Context
	rw responseWriter
	ri requestInfo
}

// Value returns the request's information for infoKey{}, and otherwise
// what the request's own context holds under key.
func (st *requestState) Value(key any) any {
	if key == (infoKey{}) {
		return &st.ri
	}
	return st.Context.Value(key)
}

// requestInfo is per-request state shared by the layers of one request.
type requestInfo struct {
	logged  bool   // the cause of an error response has been logged
	version string // Config.Version, for pages rendered by ErrorHandler
	id      string // the request ID
	route   string // the pattern of the route that takes the request
}

type infoKey struct{}

func infoOf(r *http.Request) *requestInfo {
	ri, _ := r.Context().Value(infoKey{}).(*requestInfo)
	return ri
}

// healthz answers 200 "ok" when the stores answer, 503 "unavailable"
// otherwise, logging the cause once per outage (a warning, then debug
// lines, and its end), as the managers log the failures of their stores.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.health != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.health(ctx); err != nil {
			// The request's context: a probe that timed out is a failure.
			s.healthOutage.Failed(r.Context(), "probe", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "unavailable")
			return
		}
		s.healthOutage.OK()
	}
	io.WriteString(w, "ok")
}

// probes answers GET /livez, /readyz and /healthz before the session,
// login and CSRF layers, so a probe that sends a cookie (a browser
// opening /healthz) never waits for the session store, and a liveness
// probe touches nothing.
func (s *Server) probes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			switch r.URL.Path {
			case "/livez":
				s.livez(w, r)
				return
			case "/readyz":
				s.readyz(w, r)
				return
			case "/healthz":
				s.healthz(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// livez answers 200 "ok" as long as the process serves requests; it
// checks no store.
func (s *Server) livez(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

// ReadyTimeout bounds the checks of GET /readyz as a whole; each store's
// own deadline comes from Config.Ready.
const ReadyTimeout = 5 * time.Second

// readyz answers 200 "ok" when Config.Ready reports that every store
// answers, 503 "unavailable" otherwise, logging which store failed once
// per outage, as healthz does.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.readyOutage.Failed(r.Context(), "probe", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "unavailable")
			return
		}
		s.readyOutage.OK()
	}
	io.WriteString(w, "ok")
}
