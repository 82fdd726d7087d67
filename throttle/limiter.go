// Package throttle slows down password guessing.
//
// A [Limiter] counts failed logins per account and per client IP in a
// shared [Counter] and refuses further attempts when either count is too
// high, or when an account's last failure was too recent. The login
// handler calls [Limiter.Reserve] before verifying a password, which
// counts the attempt at once, then settles the [Reservation] with Fail,
// Succeed or Cancel, and answers a refusal with 429 Too Many Requests and
// a Retry-After header. A browser the owner has logged in from before is
// judged by its own failures ([Attempt.Device]), so nobody can lock the
// owner out. [Limiter.AllowRegistration] limits new accounts per address
// in the same Counter.
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

	"github.com/hallpass/hallpass/autherr"
)

// Default limits, used for zero fields of [Config].
const (
	DefaultPerAccount = 10
	DefaultPerDevice  = 10
	DefaultPerIP      = 100
	DefaultWindow     = 15 * time.Minute
	DefaultDelayAfter = 3
	DefaultBaseDelay  = time.Second
	DefaultMaxDelay   = time.Minute
	DefaultIPv6Prefix = 64

	DefaultRegisterPerIP  = 10
	DefaultRegisterWindow = time.Hour
)

var (
	// ErrThrottled matches every refusal from [Limiter.Reserve]; the error
	// is a [*ThrottledError], which says how long to wait.
	ErrThrottled error = autherr.New(autherr.Throttled, "throttle: too many failed attempts")

	// ErrUnavailable wraps every failure of the [Counter], so the caller
	// can refuse the login (503) rather than let guesses through
	// uncounted.
	ErrUnavailable error = autherr.New(autherr.Unavailable, "throttle: counter unavailable")
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
	// ReasonDevice: the known device had Config.PerDevice failures in
	// the current window.
	ReasonDevice Reason = "device"
	// ReasonRegister: the client's address created
	// Config.RegisterPerIP accounts in the current RegisterWindow.
	ReasonRegister Reason = "register"
	// ReasonDelay: the account's (or known device's) last failure was
	// too recent (the growing delay).
	ReasonDelay Reason = "delay"
	// ReasonBusy: the account (or known device) has as many attempts
	// being checked at this moment as its limit allows, and too few
	// failures to be refused by them: a client that logs in to one
	// account from many requests at once. RetryAfter is BusyWait.
	ReasonBusy Reason = "busy"
)

// BusyWait is the RetryAfter of a refusal for attempts in flight
// (ReasonBusy): about how long a password check takes to settle.
const BusyWait = time.Second

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
// again in 4 minutes." (for a registration: "Too many sign-ups from your
// address. Try again in 40 minutes."; for attempts in flight: "Too many
// login attempts at once. Try again in 1 second."), rounding the wait up.
func (e *ThrottledError) Error() string {
	what := "Too many failed login attempts."
	switch e.Reason {
	case ReasonRegister:
		what = "Too many sign-ups from your address."
	case ReasonBusy:
		what = "Too many login attempts at once."
	}
	return what + " Try again in " + humanDuration(e.RetryAfter) + "."
}

// Unwrap returns ErrThrottled, as an error of kind autherr.Throttled
// whose message is e's sentence and whose RetryAfter is e's.
func (e *ThrottledError) Unwrap() error {
	return &autherr.Error{Kind: autherr.Throttled, Message: e.Error(), RetryAfter: e.RetryAfter, Err: ErrThrottled}
}

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

	// PerDevice is how many failures a known device (see
	// Attempt.Device) may have in one Window before its own further
	// attempts are refused until the window ends. Default
	// DefaultPerDevice (10); negative means no limit.
	PerDevice int

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

	// RegisterPerIP is how many accounts one client address may
	// register in one RegisterWindow ([Limiter.AllowRegistration]);
	// IPv6 addresses count per IPv6Prefix network. Default
	// DefaultRegisterPerIP (10); negative means no limit.
	RegisterPerIP int

	// RegisterWindow is how long registrations are remembered, from
	// the first of a run. Default DefaultRegisterWindow (1 hour).
	RegisterWindow time.Duration

	// Now is the limiter's clock, which should be the Counter's too.
	// Default time.Now.
	Now func() time.Time

	// StoreTimeout is the deadline of the Counter calls made by one
	// Check, Fail or Succeed. Past it the call fails with [ErrUnavailable]
	// instead of hanging the login. Default DefaultStoreTimeout (3
	// seconds).
	StoreTimeout time.Duration
}

// DefaultStoreTimeout is the deadline of the Counter calls of one
// Reserve, AllowRegistration or settling of a Reservation when
// Config.StoreTimeout is zero.
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
// These limits face unknown clients. The owner's usual browser, named by
// [Attempt.Device], is judged by the same schedule on its own failures
// alone (PerDevice), so nobody can lock an owner out by failing on
// purpose from elsewhere.
//
// An attempt is counted before its password is checked ([Limiter.Reserve])
// and taken back if it succeeds, so a burst of parallel guesses gets no
// more password checks than the limits allow.
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
	if cfg.PerDevice == 0 {
		cfg.PerDevice = DefaultPerDevice
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
	if cfg.RegisterPerIP == 0 {
		cfg.RegisterPerIP = DefaultRegisterPerIP
	}
	if cfg.RegisterWindow <= 0 {
		cfg.RegisterWindow = DefaultRegisterWindow
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

// Attempt describes a login attempt to [Limiter.Reserve].
type Attempt struct {
	// Account is the account name as typed. Accounts are compared
	// case-insensitively, ignoring surrounding space, and stored only
	// as hashes.
	Account string

	// IP is the client's address; "" (an unknown address) skips the
	// per-address limit.
	IP string

	// Device identifies a browser known to belong to the account's
	// owner, such as the nonce of a signed device cookie that the
	// caller has verified for this account (package login issues
	// them); it is stored only as a hash. "" means an unknown client.
	//
	// A known device is judged by its own failures only (PerDevice and
	// the growing delay on its own count), not by the account's or the
	// address's, and its failures count against it alone: others'
	// failures can lock an account for unknown clients, never for its
	// owner's usual browser (OWASP's "device cookies").
	Device string
}

// Reserve counts a login attempt before its password is checked, and
// reports whether it may proceed. Each limit's count is taken with one
// atomic [Counter.Reserve], so of any number of parallel attempts at most
// as many proceed as the limit has room for: the rest are refused here,
// before any password work.
//
// It returns a [*Reservation] that the caller must settle once the
// password has been checked (Fail, Succeed or Cancel); a
// [*ThrottledError] if a limit refuses the attempt, in which case nothing
// stays counted; or an error wrapping [ErrUnavailable] if the Counter
// failed.
func (l *Limiter) Reserve(ctx context.Context, a Attempt) (*Reservation, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	now := l.cfg.Now()
	var worst *ThrottledError
	refuse := func(reason Reason, until time.Time) {
		if d := until.Sub(now); worst == nil || d > worst.RetryAfter {
			worst = &ThrottledError{RetryAfter: max(d, 0), Reason: reason}
		}
	}
	res := &Reservation{l: l}

	subject, limit, reason := "acct:"+accountHash(a.Account), l.cfg.PerAccount, ReasonAccount
	if a.Device != "" {
		subject, limit, reason = "dev:"+hash(a.Device), l.cfg.PerDevice, ReasonDevice
	} else if a.IP != "" && l.cfg.PerIP > 0 {
		key := l.ipKey(a.IP)
		_, reset, ok, err := l.counter.Reserve(ctx, key, l.cfg.PerIP, l.cfg.Window)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if ok {
			res.ip = key
		} else {
			refuse(ReasonIP, reset)
		}
	}

	if worst != nil {
		// Refused already: the subject's count is only read, for the
		// longest wait, so a flood of refused attempts cannot hold its
		// places and refuse others.
		n, reset, err := l.counter.Get(ctx, "throttle:"+subject)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if limit > 0 && n >= limit {
			refuse(reason, reset)
		}
		return nil, worst
	}
	n, reset, ok, err := l.reserve(ctx, "throttle:"+subject, limit)
	if err != nil {
		res.Cancel(ctx)
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if ok {
		res.subject, res.limit, res.count = "throttle:"+subject, limit, n
		res.delay = "throttle:delay:" + subject + ":"
		// The attempt is also counted apart as in flight until it is
		// settled, so that a refusal can tell attempts still being
		// checked from failures.
		if _, _, err := l.counter.Incr(ctx, busyKey(subject), l.cfg.Window); err != nil {
			res.Cancel(ctx)
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		res.busy = busyKey(subject)
		// The failures before this attempt (and any in flight) are
		// n-1; the growing delay after the last of them may still run.
		if l.Delay(n-1) > 0 {
			live, until, err := l.counter.Get(ctx, res.delayKey(n-1))
			if err != nil {
				res.Cancel(ctx)
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			if live > 0 {
				refuse(ReasonDelay, until)
			}
		}
	} else {
		// Full: of failures, or of attempts still being checked (a
		// client logging in to one account from many requests at once),
		// which are answered in a moment rather than at the window's end.
		busy, _, err := l.counter.Get(ctx, busyKey(subject))
		if err != nil {
			res.Cancel(ctx)
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if n-busy < limit {
			refuse(ReasonBusy, now.Add(BusyWait))
		} else {
			refuse(reason, reset)
		}
	}

	if worst != nil {
		// A refused attempt leaves no count behind; should the release
		// fail, the count is one too high until its window ends.
		res.Cancel(ctx)
		return nil, worst
	}
	return res, nil
}

// busyKey is the counter key of the attempts of subject in flight.
func busyKey(subject string) string { return "throttle:busy:" + subject }

// reserve is Counter.Reserve for a limit, or Counter.Incr when limit is
// not positive (no limit).
func (l *Limiter) reserve(ctx context.Context, key string, limit int) (int, time.Time, bool, error) {
	if limit <= 0 {
		n, reset, err := l.counter.Incr(ctx, key, l.cfg.Window)
		return n, reset, err == nil, err
	}
	return l.counter.Reserve(ctx, key, limit, l.cfg.Window)
}

// Reservation is a login attempt counted by [Limiter.Reserve] before its
// password was checked. Settle it with exactly one of Fail, Succeed or
// Cancel; later calls do nothing. A Reservation is not safe for
// concurrent use.
type Reservation struct {
	l       *Limiter
	ip      string // the address's counter key; "" if not counted
	subject string // the account's or device's counter key; "" if not counted
	limit   int    // the subject's limit
	delay   string // prefix of the subject's delay keys
	busy    string // the key counting the subject's attempts in flight; "" if not counted
	count   int    // the subject's count with this attempt
	done    bool
}

func (r *Reservation) delayKey(failures int) string { return r.delay + strconv.Itoa(failures) }

// Fail records that the attempt failed: it stays counted against the
// account (or known device) and the address, and the growing delay
// starts. It
// returns an error only when the Counter fails, wrapping
// [ErrUnavailable].
func (r *Reservation) Fail(ctx context.Context) error {
	if r.done {
		return nil
	}
	r.done = true
	l := r.l
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	var errs []error
	if r.busy != "" {
		errs = append(errs, l.counter.Release(ctx, r.busy))
	}
	if r.subject != "" && (r.limit <= 0 || r.count < r.limit) { // else locked for the rest of the window anyway
		if d := l.Delay(r.count); d > 0 {
			// The delay is a key that lives for d; one key per failure
			// count, so it never needs resetting.
			_, _, err := l.counter.Incr(ctx, r.delayKey(r.count), d)
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Succeed records that the attempt succeeded: it clears the failures it
// was judged by, the account's or a known device's own, and with them
// the delay. A known device's success leaves the account's count alone,
// so the owner's logins do not unlock the account for an attacker. The
// address's earlier failures are kept, so an attacker cannot clear them
// by logging in to an account of their own; only this attempt's count is
// taken back. It returns an
// error only when the Counter fails, wrapping [ErrUnavailable].
func (r *Reservation) Succeed(ctx context.Context) error { return r.settle(ctx, true) }

// Cancel takes the attempt back, for an attempt that was neither a
// failure nor a success: the password could not be checked (the hasher
// was busy, a store was down). Earlier counts are untouched. It returns
// an error only when the Counter fails, wrapping [ErrUnavailable].
func (r *Reservation) Cancel(ctx context.Context) error { return r.settle(ctx, false) }

// settle releases the address's count and either clears the subject's
// failures or releases its count.
func (r *Reservation) settle(ctx context.Context, clear bool) error {
	if r.done {
		return nil
	}
	r.done = true
	ctx, cancel := context.WithTimeout(ctx, r.l.cfg.StoreTimeout)
	defer cancel()
	var errs []error
	switch {
	case r.subject != "" && clear:
		errs = append(errs, r.l.counter.Reset(ctx, r.subject))
	case r.subject != "":
		errs = append(errs, r.l.counter.Release(ctx, r.subject))
	}
	if r.ip != "" {
		errs = append(errs, r.l.counter.Release(ctx, r.ip))
	}
	if r.busy != "" {
		errs = append(errs, r.l.counter.Release(ctx, r.busy))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// AllowRegistration counts a registration from client address ip, to be
// called once the form has been checked and before the password is
// hashed. It returns nil if the registration may proceed, a
// [*ThrottledError] (Reason ReasonRegister) once ip has made
// Config.RegisterPerIP registrations in the current RegisterWindow, or an
// error wrapping [ErrUnavailable] if the Counter failed. Every counted
// attempt stays counted, whatever its outcome, so a flood from one address
// costs at most RegisterPerIP password hashes per window. An empty ip (an
// unknown address) is not limited.
func (l *Limiter) AllowRegistration(ctx context.Context, ip string) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	if ip == "" || l.cfg.RegisterPerIP < 0 {
		return nil
	}
	key := "throttle:reg:" + strings.TrimPrefix(l.ipKey(ip), "throttle:")
	_, reset, ok, err := l.counter.Reserve(ctx, key, l.cfg.RegisterPerIP, l.cfg.RegisterWindow)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !ok {
		return &ThrottledError{RetryAfter: max(reset.Sub(l.cfg.Now()), 0), Reason: ReasonRegister}
	}
	return nil
}

// Counter keys. Accounts are stored as a truncated SHA-256 of the
// normalised name, devices as one of their ID, so a dump of the counter
// holds no usernames and no device cookies.
func accountHash(account string) string {
	return hash(strings.ToLower(strings.TrimSpace(account)))
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func (l *Limiter) ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "throttle:ip?:" + hash(ip)
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(l.cfg.IPv6Prefix)
		return "throttle:ip:" + p.String()
	}
	return "throttle:ip:" + a.String()
}
