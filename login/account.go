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
// account.ErrUsernameTaken.
func (m *Manager) Register(ctx context.Context, username, email, password string, roles ...string) (*account.User, error) {
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
	if t := m.cfg.Throttle; t != nil {
		if err := t.Check(ctx, u.Username, m.ip(r)); err != nil {
			if !errors.Is(err, throttle.ErrThrottled) {
				return fmt.Errorf("%w: throttle: %w", session.ErrStoreUnavailable, err)
			}
			return err
		}
	}
	ok, err := m.cfg.Passwords.Verify(ctx, current, u.PasswordHash)
	if errors.Is(err, password.ErrBusy) {
		return err
	}
	if !ok {
		if t := m.cfg.Throttle; t != nil {
			if err := t.Fail(ctx, u.Username, m.ip(r)); err != nil {
				m.log.Warn("login: cannot record a failed password check", "err", err)
			}
		}
		m.record(r, audit.Event{Name: audit.LoginFailure, UserID: u.ID, Reason: "wrong_current_password"})
		return ErrWrongPassword
	}
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
// in every process.
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
	if err := m.sessions.PutByUser(ctx, userID, userKey, snapshotOf(u)); err != nil && !errors.Is(err, session.ErrNotSupported) {
		return err
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.RoleChange, UserID: userID, Actor: actorID, Reason: fmt.Sprint(roles)})
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
