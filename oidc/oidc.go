// Package oidc is "Sign in with …" for any OpenID Connect provider
// (Google, Microsoft, GitLab, Keycloak, a company's identity provider),
// built on golang.org/x/oauth2 and github.com/coreos/go-oidc/v3, and
// mounted beside package login: a provider's sign-in logs the person in
// through login.Manager.Login, as a password does.
//
// The authorization code flow is guarded against its known attacks:
//
//	attack                                   defence
//	forged, missing or replayed state        state bound to the browser's session, single use, 10 minutes
//	login CSRF (attacker's code in a victim) the victim's session holds no such state: 401, no session
//	code interception / injection            PKCE S256 verifier kept in the session
//	ID token replay or substitution          nonce bound to the session, checked in the token
//	token for another client                 aud must be the client ID alone (or trusted), azp too
//	expired or forged ID token               signature from the provider's JWKS, issuer, expiry
//	account takeover by a matching email     never linked by email: only from the account page
//	open redirect through next               next kept only when it is a path on this site
//	session fixation                         a new session token at sign-in
//	guessing at the callback                 callbacks count per client address like logins
//	issuer mix-up                            state bound to its provider; iss (RFC 9207) checked when sent
//
// Identities (issuer + subject) are linked to users in an identity.Store;
// users come from the login Manager's account store or source, so an app
// with its own user table signs people in through the same two methods
// (account.Source) and creates accounts only if its Source can.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/login"
)

// Errors the handlers answer with, through Config.ErrorHandler. Check
// them with errors.Is; each carries its autherr kind and a message fit
// for a person.
var (
	// ErrFailed reports a sign-in that did not succeed: an unknown,
	// expired or replayed state, a code the provider refused, an ID token
	// that failed verification. Kind autherr.Unauthenticated, code
	// "oidc_failed".
	ErrFailed error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "oidc_failed",
		Message: "Signing in with the provider did not succeed. Please try again.",
		Err:     errors.New("oidc: sign-in failed")}

	// ErrDenied reports a provider that answered with an error, such as
	// access_denied when the person cancelled. Kind
	// autherr.Unauthenticated, code "oidc_denied".
	ErrDenied error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "oidc_denied",
		Message: "The provider did not sign you in (you may have cancelled). Please try again.",
		Err:     errors.New("oidc: the provider answered with an error")}

	// ErrSignupClosed reports a first sign-in through a provider that
	// does not create accounts (Provider.NoSignup, or an app's own user
	// Source without CreateUser). Kind autherr.Forbidden, code
	// "oidc_signup_closed".
	ErrSignupClosed error = &autherr.Error{Kind: autherr.Forbidden, Code: "oidc_signup_closed",
		Message: "No account here is connected to that account at the provider. Log in another way and connect it from your account page.",
		Err:     errors.New("oidc: sign-up through this provider is off")}

	// ErrLastMethod refuses to disconnect the only way into an account
	// (no password and no other identity). Kind autherr.Forbidden, code
	// "last_login_method".
	ErrLastMethod error = &autherr.Error{Kind: autherr.Forbidden, Code: "last_login_method",
		Message: "This is the only way into your account: set a password or connect another provider first.",
		Err:     errors.New("oidc: the identity is the account's only login method")}

	// ErrUnknownProvider reports a provider ID that is not configured.
	// Kind autherr.NotFound.
	ErrUnknownProvider error = autherr.New(autherr.NotFound, "oidc: unknown provider")

	// ErrProviderUnavailable reports a provider whose discovery document
	// has not been read yet. Kind autherr.Unavailable, code
	// "provider_unavailable".
	ErrProviderUnavailable error = &autherr.Error{Kind: autherr.Unavailable, Code: "provider_unavailable",
		Message: "That provider cannot be reached right now. Please try again later.",
		Err:     errors.New("oidc: provider discovery has not succeeded")}
)

// Defaults.
const (
	// DefaultPrefix starts the path of every route (Config.Prefix).
	DefaultPrefix = "/login/oidc"
	// StateFor is how long a started sign-in may take to come back.
	StateFor = 10 * time.Minute
	// DefaultRetryEvery is the default for Config.RetryEvery.
	DefaultRetryEvery = 30 * time.Second
)

// DefaultScopes are the scopes asked for when Provider.Scopes is empty.
var DefaultScopes = []string{gooidc.ScopeOpenID, "email", "profile"}

// validID is the shape of a provider ID.
var validID = regexp.MustCompile(`^[a-z0-9-]+$`)

// ValidID reports whether id may name a provider: lowercase ASCII
// letters, digits and '-'.
func ValidID(id string) bool { return len(id) <= 64 && validID.MatchString(id) }

// Provider is one OpenID Connect provider.
type Provider struct {
	// ID names the provider in paths and in links: lowercase letters,
	// digits and '-'. Required.
	ID string
	// Label is the button text after "Sign in with". Default the ID.
	Label string
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration". Required.
	Issuer string
	// ClientID and ClientSecret are the credentials the provider issued
	// for this site. ClientID is required.
	ClientID     string
	ClientSecret string
	// Scopes are asked for at the provider. Default DefaultScopes;
	// "openid" is added when missing.
	Scopes []string
	// NoSignup stops a first sign-in from creating an account: only
	// identities connected from the account page sign in.
	NoSignup bool
	// TrustedAudiences are the other clients an ID token may also be
	// for. Default none: a token with any audience but ClientID, or
	// authorized for another party (azp), is refused.
	TrustedAudiences []string
}

// Config configures a Service. Login, Identities and BaseURL are
// required.
type Config struct {
	// Providers are the providers offered, in this order.
	Providers []Provider
	// BaseURL is the public URL of the site; a provider's redirect URI
	// is BaseURL + Prefix + "/" + ID + "/callback".
	BaseURL string
	// Prefix starts the routes' paths. Default DefaultPrefix.
	Prefix string
	// Login logs people in (login.Manager.Login) and provides the
	// account store, the throttle, the audit log and the client address.
	Login *login.Manager
	// Identities keeps the links between users and identities. Each call
	// gets the login Manager's StoreTimeout as its deadline.
	Identities identity.Store
	// VerifiedEmail, when set, is told of the address of an account
	// created at a first sign-in when the provider vouched for it
	// (email_verified true), such as recovery.Store.SetVerifiedEmail.
	VerifiedEmail func(ctx context.Context, userID, email string, at time.Time) error
	// FreshFor is how recently a user must have logged in to connect an
	// identity. Default 10 minutes.
	FreshFor time.Duration
	// AfterLogin is where a sign-in without a next lands. Default
	// "/dashboard".
	AfterLogin string
	// AccountPath is where connecting and disconnecting land. Default
	// "/account".
	AccountPath string
	// ErrorHandler answers every refused request with one of this
	// package's errors (or a store's, throttle's or login's). Default the
	// login Manager's.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// OtherWayIn, when set, reports whether the user can still log in
	// without a password or an identity (with a passkey, say), so that
	// disconnecting their last identity leaves a way in. Nil: no other
	// way.
	OtherWayIn func(ctx context.Context, userID string) (bool, error)
	// BeforeLogin, when set, may refuse a sign-in after the provider has
	// vouched for the user and before the login: it answers the request
	// itself and returns false. The server uses it to apply
	// HALLPASS_REQUIRE_VERIFIED_EMAIL as a password login does.
	BeforeLogin func(w http.ResponseWriter, r *http.Request, u *account.User) bool
	// SecondFactor, when set, answers a sign-in of a user who has a
	// second factor: the login manager's Login left a pending login
	// (login.ErrSecondFactorRequired), and SecondFactor sends the browser
	// to the step that completes it, such as the server's /login/2fa,
	// remembering next. Nil: the error goes to ErrorHandler (401
	// "second_factor_required"), for an app without such a step.
	SecondFactor func(w http.ResponseWriter, r *http.Request, next string)
	// Flash, when set, queues a message for the next page (success of a
	// connect or a disconnect).
	Flash func(r *http.Request, msg string)
	// HTTPClient talks to the providers. Default a client with a
	// 10-second timeout that keeps up to 32 idle connections to each
	// provider (net/http's default transport keeps 2, so concurrent
	// sign-ins beyond two would each dial the provider and shake hands
	// again). Whichever client, a response from a provider over 1 MiB
	// (its discovery document, keys, token or UserInfo) fails, without
	// being read past the limit; the client given is not modified.
	HTTPClient *http.Client
	// RetryEvery is how often the discovery of a provider that did not
	// answer is tried again. Default DefaultRetryEvery.
	RetryEvery time.Duration
	// Logger receives discovery failures. Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Service serves the sign-in flow of every configured provider. Create
// one with New; stop its discovery retries with Close.
type Service struct {
	cfg       Config
	lc        login.Config
	providers []*provider
	byID      map[string]*provider
	stop      context.CancelFunc
	ownClient bool // cfg.HTTPClient is the default, made for this Service
	done      chan struct{}
	first     chan struct{} // closed after the first discovery round
	// origins is FormOrigins' answer, made again when a provider becomes
	// ready, so that reading it (on every response, for the CSP) costs
	// nothing.
	origins atomic.Pointer[[]string]
}

// provider is a configured Provider and what its discovery found.
type provider struct {
	Provider
	redirect string

	mu       sync.RWMutex
	oauth    *oauth2.Config
	verifier *gooidc.IDTokenVerifier
	op       *gooidc.Provider
	origins  []string // of the issuer and the authorization endpoint
}

func (p *provider) ready() (*oauth2.Config, *gooidc.IDTokenVerifier) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.oauth, p.verifier
}

func (p *provider) discovered() *gooidc.Provider {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.op
}

// New checks cfg and returns a Service. Discovery runs in the background
// at once and, for a provider that does not answer, again every
// RetryEvery until it does; until then its button is disabled and its
// routes answer ErrProviderUnavailable. Failures are logged.
func New(cfg Config) (*Service, error) {
	if cfg.Login == nil || cfg.Identities == nil {
		return nil, errors.New("oidc: Config.Login and Identities are required")
	}
	if d := cfg.Login.Config().StoreTimeout; d > 0 {
		cfg.Identities = deadlineIdentities{cfg.Identities, d}
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("oidc: Config.BaseURL %q is not an http or https URL", cfg.BaseURL)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.FreshFor <= 0 {
		cfg.FreshFor = 10 * time.Minute
	}
	if cfg.AfterLogin == "" {
		cfg.AfterLogin = "/dashboard"
	}
	if cfg.AccountPath == "" {
		cfg.AccountPath = "/account"
	}
	lc := cfg.Login.Config()
	if cfg.ErrorHandler == nil {
		cfg.ErrorHandler = lc.ErrorHandler
	}
	ownClient := cfg.HTTPClient == nil
	if ownClient {
		cfg.HTTPClient = defaultHTTPClient()
	}
	cfg.HTTPClient = limitClient(cfg.HTTPClient, maxResponseBytes)
	if cfg.RetryEvery <= 0 {
		cfg.RetryEvery = DefaultRetryEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, lc: lc, byID: map[string]*provider{}, done: make(chan struct{}), first: make(chan struct{}), ownClient: ownClient}
	root := strings.TrimSuffix(base.String(), "/")
	for _, p := range cfg.Providers {
		switch {
		case !ValidID(p.ID):
			return nil, fmt.Errorf("oidc: provider ID %q: want lowercase letters, digits and '-'", p.ID)
		case s.byID[p.ID] != nil:
			return nil, fmt.Errorf("oidc: provider %q is configured twice", p.ID)
		case p.ClientID == "":
			return nil, fmt.Errorf("oidc: provider %q: ClientID is required", p.ID)
		}
		if u, err := url.Parse(p.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("oidc: provider %q: Issuer %q is not an http or https URL", p.ID, p.Issuer)
		}
		if p.Label == "" {
			p.Label = p.ID
		}
		if len(p.Scopes) == 0 {
			p.Scopes = DefaultScopes
		}
		if !slices.Contains(p.Scopes, gooidc.ScopeOpenID) {
			p.Scopes = append([]string{gooidc.ScopeOpenID}, p.Scopes...)
		}
		pp := &provider{Provider: p, redirect: root + cfg.Prefix + "/" + p.ID + "/callback"}
		s.providers = append(s.providers, pp)
		s.byID[p.ID] = pp
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.discoverLoop(ctx)
	return s, nil
}

// idlePerProvider is how many idle connections the default HTTP client
// keeps to each provider.
const idlePerProvider = 32

// defaultHTTPClient returns the client for Config.HTTPClient's default:
// net/http's default transport (its proxy settings, dial and TLS
// timeouts), copied, keeping idlePerProvider idle connections per host
// instead of 2, with a 10-second timeout.
func defaultHTTPClient() *http.Client {
	c := &http.Client{Timeout: 10 * time.Second}
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t = t.Clone()
		t.MaxIdleConnsPerHost = idlePerProvider
		c.Transport = t
	}
	return c
}

// Close stops the discovery retries, and closes the idle connections of
// the default HTTP client (a client given in Config is left alone).
func (s *Service) Close() {
	s.stop()
	<-s.done
	if s.ownClient {
		s.cfg.HTTPClient.CloseIdleConnections()
	}
}

// WaitDiscovery waits until the first discovery round is over (every
// provider answered or failed) or ctx is done.
func (s *Service) WaitDiscovery(ctx context.Context) {
	select {
	case <-s.first:
	case <-ctx.Done():
	}
}

func (s *Service) discoverLoop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.RetryEvery)
	defer t.Stop()
	for i := 0; ; i++ {
		pending := 0
		for _, p := range s.providers {
			if o, _ := p.ready(); o != nil {
				continue
			}
			if err := s.discover(ctx, p); err != nil {
				pending++
				if ctx.Err() == nil {
					s.cfg.Logger.Warn("oidc: provider discovery failed; its button is disabled until it answers",
						"provider", p.ID, "issuer", p.Issuer, "retry_in", s.cfg.RetryEvery, "err", err)
				}
			}
		}
		if i == 0 {
			close(s.first)
		}
		if pending == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// discover reads p's discovery document and keeps what the flow needs.
func (s *Service) discover(ctx context.Context, p *provider) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HTTPClient.Timeout+time.Second)
	defer cancel()
	op, err := gooidc.NewProvider(gooidc.ClientContext(ctx, s.cfg.HTTPClient), p.Issuer)
	if err != nil {
		return fmt.Errorf("oidc: discovery of %s: %w", p.Issuer, err)
	}
	ep := op.Endpoint()
	auth, err := url.Parse(ep.AuthURL)
	if err != nil || auth.Host == "" {
		return fmt.Errorf("oidc: discovery of %s: bad authorization endpoint %q", p.Issuer, ep.AuthURL)
	}
	iss, _ := url.Parse(p.Issuer)
	origins := []string{iss.Scheme + "://" + iss.Host}
	if o := auth.Scheme + "://" + auth.Host; o != origins[0] {
		origins = append(origins, o)
	}
	// The keys are fetched later, with a context that carries only the
	// HTTP client (go-oidc keeps that part of this context).
	v := op.Verifier(&gooidc.Config{ClientID: p.ClientID, Now: s.cfg.Now})
	p.mu.Lock()
	p.oauth = &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: ep,
		RedirectURL: p.redirect, Scopes: p.Scopes}
	p.verifier = v
	p.op = op
	p.origins = origins
	p.mu.Unlock()
	s.collectOrigins()
	s.cfg.Logger.Info("oidc: provider ready", "provider", p.ID, "issuer", p.Issuer)
	return nil
}

// Button is a provider as the login and account pages offer it.
type Button struct {
	ID    string
	Label string
	// Ready is false while the provider's discovery has not succeeded:
	// show the button disabled.
	Ready bool
	// Action is the path its form POSTs to (with csrf_token, and next
	// or connect=1).
	Action string
}

// Buttons returns the configured providers, in order.
func (s *Service) Buttons() []Button {
	out := make([]Button, 0, len(s.providers))
	for _, p := range s.providers {
		o, _ := p.ready()
		out = append(out, Button{ID: p.ID, Label: p.Label, Ready: o != nil, Action: s.cfg.Prefix + "/" + p.ID})
	}
	return out
}

// RedirectURL returns the redirect URI to register at the provider id,
// or "" for an unknown provider.
func (s *Service) RedirectURL(id string) string {
	if p := s.byID[id]; p != nil {
		return p.redirect
	}
	return ""
}

// FormOrigins returns the origins a login form may be sent on to (the
// issuers and authorization endpoints of the ready providers), for the
// form-action directive of a Content-Security-Policy: the start route
// answers a form with a redirect there. The slice is shared and the same
// until another provider becomes ready; do not modify it.
func (s *Service) FormOrigins() []string {
	if o := s.origins.Load(); o != nil {
		return *o
	}
	return nil
}

// collectOrigins makes FormOrigins' answer again from the providers.
func (s *Service) collectOrigins() {
	var out []string
	for _, p := range s.providers {
		p.mu.RLock()
		for _, o := range p.origins {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
		p.mu.RUnlock()
	}
	s.origins.Store(&out)
}

// Label returns the label of the provider id, or id when it is not
// configured (an identity linked under a provider since removed).
func (s *Service) Label(id string) string {
	if p := s.byID[id]; p != nil {
		return p.Label
	}
	return id
}

// Register adds the routes to mux: POST Prefix/{id} (start),
// GET Prefix/{id}/callback and POST Prefix/{id}/disconnect. Mount them
// behind the session, login and CSRF middleware; the callback is a GET
// and needs no token.
func (s *Service) Register(mux interface {
	Handle(pattern string, h http.Handler)
}) {
	mux.Handle("POST "+s.cfg.Prefix+"/{id}", http.HandlerFunc(s.Start))
	mux.Handle("GET "+s.cfg.Prefix+"/{id}/callback", http.HandlerFunc(s.Callback))
	mux.Handle("POST "+s.cfg.Prefix+"/{id}/disconnect", http.HandlerFunc(s.Disconnect))
}

func (s *Service) record(r *http.Request, e audit.Event) {
	e.IP = s.lc.ClientIP(r)
	s.lc.Audit.Record(r.Context(), e)
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.ErrorHandler(w, r, err)
}
