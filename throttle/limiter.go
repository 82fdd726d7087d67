// Package throttle slows down password guessing.
//
// A [Limiter] counts failed logins per account and per client IP in a
// shared [Counter] and refuses further attempts when either count is too
// high, or when an account's last failure was too recent. The login
// handler calls [Limiter.Check] before verifying a password and
// [Limiter.Fail] or [Limiter.Succeed] after, and answers a refusal with
// 429 Too Many Requests and a Retry-After header.
//
// [ClientIP] finds the client's address behind trusted reverse proxies.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Default limits, used for zero fields of [Config].
const (
	DefaultPerAccount = 10
	DefaultPerIP      = 100
	DefaultWindow     = 15 * time.Minute
	DefaultDelayAfter = 3
	DefaultBaseDelay  = time.Second
	DefaultMaxDelay   = time.Minute
	DefaultIPv6Prefix = 64
)

var (
	// ErrThrottled matches every refusal from [Limiter.Check]; the error
	// is a [*ThrottledError], which says how long to wait.
	ErrThrottled = errors.New("throttle: too many failed attempts")

	// ErrUnavailable wraps every failure of the [Counter], so the caller
	// can refuse the login (503) rather than let guesses through
	// uncounted.
	ErrUnavailable = errors.New("throttle: counter unavailable")
)

// Reason names the limit that refused an attempt.
type Reason string

// The limits a [ThrottledError] can report.
const (
	// ReasonAccount: the account had Config.PerAccount failures in the
	// current window.
	ReasonAccount Reason = "account"
	// ReasonIP: the client's address had Config.PerIP failures in the
	// current window, across all accounts.
	ReasonIP Reason = "ip"
	// ReasonDelay: the account's last failure was too recent (the
	// growing delay).
	ReasonDelay Reason = "delay"
)

// ThrottledError reports a refused login attempt. errors.Is(err,
// ErrThrottled) matches it, and errors.As recovers it. Its Error text is
// a sentence fit to show the person trying to log in.
type ThrottledError struct {
	// RetryAfter is how long until the attempt would be allowed.
	RetryAfter time.Duration
	// Reason is the limit that refused the attempt; when several did,
	// the one with the longest wait.
	Reason Reason
}

// Error returns a sentence such as "Too many failed login attempts. Try
// again in 4 minutes.", rounding the wait up.
func (e *ThrottledError) Error() string {
	return "Too many failed login attempts. Try again in " + humanDuration(e.RetryAfter) + "."
}

// Unwrap returns ErrThrottled.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// RetryAfterSeconds returns RetryAfter in whole seconds, rounded up and
// at least 1, for the Retry-After response header.
func (e *ThrottledError) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

func humanDuration(d time.Duration) string {
	secs := max(1, int(math.Ceil(d.Seconds())))
	unit := func(n int, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return strconv.Itoa(n) + " " + name + "s"
	}
	switch mins := (secs + 59) / 60; {
	case secs < 60:
		return unit(secs, "second")
	case mins < 120:
		return unit(mins, "minute")
	default:
		return unit((mins+59)/60, "hour")
	}
}

// Config sets a [Limiter]'s limits. The zero value gives the defaults
// documented on each field.
type Config struct {
	// PerAccount is how many failures an account may have in one Window
	// before further attempts are refused until the window ends.
	// Default DefaultPerAccount (10); negative means no limit.
	PerAccount int

	// PerIP is how many failures one client address may have in one
	// Window, across all accounts. IPv6 addresses count per IPv6Prefix
	// network, since one client usually holds a whole /64. Default
	// DefaultPerIP (100); negative means no limit.
	PerIP int

	// Window is how long failures are remembered, from the first
	// failure of a run: a fixed window, so ten failures lock an account
	// until Window after the first of them. Default DefaultWindow (15
	// minutes).
	Window time.Duration

	// DelayAfter is the failure count from which an account must wait
	// between attempts: after the nth failure (n >= DelayAfter) the next
	// attempt is refused for BaseDelay * 2^(n-DelayAfter), at most
	// MaxDelay. Default DefaultDelayAfter (3); negative disables the
	// delays.
	DelayAfter int

	// BaseDelay is the first delay. Default DefaultBaseDelay (1s).
	BaseDelay time.Duration

	// MaxDelay caps the delay. Default DefaultMaxDelay (1 minute).
	MaxDelay time.Duration

	// IPv6Prefix is the length of the IPv6 network counted as one
	// client. Default DefaultIPv6Prefix (64).
	IPv6Prefix int

	// Now is the limiter's clock, which should be the Counter's too.
	// Default time.Now.
	Now func() time.Time

	// StoreTimeout is the deadline of the Counter calls made by one
	// Check, Fail or Succeed. Past it the call fails with [ErrUnavailable]
	// instead of hanging the login. Default DefaultStoreTimeout (3
	// seconds).
	StoreTimeout time.Duration
}

// DefaultStoreTimeout is the deadline of the Counter calls of one Check,
// Fail or Succeed when Config.StoreTimeout is zero.
const DefaultStoreTimeout = 3 * time.Second

// Limiter decides whether a login attempt may proceed. It is safe for
// concurrent use; all its state is in its Counter.
//
// With the defaults, an account's failures are answered as follows:
//
//	failures  next attempt allowed
//	1–2       at once
//	3         after 1s
//	4         after 2s
//	5         after 4s
//	6         after 8s
//	7         after 16s
//	8         after 32s
//	9         after 1m (64s, capped)
//	10        when the 15-minute window ends, 15 minutes after the first failure
//
// and a client address with 100 failures in 15 minutes, over any
// accounts, is refused until its window ends. A success clears the
// account's failures but not the address's.
//
// Check and Fail are separate calls, so concurrent attempts that all pass
// Check before any calls Fail are each allowed; the counts they leave
// behind still lock the account.
type Limiter struct {
	counter Counter
	cfg     Config
}

// New returns a Limiter that keeps its counts in c, or in a new
// [MemoryCounter] with cfg.Now as its clock when c is nil.
func New(c Counter, cfg Config) *Limiter {
	if cfg.PerAccount == 0 {
		cfg.PerAccount = DefaultPerAccount
	}
	if cfg.PerIP == 0 {
		cfg.PerIP = DefaultPerIP
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.DelayAfter == 0 {
		cfg.DelayAfter = DefaultDelayAfter
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.IPv6Prefix <= 0 || cfg.IPv6Prefix > 128 {
		cfg.IPv6Prefix = DefaultIPv6Prefix
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if c == nil {
		c = NewMemoryCounter(MemoryOptions{Now: cfg.Now})
	}
	return &Limiter{counter: c, cfg: cfg}
}

// Delay returns how long an account must wait after its nth failure
// before the next attempt, by the growing-delay schedule alone (see
// Config.DelayAfter); it does not include the PerAccount lock.
func (l *Limiter) Delay(failures int) time.Duration {
	if l.cfg.DelayAfter < 0 || failures < l.cfg.DelayAfter {
		return 0
	}
	d := l.cfg.BaseDelay
	for i := l.cfg.DelayAfter; i < failures && d < l.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, l.cfg.MaxDelay)
}

// Check reports whether a login attempt for account from client address
// ip may proceed now. It returns nil if so, a [*ThrottledError] if a
// limit refuses it, or an error wrapping [ErrUnavailable] if the Counter
// failed. Accounts are compared case-insensitively, ignoring surrounding
// space, and stored only as hashes. An empty ip (an unknown address)
// skips the per-address limit.
func (l *Limiter) Check(ctx context.Context, account, ip string) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	now := l.cfg.Now()
	var worst *ThrottledError
	refuse := func(reason Reason, until time.Time) {
		if d := until.Sub(now); worst == nil || d > worst.RetryAfter {
			worst = &ThrottledError{RetryAfter: max(d, 0), Reason: reason}
		}
	}

	if ip != "" && l.cfg.PerIP > 0 {
		n, reset, err := l.counter.Get(ctx, l.ipKey(ip))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if n >= l.cfg.PerIP {
			refuse(ReasonIP, reset)
		}
	}

	acct := accountHash(account)
	n, reset, err := l.counter.Get(ctx, accountKey(acct))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if l.cfg.PerAccount > 0 && n >= l.cfg.PerAccount {
		refuse(ReasonAccount, reset)
	} else if l.Delay(n) > 0 {
		live, until, err := l.counter.Get(ctx, delayKey(acct, n))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if live > 0 {
			refuse(ReasonDelay, until)
		}
	}

	if worst != nil {
		return worst
	}
	return nil
}

// Fail records a failed login attempt for account from ip. It returns an
// error only when the Counter fails, wrapping [ErrUnavailable].
func (l *Limiter) Fail(ctx context.Context, account, ip string) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	if ip != "" && l.cfg.PerIP > 0 {
		if _, _, err := l.counter.Incr(ctx, l.ipKey(ip), l.cfg.Window); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	acct := accountHash(account)
	n, _, err := l.counter.Incr(ctx, accountKey(acct), l.cfg.Window)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if l.cfg.PerAccount > 0 && n >= l.cfg.PerAccount {
		return nil // locked for the rest of the window anyway
	}
	if d := l.Delay(n); d > 0 {
		// The delay is a key that lives for d; one key per failure
		// count, so it never needs resetting.
		if _, _, err := l.counter.Incr(ctx, delayKey(acct, n), d); err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// Succeed records a successful login for account: it clears the
// account's failures, and with them its delay. The address's failures
// are kept, so an attacker cannot clear them by logging in to an account
// of their own. It returns an error only when the Counter fails,
// wrapping [ErrUnavailable].
func (l *Limiter) Succeed(ctx context.Context, account, ip string) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	if err := l.counter.Reset(ctx, accountKey(accountHash(account))); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Counter keys. Accounts are stored as a truncated SHA-256 of the
// normalised name, so a dump of the counter holds no usernames.
func accountHash(account string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(account))))
	return hex.EncodeToString(sum[:16])
}

func accountKey(hash string) string { return "throttle:acct:" + hash }

func delayKey(hash string, failures int) string {
	return "throttle:delay:" + hash + ":" + strconv.Itoa(failures)
}

func (l *Limiter) ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		sum := sha256.Sum256([]byte(ip))
		return "throttle:ip?:" + hex.EncodeToString(sum[:16])
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(l.cfg.IPv6Prefix)
		return "throttle:ip:" + p.String()
	}
	return "throttle:ip:" + a.String()
}
