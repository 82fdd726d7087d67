// Package recovery is account recovery by email: password reset links,
// email verification links and changes of address, for hallpass's server
// and for any app built on the library, with hallpass's account stores or
// its own user table.
//
// A Service needs three small things: a Store for the links (memstore,
// sqlitestore and pgstore provide one; recoverytest checks any), the
// app's Users (find a user by ID and by address), and a way to set a
// password that also ends the user's sessions (login.Manager.SetPassword).
// It sends mail through a mail.Mailer, best a mail.Queue so no request
// waits for the mail server.
//
// The promises:
//   - Links carry 256 random bits; the store keeps only their SHA-256.
//   - A link works once. A reset link is valid for Config.ResetFor (1
//     hour) and dies with any later change of the password; a
//     verification link for Config.VerifyFor (24 hours).
//   - RequestReset answers the same, in the same time, whether or not an
//     account uses the address: the lookup and the mail happen in the
//     background, where the limits per client address and per email
//     address are also counted (on the throttle Counter, so a shared
//     Counter limits every process together).
//   - When the Users implement UsersByEmail, every enabled account at an
//     address gets a reset link of its own (at most MaxUsersByEmail), so
//     an account registered first with someone else's address cannot
//     capture that person's resets.
//   - No token reaches a log line or an audit event (only the mail).
package recovery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/internal/workq"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// Errors. Check them with errors.Is.
var (
	// ErrInvalidToken reports a link that is unknown, used, expired or
	// voided by a later password change: all alike, kind autherr.Invalid,
	// code "invalid_token", message MsgInvalidLink.
	ErrInvalidToken error = &autherr.Error{Kind: autherr.Invalid, Code: "invalid_token", Message: MsgInvalidLink,
		Err: errors.New("recovery: invalid, used or expired link")}

	// ErrUnverified reports a login refused because the account's address
	// is not verified (Config.RequireVerified is the caller's). Kind
	// autherr.Forbidden, code "email_unverified".
	ErrUnverified error = &autherr.Error{Kind: autherr.Forbidden, Code: "email_unverified",
		Message: "Please confirm your email address first: follow the link we sent you, or ask for a new one.",
		Err:     errors.New("recovery: email address not verified")}

	// ErrNotSupported reports an email change on a Service without
	// Config.SetEmail. Kind autherr.Unsupported.
	ErrNotSupported error = autherr.New(autherr.Unsupported, "recovery: changing the email address is not supported")

	// ErrUnavailable wraps failures of the Store and Users. Kind
	// autherr.Unavailable.
	ErrUnavailable error = autherr.New(autherr.Unavailable, "recovery: store unavailable")
)

// Messages shown to people, exactly as the flows' contract words them.
const (
	MsgInvalidLink = "This link is invalid or has expired."
	MsgResetSent   = "If an account uses that address, we have sent it a link to reset the password."
)

// Defaults of Config.
const (
	DefaultResetFor  = time.Hour
	DefaultVerifyFor = 24 * time.Hour
)

// Limits caps how many emails can be asked for. Zero fields take the
// defaults documented on each. Counts that go over a limit send nothing.
type Limits struct {
	PerIP      int           // reset requests from one client address per Window; default 20
	PerAddress int           // reset requests for one email address per Window, however many accounts share it; default 3
	PerUser    int           // verification and change links for one user per Window; default 3
	Window     time.Duration // default 1 hour
}

// Config configures a Service. Tokens, Users, Mailer, BaseURL and, for
// resets, SetPassword are required; every other zero field is a documented
// default or turns a feature off.
type Config struct {
	Tokens Store       // the links; required
	Users  Users       // the app's users; required
	Mailer mail.Mailer // sends the links; required (give it a mail.Queue)

	// SetPassword sets a user's new password and ends every session,
	// remember-me token and API token of the user, returning a
	// *account.FieldError (or account.FieldErrors) when the password
	// policy refuses it. login.Manager.SetPassword does all that:
	//
	//	SetPassword: func(ctx context.Context, id, pw string) error { return lm.SetPassword(ctx, "", id, pw) }
	SetPassword func(ctx context.Context, userID, newPassword string) error
	// Policy, if set, checks a new password before its link is used up,
	// so a refused password leaves the link working. *password.Policy
	// implements it.
	Policy interface {
		Check(password, username string) error
	}
	// SetEmail changes a user's address when a change link is followed;
	// nil refuses RequestEmailChange with ErrNotSupported.
	SetEmail EmailSetter

	// BaseURL is the public URL the links start with, such as
	// "https://login.example.com". Required.
	BaseURL string
	// ResetPath and VerifyPath are the paths, under BaseURL, that take a
	// token as their last segment. Defaults "/password/reset/" and
	// "/verify/".
	ResetPath, VerifyPath string
	// SiteName names the site in the messages. Default "hallpass".
	SiteName string

	ResetFor  time.Duration // lifetime of a reset link; default DefaultResetFor (1 hour)
	VerifyFor time.Duration // lifetime of a verification or change link; default DefaultVerifyFor (24 hours)

	// Counter counts the Limits; share one (redisstore.Counter) between
	// processes. Default a throttle.MemoryCounter of this process.
	Counter throttle.Counter
	Limits  Limits

	// Backlog is how many reset requests may wait for the background
	// worker; more are dropped with a log line. Default 100.
	Backlog int

	// StoreTimeout is the deadline of each call to Tokens, Users and
	// SetEmail; past it the call fails and the request gets a 503, as
	// with the session store, instead of hanging while a store is
	// silent. Default session.DefaultStoreTimeout (3 seconds); negative:
	// none.
	StoreTimeout time.Duration

	Audit  *audit.Logger // records every step; nil discards
	Logger *slog.Logger  // operational errors; default slog.Default()
	Now    func() time.Time
}

// Service runs the flows. Create it with New and stop it with Close; it is
// safe for concurrent use.
type Service struct {
	cfg  Config
	jobs *workq.Queue // reset requests, handled in the background
}

// New returns a Service for cfg, with its background worker running.
func New(cfg Config) (*Service, error) {
	if cfg.Tokens == nil || cfg.Users == nil || cfg.Mailer == nil || cfg.SetPassword == nil {
		return nil, errors.New("recovery: Config.Tokens, Users, Mailer and SetPassword are required")
	}
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("recovery: Config.BaseURL %q is not an http or https URL", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.ResetPath, "/password/reset/")
	def(&cfg.VerifyPath, "/verify/")
	def(&cfg.SiteName, "hallpass")
	if cfg.ResetFor <= 0 {
		cfg.ResetFor = DefaultResetFor
	}
	if cfg.VerifyFor <= 0 {
		cfg.VerifyFor = DefaultVerifyFor
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Counter == nil {
		cfg.Counter = throttle.NewMemoryCounter(throttle.MemoryOptions{Now: cfg.Now})
	}
	l := &cfg.Limits
	if l.PerIP <= 0 {
		l.PerIP = 20
	}
	if l.PerAddress <= 0 {
		l.PerAddress = 3
	}
	if l.PerUser <= 0 {
		l.PerUser = 3
	}
	if l.Window <= 0 {
		l.Window = time.Hour
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = session.DefaultStoreTimeout
	}
	if d := cfg.StoreTimeout; d > 0 {
		cfg.Tokens = deadlineStore{cfg.Tokens, d}
		cfg.Users = withDeadline(cfg.Users, d)
		if cfg.SetEmail != nil {
			cfg.SetEmail = deadlineEmails{cfg.SetEmail, d}
		}
	}
	return &Service{cfg: cfg, jobs: workq.New(cfg.Backlog, 1)}, nil
}

// Config returns the Service's configuration, defaults filled in.
func (s *Service) Config() Config { return s.cfg }

// Close stops taking reset requests and waits, until ctx ends, for the
// queued ones to be handled (their mail handed to the Mailer).
func (s *Service) Close(ctx context.Context) error { return s.jobs.Close(ctx) }

// newSecret returns a link secret (32 bytes from crypto/rand, base64url)
// and its digest.
func newSecret() (string, []byte) {
	var b [32]byte
	rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, sum[:]
}

// digest returns the stored digest of a secret from a link, and false when
// the secret cannot be one this package made (so no store is asked).
func digest(secret string) ([]byte, bool) {
	if len(secret) != 43 {
		return nil, false
	}
	// The decoded length is checked as well as the text's: base64 decoders
	// skip CR and LF, so "...\n..." of 43 characters would decode to less.
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != 32 {
		return nil, false
	}
	sum := sha256.Sum256([]byte(secret))
	return sum[:], true
}

func (s *Service) now() time.Time { return s.cfg.Now().Truncate(time.Millisecond) }

func (s *Service) record(ctx context.Context, e audit.Event) { s.cfg.Audit.Record(ctx, e) }

// failed wraps a failure of the Store or Users as ErrUnavailable.
func failed(what string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// human writes a duration as people say it: "1 hour", "24 hours", "30 minutes".
func human(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		if d == time.Hour {
			return "1 hour"
		}
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	case d >= time.Minute:
		m := int((d + time.Minute - 1) / time.Minute)
		if m == 1 {
			return "1 minute"
		}
		return strconv.Itoa(m) + " minutes"
	}
	return d.String()
}

// allow counts one event under key against limit, and reports whether it
// fits. A Counter that fails counts as over the limit: nothing is sent
// unlimited.
func (s *Service) allow(ctx context.Context, key string, limit int) (ok bool, retry time.Duration) {
	_, resetAt, ok, err := s.cfg.Counter.Reserve(ctx, "recovery:"+key, limit, s.cfg.Limits.Window)
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "recovery: throttle counter failed; nothing sent", "err", err)
		return false, time.Minute
	}
	return ok, resetAt.Sub(s.cfg.Now())
}

// tooMany is the error of a limited resend.
func tooMany(retry time.Duration) error {
	msg := "Too many emails asked for. Try again in " + human(max(retry, time.Minute)) + "."
	return &autherr.Error{Kind: autherr.Throttled, Message: msg, RetryAfter: retry, Err: throttle.ErrThrottled}
}

// isNotFound reports an error of Users or Store that means "no such".
func isNotFound(err error) bool { return errors.Is(err, account.ErrNotFound) }
