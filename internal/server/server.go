// Package server builds the hallpass server's object graph from opened
// stores and one Config: the session manager, the CSRF protector, the
// throttle, the API token service, the login manager and the web server,
// each given its dependencies once and the site's error answer
// (web.ErrorHandler). cmd/hallpass and the tests both build the server
// with New, so the wiring exists in one place.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/twofa"
	"github.com/hallpass/hallpass/web"
)

// Accounts is what an accounts database provides: users, remember-me
// tokens and API tokens.
type Accounts interface {
	account.Store
	account.RememberStore
	account.TokenStore
}

// Config is everything the server is built from. SessionStore, Accounts
// and Keys are required; every other zero field is a documented default.
type Config struct {
	// SessionStore keeps the sessions. Required.
	SessionStore session.Store
	// Accounts keeps users, remember-me and API tokens. Required.
	Accounts Accounts
	// Counter keeps the login throttle's counts; nil counts in this
	// process only.
	Counter throttle.Counter
	// Keys sign cookies; the first signs, all verify. Required.
	Keys [][]byte

	// Secure marks the site as served over https: Secure and __Host-
	// cookies.
	Secure bool
	// TrustedProxies are the networks whose X-Forwarded-For (client
	// address) and X-Request-ID are believed.
	TrustedProxies []netip.Prefix

	// IdleTimeout, AbsoluteTimeout: see session.Config; zero takes its
	// defaults.
	IdleTimeout, AbsoluteTimeout time.Duration
	// RememberFor is the remember-me lifetime; zero takes login's
	// default.
	RememberFor time.Duration
	// PasswordMin is the minimum password length; zero takes
	// password.Policy's default.
	PasswordMin int
	// StoreTimeout is the deadline of each store call (session.Config,
	// login.Config and, unless Throttle sets its own, throttle.Config);
	// zero takes their defaults.
	StoreTimeout time.Duration
	// Passwords hashes and verifies passwords. Default a *password.Hasher
	// with its default parameters.
	Passwords login.Hasher
	// Throttle sets the login throttle's limits; its Now defaults to
	// Config.Now.
	Throttle throttle.Config

	// Logger receives the log and the audit events. Default
	// slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time

	// SessionHooks and LoginHooks are told about sessions and logins,
	// for metrics.
	SessionHooks session.Hooks
	LoginHooks   login.Hooks

	// Mailer sends account recovery email (reset, verification and
	// change-of-address links); nil turns those flows off. Give it a
	// mail.Queue, so no request waits for the mail server.
	Mailer mail.Mailer
	// Recovery keeps the emailed links and verified addresses; required
	// with Mailer.
	Recovery recovery.Store
	// Users finds accounts by address and Emails changes it, for the
	// recovery flows. Default: Accounts, when it has these methods (the
	// stores of memstore, sqlitestore and pgstore do).
	Users  recovery.Users
	Emails recovery.EmailSetter
	// ResetFor and VerifyFor are the lifetimes of reset and verification
	// links; zero takes recovery's defaults (1 hour, 24 hours).
	ResetFor, VerifyFor time.Duration
	// RequireVerifiedEmail refuses logins of unverified addresses (see
	// web.Config.RequireVerifiedEmail).
	RequireVerifiedEmail bool

	// TwoFA keeps second factors; nil turns them off. The TOTP secrets
	// are sealed with a key derived from Keys, and the web server's
	// RequireSecondFactorFor (in Web) needs it.
	TwoFA twofa.Store

	// Passkeys keeps WebAuthn credentials; nil turns passkeys off. The
	// relying party ID and origin come from Web.BaseURL, which they need.
	Passkeys passkey.Store

	// Web holds the web server's own settings (BaseURL, Version, Health,
	// Ready, AccessLog, Observe, TrustRequestID, FreshFor). New sets its
	// Login and Logger; a nil TrustRequestID trusts TrustedProxies. The
	// origin of BaseURL is also trusted by the CSRF check.
	Web web.Config
}

// Server is the built object graph.
type Server struct {
	Sessions *session.Manager  // on Config.SessionStore
	Login    *login.Manager    // on Sessions, Config.Accounts and Tokens
	Tokens   *apitoken.Service // on Config.Accounts, auditing to Config.Logger
	Recovery *recovery.Service // on Config.Recovery and Mailer; nil without a Mailer. Close it at shutdown.
	TwoFA    *twofa.Service    // on Config.TwoFA; nil without it
	Passkeys *passkey.Service  // on Config.Passkeys; nil without it
	Web      *web.Server       // on Login; Handler() serves the site
}

// New builds the server described by cfg, or returns an error naming the
// setting that is wrong.
func New(cfg Config) (*Server, error) {
	if cfg.SessionStore == nil || cfg.Accounts == nil || len(cfg.Keys) == 0 {
		return nil, errors.New("server: Config.SessionStore, Accounts and Keys are required")
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
	if cfg.Throttle.Now == nil {
		cfg.Throttle.Now = cfg.Now
	}
	if cfg.Throttle.StoreTimeout == 0 {
		cfg.Throttle.StoreTimeout = cfg.StoreTimeout
	}
	logger := cfg.Logger
	trusted := cfg.TrustedProxies
	clientIP := func(r *http.Request) string { return throttle.ClientIP(r, trusted) }
	errorHandler := web.ErrorHandler(logger)
	auditLog := audit.New(logger)

	sessions, err := session.New(session.Config{
		Store:           cfg.SessionStore,
		Keys:            cfg.Keys,
		IdleTimeout:     cfg.IdleTimeout,
		AbsoluteTimeout: cfg.AbsoluteTimeout,
		Secure:          cfg.Secure,
		Logger:          logger,
		ErrorHandler:    errorHandler,
		ClientIP:        clientIP,
		Now:             cfg.Now,
		Hooks:           cfg.SessionHooks,
		StoreTimeout:    cfg.StoreTimeout,
	})
	if err != nil {
		return nil, err
	}
	var origins []string
	if cfg.Web.BaseURL != "" {
		u, err := url.Parse(cfg.Web.BaseURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("server: Config.Web.BaseURL %q is not an http or https URL", cfg.Web.BaseURL)
		}
		origins = []string{u.Scheme + "://" + u.Host}
	}
	protector, err := csrf.New(csrf.Config{
		Keys:           cfg.Keys,
		Insecure:       !cfg.Secure,
		TrustedOrigins: origins,
		ErrorHandler:   errorHandler,
	})
	if err != nil {
		return nil, err
	}
	tokens := &apitoken.Service{Store: cfg.Accounts, Audit: auditLog, Now: cfg.Now, StoreTimeout: cfg.StoreTimeout, Logger: logger}
	var tf *twofa.Service
	var second login.SecondFactor // stays a nil interface without TwoFA
	if cfg.TwoFA != nil {
		issuer := "hallpass"
		if u, err := url.Parse(cfg.Web.BaseURL); err == nil && u.Hostname() != "" {
			issuer = u.Hostname()
		}
		tf, err = twofa.New(twofa.Config{Store: cfg.TwoFA, Keys: cfg.Keys, Issuer: issuer, Audit: auditLog, Now: cfg.Now, StoreTimeout: cfg.StoreTimeout})
		if err != nil {
			return nil, err
		}
	}
	var pk *passkey.Service
	if cfg.Passkeys != nil && !passkey.UsableBaseURL(cfg.Web.BaseURL) {
		logger.Warn("hallpass passkeys: off, as the base URL names no host (WebAuthn takes a host name as relying party, never an IP address); set HALLPASS_BASE_URL to the site's public URL", "base_url", cfg.Web.BaseURL)
	} else if cfg.Passkeys != nil {
		pk, err = passkey.New(passkey.Config{Store: cfg.Passkeys, BaseURL: cfg.Web.BaseURL, Audit: auditLog, Now: cfg.Now, StoreTimeout: cfg.StoreTimeout})
		if err != nil {
			return nil, err
		}
	}
	switch {
	case pk != nil:
		f := login.Factors{Others: []interface {
			EnrolledAt(ctx context.Context, userID string) (time.Time, error)
		}{pk}}
		if tf != nil {
			f.Code = tf
		}
		second = f
	case tf != nil:
		second = tf
	}
	lm, err := login.New(login.Config{
		SecondFactor: second,
		Sessions:     sessions,
		Users:        cfg.Accounts,
		Passwords:    cfg.Passwords,
		Policy:       password.Policy{MinLength: cfg.PasswordMin},
		Remember:     cfg.Accounts,
		RememberFor:  cfg.RememberFor,
		Tokens:       tokens,
		Throttle:     throttle.New(cfg.Counter, cfg.Throttle),
		CSRF:         protector,
		Audit:        auditLog,
		Secure:       cfg.Secure,
		ClientIP:     clientIP,
		ErrorHandler: errorHandler,
		SendToLogin:  func(r *http.Request) bool { return !web.WantsJSON(r) },
		Logger:       logger,
		Now:          cfg.Now,
		Hooks:        cfg.LoginHooks,
		StoreTimeout: cfg.StoreTimeout,
	})
	if err != nil {
		return nil, err
	}
	var rec *recovery.Service
	if cfg.Mailer != nil {
		if rec, err = newRecovery(cfg, lm, auditLog); err != nil {
			return nil, err
		}
	}
	wc := cfg.Web
	wc.Login = lm
	wc.Logger = logger
	wc.Recovery = rec
	wc.RequireVerifiedEmail = cfg.RequireVerifiedEmail
	wc.TwoFA = tf
	wc.Passkeys = pk
	if wc.TrustRequestID == nil && len(trusted) > 0 {
		wc.TrustRequestID = func(r *http.Request) bool { return throttle.FromTrustedProxy(r, trusted) }
	}
	w, err := web.New(wc)
	if err != nil {
		return nil, err
	}
	return &Server{Sessions: sessions, Login: lm, Tokens: tokens, Recovery: rec, TwoFA: tf, Passkeys: pk, Web: w}, nil
}

// newRecovery builds the recovery Service on cfg's stores and Mailer, with
// lm setting passwords (and ending sessions) and the login throttle's
// Counter counting its limits.
func newRecovery(cfg Config, lm *login.Manager, auditLog *audit.Logger) (*recovery.Service, error) {
	if cfg.Recovery == nil {
		return nil, errors.New("server: Config.Mailer needs Config.Recovery")
	}
	users, emails := cfg.Users, cfg.Emails
	if users == nil {
		users, _ = cfg.Accounts.(recovery.Users)
	}
	if emails == nil {
		emails, _ = cfg.Accounts.(recovery.EmailSetter)
	}
	if users == nil {
		return nil, errors.New("server: Config.Mailer needs Config.Users (Accounts cannot find users by email)")
	}
	if cfg.Web.BaseURL == "" {
		return nil, errors.New("server: Config.Mailer needs Config.Web.BaseURL, the start of the emailed links")
	}
	counter := cfg.Counter
	if counter == nil {
		counter = throttle.NewMemoryCounter(throttle.MemoryOptions{Now: cfg.Now})
	}
	return recovery.New(recovery.Config{
		Tokens:       cfg.Recovery,
		Users:        users,
		SetEmail:     emails,
		Mailer:       cfg.Mailer,
		SetPassword:  func(ctx context.Context, id, pw string) error { return lm.SetPassword(ctx, "", id, pw) },
		Policy:       password.Policy{MinLength: cfg.PasswordMin},
		BaseURL:      cfg.Web.BaseURL,
		ResetFor:     cfg.ResetFor,
		VerifyFor:    cfg.VerifyFor,
		Counter:      counter,
		StoreTimeout: cfg.StoreTimeout,
		Audit:        auditLog,
		Logger:       cfg.Logger,
		Now:          cfg.Now,
	})
}
