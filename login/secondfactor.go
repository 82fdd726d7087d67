package login

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// SecondFactor is what the Manager asks at every login of a user:
// whether they have a second factor, and whether a code is right.
// *twofa.Service implements it.
type SecondFactor interface {
	// EnrolledAt returns when the user enabled a second factor, or the
	// zero time when they have none.
	EnrolledAt(ctx context.Context, userID string) (time.Time, error)
	// Verify checks a code and uses it up. A wrong or used code is an
	// error of kind autherr.Unauthenticated; other errors are failures.
	Verify(ctx context.Context, userID, code string) error
}

// DefaultPendingFor is the default for Config.PendingFor.
const DefaultPendingFor = 5 * time.Minute

// ErrSecondFactorRequired is what Login returns for a user with a second
// factor: the password was right, and the session now holds a pending
// login that CompleteSecondFactor finishes. Kind autherr.Unauthenticated,
// code "second_factor_required".
var ErrSecondFactorRequired error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "second_factor_required",
	Message: "Please enter the code from your authenticator app.", Err: errors.New("login: second factor required")}

// ErrNoPendingLogin reports a second-factor step without a pending login,
// or with one older than Config.PendingFor. Kind autherr.Unauthenticated,
// code "login_expired".
var ErrNoPendingLogin error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "login_expired",
	Message: "Your login has expired. Please enter your password again.", Err: errors.New("login: no pending login")}

// pendingKey holds a login waiting for its second factor; secondKey marks
// a session whose login passed a second factor.
const (
	pendingKey = "_pending"
	secondKey  = "_2fa"
)

// pending is a login whose password was right, waiting for its second
// factor.
type pending struct {
	UserID   string    `json:"id"`
	Username string    `json:"u"`
	PwAt     time.Time `json:"p"`
	Remember bool      `json:"r,omitempty"`
	At       time.Time `json:"t"`
}

// enrolledAt asks Config.SecondFactor, or answers zero without one.
func (m *Manager) enrolledAt(ctx context.Context, userID string) (time.Time, error) {
	if m.cfg.SecondFactor == nil {
		return time.Time{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	at, err := m.cfg.SecondFactor.EnrolledAt(ctx, userID)
	if err != nil {
		return time.Time{}, m.storeFailure(ctx, "load second factor", err)
	}
	return at, nil
}

// startPending puts a pending login of u in the request's session, under
// a new token, with no user bound to it.
func (m *Manager) startPending(r *http.Request, u *account.User, remember bool) error {
	s := session.FromRequest(r)
	if s == nil {
		m.miswired(r.Context(), "Login runs outside session.Manager.Middleware")
		return session.ErrNoSession
	}
	if err := s.Put(pendingKey, pending{UserID: u.ID, Username: u.Username, PwAt: u.PasswordChangedAt,
		Remember: remember, At: m.now()}); err != nil {
		return err
	}
	return s.Renew()
}

// PendingUser returns the user whose login waits for a second factor in
// this request's session, or ErrNoPendingLogin (also once it is older
// than Config.PendingFor).
func (m *Manager) PendingUser(r *http.Request) (*account.User, error) {
	p, err := m.pendingOf(r)
	if err != nil {
		return nil, err
	}
	return &account.User{ID: p.UserID, Username: p.Username, PasswordChangedAt: p.PwAt}, nil
}

func (m *Manager) pendingOf(r *http.Request) (*pending, error) {
	s := session.FromRequest(r)
	if s == nil {
		return nil, session.ErrNoSession
	}
	if err := s.Load(); err != nil {
		return nil, err
	}
	var p pending
	if ok, _ := s.Get(pendingKey, &p); !ok || p.UserID == "" {
		return nil, ErrNoPendingLogin
	}
	if m.now().Sub(p.At) >= m.cfg.PendingFor {
		s.Delete(pendingKey)
		return nil, ErrNoPendingLogin
	}
	return &p, nil
}

// CompleteSecondFactor finishes the pending login of this request's
// session with code, checked by Config.SecondFactor: the session gets a
// new token and the user, as Login does without a second factor, and is
// marked as having passed one (SecondFactorDone). Codes are counted by
// the throttle like passwords, apart from the user's passwords (a right
// password does not clear failed codes). A wrong code
// returns the verifier's error (kind autherr.Unauthenticated) and leaves
// the login pending; ErrNoPendingLogin when there is none.
func (m *Manager) CompleteSecondFactor(w http.ResponseWriter, r *http.Request, code string) (*account.User, error) {
	if m.cfg.SecondFactor == nil {
		return nil, ErrNoPendingLogin
	}
	return m.CompleteWith(w, r, "code", func(ctx context.Context, userID string) error {
		return m.cfg.SecondFactor.Verify(ctx, userID, code)
	})
}

// CompleteWith finishes the pending login of this request's session when
// check, a second factor other than Config.SecondFactor's codes (a
// passkey), accepts the pending user; method names it in the audit log.
// It is CompleteSecondFactor otherwise.
func (m *Manager) CompleteWith(w http.ResponseWriter, r *http.Request, method string, check func(ctx context.Context, userID string) error) (_ *account.User, err error) {
	p, err := m.pendingOf(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	a := m.attemptOf(r, secondStep(p.Username), p.UserID)
	if a.Device != "" {
		a.Device = secondStep(a.Device) // not the device's password count either
	}
	res, err := m.reserve(r, a)
	if errors.Is(err, throttle.ErrThrottled) {
		m.record(r, audit.Event{Name: audit.Lockout, UserID: p.UserID, Username: truncate(p.Username), Reason: "throttled_second_factor"})
	}
	if err != nil {
		return nil, err
	}
	if err := check(ctx, p.UserID); err != nil {
		if autherr.KindOf(err) != autherr.Unauthenticated {
			res.cancel(ctx)
			return nil, err
		}
		res.fail(ctx)
		m.record(r, audit.Event{Name: audit.SecondFactorFailure, UserID: p.UserID, Reason: "wrong_" + method})
		return nil, err
	}
	res.succeed(ctx)
	s := session.FromRequest(r)
	s.Delete(pendingKey)
	u := &account.User{ID: p.UserID, Username: p.Username, PasswordChangedAt: p.PwAt}
	if err := m.finishLogin(w, r, u, p.Remember, true); err != nil {
		return nil, err
	}
	return u, nil
}

// secondStep names the throttle's count of an account's second-factor
// attempts. It is not the account's password count: a right password
// clears that one, and would let someone who knows the password guess
// codes without limit by logging in again after each wrong one. Only a
// passed second factor clears this one. (A NUL never ends up in a
// username, so it names no account's password count.)
func secondStep(username string) string { return "second factor\x00" + username }

// attemptOf is the throttle's attempt of the request at account (a user
// name, or a count named after one), which belongs to userID: judged by
// the browser's own failures when it is userID's known device.
func (m *Manager) attemptOf(r *http.Request, account, userID string) throttle.Attempt {
	return throttle.Attempt{Account: account, IP: m.ip(r), Device: m.knownDevice(m.deviceCookie(r), userID)}
}

// SecondFactorDone reports whether the request's session passed a second
// factor at login (or enrolled one since, see MarkSecondFactor).
func SecondFactorDone(ctx context.Context) bool { return stateOf(ctx).second }

// MarkSecondFactor records in the request's session that its user now
// has a second factor (just enrolled), so that RequireSecondFactor lets
// them through.
func (m *Manager) MarkSecondFactor(r *http.Request) error {
	s := session.FromRequest(r)
	if s == nil {
		return session.ErrNoSession
	}
	if st := stateOf(r.Context()); st.user != nil {
		st.second = true
	}
	return s.Put(secondKey, true)
}

// RequireSecondFactor lets through only logged-in users whose session
// passed a second factor (or who enrolled one in it). Others are sent to
// enrolPath with 303 See Other (Config.SendToLogin), or get
// ErrSecondFactorRequired (401 "second_factor_required"). Anonymous
// requests get what RequireLogin gives them.
func (m *Manager) RequireSecondFactor(enrolPath string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !SecondFactorDone(r.Context()) {
				if m.cfg.SendToLogin(r) {
					w.Header().Set("Cache-Control", "no-store")
					http.Redirect(w, r, enrolPath, http.StatusSeeOther)
					return
				}
				m.fail(w, r, ErrSecondFactorRequired)
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// SecondFactorChanged is called after the current user enabled (on true)
// or disabled their second factor: this request's session gets a new
// token and records the change (SecondFactorDone), and every other
// session and remember-me token of the user ends. It returns how many it
// ended; the end is audited.
func (m *Manager) SecondFactorChanged(w http.ResponseWriter, r *http.Request, on bool) (int, error) {
	u := CurrentUser(r.Context())
	if u == nil {
		return 0, ErrUnauthenticated
	}
	ctx := r.Context()
	s := session.FromRequest(r)
	if err := s.Renew(); err != nil {
		return 0, err
	}
	if on {
		if err := m.MarkSecondFactor(r); err != nil {
			return 0, err
		}
	} else {
		s.Delete(secondKey)
		stateOf(ctx).second = false
	}
	n := 0
	if m.cfg.Remember != nil { // first, as in revokeAll
		k, err := m.cfg.Remember.DeleteRememberByUser(ctx, u.ID)
		if err != nil {
			return 0, m.storeFailure(ctx, "revoke remember tokens", err)
		}
		n += k
		m.clearRemember(w)
	}
	k, err := m.sessions.DestroyByUser(ctx, u.ID, s.ID())
	if err != nil && !errors.Is(err, session.ErrNotSupported) {
		return n, err
	}
	n += k
	m.record(r, audit.Event{Name: audit.SessionRevoke, UserID: u.ID, Reason: "second_factor", Count: n})
	return n, nil
}

// LoginVerified logs in the user userID after a sign-in that is itself
// multi-factor, such as a passkey checked with user verification: as
// Login, but it passes the second-factor gate (SecondFactorDone). A
// disabled or unknown account fails with ErrInvalidCredentials.
func (m *Manager) LoginVerified(w http.ResponseWriter, r *http.Request, userID string, remember bool) (*account.User, error) {
	u, err := m.users.UserByID(r.Context(), userID)
	if errors.Is(err, account.ErrNotFound) {
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, m.storeFailure(r.Context(), "load user", err)
	}
	if u.Disabled {
		m.record(r, audit.Event{Name: audit.LoginFailure, UserID: u.ID, Reason: "disabled"})
		return nil, ErrInvalidCredentials
	}
	if err := m.finishLogin(w, r, u, remember, true); err != nil {
		return nil, err
	}
	return public(u), nil
}

// Factors combines second factors: a user is enrolled from the earliest
// time any of them says, and a code is checked by the first (codes are
// TOTP's; a passkey is checked by its own ceremony, see CompleteWith).
type Factors struct {
	Code   SecondFactor // checks codes; nil: none
	Others []interface {
		EnrolledAt(ctx context.Context, userID string) (time.Time, error)
	}
}

// EnrolledAt returns the earliest enrolment of any factor, or zero.
func (f Factors) EnrolledAt(ctx context.Context, userID string) (time.Time, error) {
	var first time.Time
	all := f.Others
	if f.Code != nil {
		all = append([]interface {
			EnrolledAt(ctx context.Context, userID string) (time.Time, error)
		}{f.Code}, all...)
	}
	for _, e := range all {
		at, err := e.EnrolledAt(ctx, userID)
		if err != nil {
			return time.Time{}, err
		}
		if !at.IsZero() && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first, nil
}

// ErrWrongCode is what Factors.Verify answers for a user who has no code
// factor (only a passkey). Kind autherr.Unauthenticated, code
// "invalid_code".
var ErrWrongCode error = &autherr.Error{Kind: autherr.Unauthenticated, Code: "invalid_code",
	Message: "That code is not correct.", Err: errors.New("login: no code factor")}

// Verify checks code with Code; a user who has only other factors gets
// ErrWrongCode.
func (f Factors) Verify(ctx context.Context, userID, code string) error {
	if f.Code == nil {
		return ErrWrongCode
	}
	at, err := f.Code.EnrolledAt(ctx, userID)
	if err != nil {
		return err
	}
	if at.IsZero() {
		return ErrWrongCode
	}
	return f.Code.Verify(ctx, userID, code)
}
