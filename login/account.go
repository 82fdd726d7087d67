package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// Register creates an account with the given password after checking the
// username, email and password policy. Bad fields yield account.FieldErrors
// (one message per field, wrapping account.ErrInvalid); a taken username
// account.ErrUsernameTaken. Both are found before the password is hashed.
// Register is not limited: it is for administrators and tools; a
// self-service form uses SignUp.
func (m *Manager) Register(ctx context.Context, username, email, password string, roles ...string) (*account.User, error) {
	return m.register(ctx, nil, username, email, password, roles)
}

// SignUp registers an account for the person sending r, as a
// self-service registration form does: the account has no roles, and,
// once the form is valid and before the password is hashed, the attempt
// counts against the client address's registration limit
// (Config.Throttle; throttle.Config.RegisterPerIP, by default 10 an hour),
// over which it returns the throttle's error (throttle.ErrThrottled).
// Otherwise it answers as Register does.
func (m *Manager) SignUp(r *http.Request, username, email, password string) (*account.User, error) {
	limit := func() error {
		t := m.cfg.Throttle
		if t == nil {
			return nil
		}
		err := t.AllowRegistration(r.Context(), m.ip(r))
		if err != nil && !errors.Is(err, throttle.ErrThrottled) {
			return fmt.Errorf("%w: throttle: %w", session.ErrStoreUnavailable, err)
		}
		return err
	}
	return m.register(r.Context(), limit, username, email, password, nil)
}

// register creates an account; limit, if not nil, is asked once the form
// is valid.
func (m *Manager) register(ctx context.Context, limit func() error, username, email, password string, roles []string) (*account.User, error) {
	var errs account.FieldErrors
	errs.Add(account.ValidateUsername(username))
	errs.Add(account.ValidateEmail(email))
	errs.Add(m.checkPolicy(password, username))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	roles, err := account.NormalizeRoles(roles)
	if err != nil {
		return nil, err
	}
	if limit != nil {
		if err := limit(); err != nil {
			return nil, err
		}
	}
	// A taken username is refused before the costly hash; CreateUser
	// still decides a race between two registrations of one name.
	switch u, err := m.userByName(ctx, username); {
	case err != nil:
		return nil, err
	case u != nil:
		return nil, account.ErrUsernameTaken
	}
	h, err := m.cfg.Passwords.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := m.now().Truncate(time.Millisecond) // stores keep milliseconds
	u := &account.User{Username: username, Email: email, Roles: roles, PasswordHash: h, CreatedAt: now, PasswordChangedAt: now}
	if err := m.users.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

func (m *Manager) checkPolicy(password, username string) error {
	if m.cfg.Policy == nil {
		return nil
	}
	if err := m.cfg.Policy.Check(password, username); err != nil {
		return &account.FieldError{Field: "password", Message: err.Error()}
	}
	return nil
}

// ChangePassword changes the current user's password after checking the
// current one (a wrong one counts toward the login throttle and returns
// ErrWrongPassword). Every other session, every remember-me token and every
// API token of the user end; this request's session is renewed, not ended.
func (m *Manager) ChangePassword(w http.ResponseWriter, r *http.Request, current, newPassword string) error {
	ctx := r.Context()
	cu := CurrentUser(ctx)
	if cu == nil || HowAuthenticated(ctx) == ByBearer {
		return ErrUnauthenticated
	}
	u, err := m.users.UserByID(ctx, cu.ID)
	if errors.Is(err, account.ErrNotFound) {
		return ErrUnauthenticated
	}
	if err != nil {
		return fmt.Errorf("%w: load user: %w", session.ErrStoreUnavailable, err)
	}
	res, err := m.reserve(r, throttle.Attempt{Account: u.Username, IP: m.ip(r)})
	if err != nil {
		return err
	}
	ok, err := m.cfg.Passwords.Verify(ctx, current, u.PasswordHash)
	if errors.Is(err, password.ErrBusy) {
		res.cancel(ctx)
		return err
	}
	if !ok {
		res.fail(ctx)
		m.record(r, audit.Event{Name: audit.LoginFailure, UserID: u.ID, Reason: "wrong_current_password"})
		return ErrWrongPassword
	}
	// The right current password takes its count back without clearing
	// the account's failures: those may be someone else's guesses.
	res.cancel(ctx)
	if err := m.checkPolicy(newPassword, u.Username); err != nil {
		return err
	}
	h, err := m.cfg.Passwords.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	now := m.now().Truncate(time.Millisecond) // stores keep milliseconds
	if err := m.users.SetPassword(ctx, u.ID, h, now); err != nil {
		return fmt.Errorf("%w: save password: %w", session.ErrStoreUnavailable, err)
	}
	u.PasswordHash, u.PasswordChangedAt = h, now
	s := session.FromRequest(r)
	if err := s.Renew(); err != nil {
		return err
	}
	if err := s.Put(userKey, snapshotOf(u)); err != nil {
		return err
	}
	s.Put(authAtKey, now)
	n, err := m.revokeAll(w, r, u.ID, s.ID())
	if err != nil {
		return err
	}
	m.record(r, audit.Event{Name: audit.PasswordChange, UserID: u.ID, Count: n})
	return nil
}

// SetPassword sets a user's password as an administrator or a reset flow
// does (no current password), then ends every session, remember-me token
// and API token of the user.
func (m *Manager) SetPassword(ctx context.Context, actorID, userID, newPassword string) error {
	u, err := m.users.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if err := m.checkPolicy(newPassword, u.Username); err != nil {
		return err
	}
	h, err := m.cfg.Passwords.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	if err := m.users.SetPassword(ctx, userID, h, m.now().Truncate(time.Millisecond)); err != nil {
		return err
	}
	n, err := m.revokeAll(nil, nil, userID, "")
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.PasswordChange, UserID: userID, Actor: actorID, Reason: "reset", Count: n})
	return err
}

// revokeAll ends the user's sessions except keep, remember-me tokens and
// API tokens, and returns how many it ended in all. With w, the request's
// remember cookie is cleared too.
func (m *Manager) revokeAll(w http.ResponseWriter, r *http.Request, userID, keep string) (int, error) {
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	var except []string
	if keep != "" {
		except = append(except, keep)
	}
	total := 0
	n, err := m.sessions.DestroyByUser(ctx, userID, except...)
	if err != nil && !errors.Is(err, session.ErrNotSupported) {
		return total, err
	}
	total += n
	if m.cfg.Remember != nil {
		n, err := m.cfg.Remember.DeleteRememberByUser(ctx, userID)
		if err != nil {
			return total, fmt.Errorf("%w: revoke remember tokens: %w", session.ErrStoreUnavailable, err)
		}
		total += n
		if w != nil {
			m.clearRemember(w)
		}
	}
	if m.cfg.Tokens != nil {
		tctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
		n, err := m.cfg.Tokens.RevokeAll(tctx, userID)
		cancel()
		if err != nil {
			return total, fmt.Errorf("%w: %w", session.ErrStoreUnavailable, err)
		}
		total += n
	}
	return total, nil
}

// SetDisabled disables or enables a user. Disabling ends every session,
// remember-me token and API token of the user at once. actorID names the
// administrator, for the audit log.
func (m *Manager) SetDisabled(ctx context.Context, actorID, userID string, disabled bool) error {
	if err := m.users.SetDisabled(ctx, userID, disabled); err != nil {
		return err
	}
	name, n := audit.UserEnable, 0
	if disabled {
		name = audit.UserDisable
		var err error
		if n, err = m.revokeAll(nil, nil, userID, ""); err != nil {
			return err
		}
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: name, UserID: userID, Actor: actorID, Count: n})
	return nil
}

// SetRoles replaces a user's roles and updates the copy of the user in
// every one of their sessions, so the change applies on their next request
// in every process. Each session it rewrites also gets a new token at that
// next request (the old one dies then), as a privilege change requires: a
// server cannot hand another browser a cookie, so the rotation waits for
// the browser to come back. Requests that reach the server with the old
// token after that find no session.
func (m *Manager) SetRoles(ctx context.Context, actorID, userID string, roles []string) error {
	roles, err := account.NormalizeRoles(roles)
	if err != nil {
		return err
	}
	if err := m.users.SetRoles(ctx, userID, roles); err != nil {
		return err
	}
	u, err := m.users.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	snap := snapshotOf(u)
	snap.Renew = true
	if err := m.sessions.PutByUser(ctx, userID, userKey, snap); err != nil && !errors.Is(err, session.ErrNotSupported) {
		return err
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.RoleChange, UserID: userID, Actor: actorID, Reason: fmt.Sprint(roles)})
	return nil
}

// DeleteUser deletes a user for good, as an administrator does. The user
// is disabled first, so that no login slips in, then every session,
// remember-me token and API token of the user ends, and then the account
// store removes the user: it must implement account.Deleter, or the error
// wraps errors.ErrUnsupported. An unknown userID is account.ErrNotFound.
// actorID names the administrator, for the audit log.
func (m *Manager) DeleteUser(ctx context.Context, actorID, userID string) error {
	if m.deleter == nil {
		return fmt.Errorf("login: delete user: the account store %T cannot delete users: %w", m.cfg.Users.(deadlineUsers).s, errors.ErrUnsupported)
	}
	if err := m.users.SetDisabled(ctx, userID, true); err != nil {
		return err
	}
	n, err := m.revokeAll(nil, nil, userID, "")
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	if err := m.deleter.DeleteUser(dctx, userID); err != nil {
		return err
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.UserDelete, UserID: userID, Actor: actorID, Count: n})
	return nil
}

// EndSessions ends every session and remember-me token of a user, as an
// administrator does (API tokens stay), and returns how many of each.
// actorID names the administrator, for the audit log.
func (m *Manager) EndSessions(ctx context.Context, actorID, userID string) (sessions, remember int, err error) {
	sessions, err = m.sessions.DestroyByUser(ctx, userID)
	if err != nil {
		return 0, 0, err
	}
	if m.cfg.Remember != nil {
		if remember, err = m.cfg.Remember.DeleteRememberByUser(ctx, userID); err != nil {
			return sessions, 0, fmt.Errorf("%w: revoke remember tokens: %w", session.ErrStoreUnavailable, err)
		}
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.SessionRevoke, UserID: userID, Actor: actorID, Reason: "all", Count: sessions + remember})
	return sessions, remember, nil
}

// EndSession ends the session id of a user, as an administrator does. It
// returns session.ErrNotFound when the user has no such session. actorID
// names the administrator, for the audit log.
func (m *Manager) EndSession(ctx context.Context, actorID, userID, id string) error {
	if err := m.sessions.DestroyUserSession(ctx, userID, id); err != nil {
		return err
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.SessionRevoke, UserID: userID, Actor: actorID, Session: session.ShortID(id)})
	return nil
}

// RevokeSession ends one of the current user's sessions by its ID.
func (m *Manager) RevokeSession(r *http.Request, id string) error {
	u := CurrentUser(r.Context())
	if u == nil {
		return ErrUnauthenticated
	}
	if err := m.sessions.DestroyUserSession(r.Context(), u.ID, id); err != nil {
		return err
	}
	m.record(r, audit.Event{Name: audit.SessionRevoke, UserID: u.ID, Session: session.ShortID(id)})
	return nil
}

// RevokeOtherSessions ends every session of the current user but this
// request's, and returns how many.
func (m *Manager) RevokeOtherSessions(r *http.Request) (int, error) {
	u := CurrentUser(r.Context())
	if u == nil {
		return 0, ErrUnauthenticated
	}
	n, err := m.sessions.DestroyByUser(r.Context(), u.ID, session.FromRequest(r).ID())
	if err != nil {
		return 0, err
	}
	m.record(r, audit.Event{Name: audit.SessionRevoke, UserID: u.ID, Reason: "others", Count: n})
	return n, nil
}

// CSRFSecret returns the CSRF synchronizer secret of the request's
// session, or nil when the request has no logged-in session (the
// pre-session cookie then protects the login and register forms).
func CSRFSecret(r *http.Request) []byte {
	var secret []byte
	if s := session.FromRequest(r); s != nil && !s.IsNew() {
		s.Get(csrfKey, &secret)
	}
	return secret
}

// CSRFToken returns the masked CSRF token for the page being rendered.
func (m *Manager) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if m.cfg.CSRF == nil {
		return ""
	}
	return m.cfg.CSRF.Token(w, r, CSRFSecret(r))
}

// CSRF checks every unsafe request that is not authenticated by a bearer
// token (browsers never attach those on their own) against the session's
// token, or the pre-session cookie for anonymous forms, and the origin
// layer. Rejections go through the Protector's ErrorHandler (403). It must
// run inside Middleware.
func (m *Manager) CSRF(next http.Handler) http.Handler {
	if m.cfg.CSRF == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			// Safe methods pass without loading the session.
		default:
			if HowAuthenticated(r.Context()) == ByBearer {
				break
			}
			if err := m.cfg.CSRF.Check(r, CSRFSecret(r)); err != nil {
				m.cfg.CSRF.Reject(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
