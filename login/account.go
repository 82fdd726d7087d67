package login

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
)

// CheckPassword checks the current user's password, as a form that
// changes something sensitive (the email address) asks for it, and returns
// the user as stored. A wrong password counts toward the login throttle
// and returns ErrWrongPassword; a request authenticated by an API token
// gets ErrUnauthenticated.
func (m *Manager) CheckPassword(r *http.Request, current string) (*account.User, error) {
	ctx := r.Context()
	cu := CurrentUser(ctx)
	if cu == nil || HowAuthenticated(ctx) == ByBearer {
		return nil, ErrUnauthenticated
	}
	u, err := m.users.UserByID(ctx, cu.ID)
	if errors.Is(err, account.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, m.storeFailure(ctx, "load user", err)
	}
	// Judged by the browser's own failures when it is the owner's known
	// device, as at login: failures from elsewhere cannot lock the
	// owner out of their own account page.
	res, err := m.reserve(r, m.attemptOf(r, u.Username, u.ID))
	if err != nil {
		return nil, err
	}
	ok, err := m.cfg.Passwords.Verify(ctx, current, u.PasswordHash)
	if errors.Is(err, password.ErrBusy) {
		res.cancel(ctx)
		return nil, err
	}
	if !ok {
		res.fail(ctx)
		m.record(r, audit.Event{Name: audit.LoginFailure, UserID: u.ID, Reason: "wrong_current_password"})
		return nil, ErrWrongPassword
	}
	// The right current password takes its count back without clearing
	// the account's failures: those may be someone else's guesses.
	res.cancel(ctx)
	return u, nil
}

// ChangePassword changes the current user's password after checking the
// current one (a wrong one counts toward the login throttle and returns
// ErrWrongPassword). Every other session, every remember-me token and every
// API token of the user end; this request's session is renewed, not ended.
// It needs Config.Users to have SetPassword (an error wrapping
// account.ErrNotSupported otherwise): an app with its own users changes
// the password in its table and calls RevokeUser.
func (m *Manager) ChangePassword(w http.ResponseWriter, r *http.Request, current, newPassword string) error {
	ctx := r.Context()
	if _, ok := m.users.s.(passwordSetter); !ok {
		return fmt.Errorf("login: change password: %w", unsupported(m.users.s, "SetPassword"))
	}
	u, err := m.CheckPassword(r, current)
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
	s := session.FromRequest(r)
	now := m.now().Truncate(time.Millisecond) // stores keep milliseconds
	// Only while the hash is still the one the current password matched:
	// of concurrent changes with the same current password, one wins and
	// the others find it wrong, as it now is (not "changed" four times
	// over, with three of the new passwords lost), and change nothing.
	old, oldAt := u.PasswordHash, u.PasswordChangedAt
	err = m.users.ChangePassword(ctx, u.ID, old, h, now)
	cas := !errors.Is(err, account.ErrNotSupported)
	if !cas {
		err = m.users.SetPassword(ctx, u.ID, h, now) // the store cannot: the last change wins
	}
	switch {
	case errors.Is(err, account.ErrConflict):
		return ErrWrongPassword
	case errors.Is(err, account.ErrNotFound):
		return ErrUnauthenticated
	case err != nil:
		return m.storeFailure(ctx, "save password", err)
	}
	u.PasswordHash, u.PasswordChangedAt = h, now
	n, err := m.endOthers(ctx, w, s, u, now)
	if err != nil {
		// What the change ends could not all be ended (a store failed):
		// the change is taken back, so that no other browser stays in
		// with the new password in place, and this request answers the
		// failure. (Ending them first instead would let a change that
		// then loses the race above log out the one that won it.)
		back := context.WithoutCancel(ctx)
		rerr := m.users.ChangePassword(back, u.ID, h, old, oldAt)
		if !cas {
			rerr = m.users.SetPassword(back, u.ID, old, oldAt)
		}
		if rerr != nil {
			m.log.ErrorContext(ctx, "login: a password was changed, but the user's other sessions may not have ended", "user_id", u.ID, "err", err, "undo_err", rerr)
			return err
		}
		// This session keeps its copy of the user as it was.
		u.PasswordHash, u.PasswordChangedAt = old, oldAt
		s.Put(userKey, snapshotOf(u))
		return err
	}
	m.record(r, audit.Event{Name: audit.PasswordChange, UserID: u.ID, Count: n})
	return nil
}

// endOthers renews the session s of u, whose password changed at now, and
// ends the user's other sessions, remember-me and API tokens.
func (m *Manager) endOthers(ctx context.Context, w http.ResponseWriter, s *session.Session, u *account.User, now time.Time) (int, error) {
	if err := s.Renew(); err != nil {
		return 0, err
	}
	if err := s.Put(userKey, snapshotOf(u)); err != nil {
		return 0, err
	}
	s.Put(authAtKey, now)
	return m.revokeAll(ctx, w, u.ID, s.ID())
}

// RefreshUser updates the copy of the user kept in every one of their
// sessions from the account store, so that a change made around the
// Manager (a new email address) shows on their next request.
func (m *Manager) RefreshUser(ctx context.Context, userID string) error {
	return m.putSnapshots(ctx, userID, false)
}

// SetPassword sets a user's password as an administrator or a reset flow
// does (no current password), then ends every session, remember-me token
// and API token of the user.
func (m *Manager) SetPassword(ctx context.Context, actorID, userID, newPassword string) error {
	if _, ok := m.users.s.(passwordSetter); !ok {
		return fmt.Errorf("login: set password: %w", unsupported(m.users.s, "SetPassword"))
	}
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
	// Ended first, as in ChangePassword: a store that fails leaves the
	// password as it was.
	before, err := m.revokeAll(ctx, nil, userID, "")
	if err != nil {
		return err
	}
	if err := m.users.SetPassword(ctx, userID, h, m.now().Truncate(time.Millisecond)); err != nil {
		return err
	}
	n, err := m.revokeAll(ctx, nil, userID, "")
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.PasswordChange, UserID: userID, Actor: actorID, Reason: "reset", Count: before + n})
	return err
}

// RevokeUser ends every session, remember-me token and API token of the
// user userID and returns how many it ended, for an app that changes a
// password, bans or deletes a user in its own user table. Any ID is
// accepted; one with nothing to end returns 0. With a session store that
// cannot list sessions by user, sessions are not ended here, but the
// Manager then reads the user on every request (see the package
// documentation).
func (m *Manager) RevokeUser(ctx context.Context, userID string) (int, error) {
	n, err := m.revokeAll(ctx, nil, userID, "")
	if err != nil {
		return n, err
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.SessionRevoke, UserID: userID, Reason: "user", Count: n})
	return n, nil
}

// revokeAll ends the user's sessions except keep, remember-me tokens and
// API tokens, and returns how many it ended in all. With w, the request's
// remember cookie is cleared too. Each kind is tried whatever became of
// the others; the error joins their failures.
//
// A change that must end them (a new password, a disabled account) calls
// it before the change as well as after: should a store fail, the change
// is not made with the old sessions still alive (it would be, as a
// failure after the change cannot be undone), and the call after the
// change ends whatever started meanwhile.
func (m *Manager) revokeAll(ctx context.Context, w http.ResponseWriter, userID, keep string) (int, error) {
	var except []string
	if keep != "" {
		except = append(except, keep)
	}
	total := 0
	var errs []error
	// Remember-me tokens before sessions: a remember-me login under way
	// then either finds its token gone, or made its session before the
	// sessions end.
	if m.cfg.Remember != nil {
		n, err := m.cfg.Remember.DeleteRememberByUser(ctx, userID)
		if err != nil {
			errs = append(errs, m.storeFailure(ctx, "revoke remember tokens", err))
		}
		total += n
		if w != nil {
			m.clearRemember(w)
		}
	}
	n, err := m.sessions.DestroyByUser(ctx, userID, except...)
	if err != nil && !errors.Is(err, session.ErrNotSupported) {
		errs = append(errs, err)
	}
	total += n
	if m.cfg.Tokens != nil {
		tctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
		n, err := m.cfg.Tokens.RevokeAll(tctx, userID)
		cancel()
		if err != nil {
			errs = append(errs, m.storeFailure(ctx, "revoke api tokens", err))
		}
		total += n
	}
	return total, errors.Join(errs...)
}

// StillLoggedIn reads the request's session and user again from their
// stores, and returns nil when the request's user is still logged in as
// when the request began: the session still stored, the account enabled,
// its password unchanged. Otherwise it returns ErrUnauthenticated (or a
// store's failure). Call it after creating something that a revocation
// at the same moment must not miss, such as an API token: one created by
// a request already under way when the password changed would outlive
// the change; undo it when StillLoggedIn fails.
func (m *Manager) StillLoggedIn(r *http.Request) error {
	ctx := r.Context()
	st := stateOf(ctx)
	if st.user == nil {
		return ErrUnauthenticated
	}
	if st.token == nil {
		ok, err := m.sessions.Exists(ctx, st.user.ID, session.FromRequest(r).ID())
		if err != nil {
			return err
		}
		if !ok {
			return ErrUnauthenticated
		}
	}
	u, err := m.users.UserByID(ctx, st.user.ID)
	if errors.Is(err, account.ErrNotFound) {
		return ErrUnauthenticated
	}
	if err != nil {
		return m.storeFailure(ctx, "load user", err)
	}
	if u.Disabled || !u.PasswordChangedAt.Equal(st.user.PasswordChangedAt) {
		return ErrUnauthenticated
	}
	return nil
}

// RevokeSession ends one of the current user's sessions by its ID, and
// every remember-me token of the user but the one this browser holds
// (see RevokeOtherSessions).
func (m *Manager) RevokeSession(r *http.Request, id string) error {
	u := CurrentUser(r.Context())
	if u == nil {
		return ErrUnauthenticated
	}
	// The session must be the user's before anything ends (a wrong ID
	// changes nothing); then remember-me tokens first, as in revokeAll.
	switch ok, err := m.sessions.Exists(r.Context(), u.ID, id); {
	case err != nil:
		return err
	case !ok:
		return session.ErrNotFound
	}
	if _, err := m.endOtherRemembers(r, u.ID); err != nil {
		return err
	}
	if err := m.sessions.DestroyUserSession(r.Context(), u.ID, id); err != nil {
		return err
	}
	m.record(r, audit.Event{Name: audit.SessionRevoke, UserID: u.ID, Session: session.ShortID(id)})
	return nil
}

// RevokeOtherSessions ends every session of the current user but this
// request's, and returns how many. Every remember-me token of the user
// but the one this browser holds ends too, so that no other browser comes
// back through its remember-me cookie.
func (m *Manager) RevokeOtherSessions(r *http.Request) (int, error) {
	u := CurrentUser(r.Context())
	if u == nil {
		return 0, ErrUnauthenticated
	}
	// Remember-me tokens first, as in revokeAll.
	k, err := m.endOtherRemembers(r, u.ID)
	if err != nil {
		return 0, err
	}
	n, err := m.sessions.DestroyByUser(r.Context(), u.ID, session.FromRequest(r).ID())
	if err != nil {
		return 0, err
	}
	m.record(r, audit.Event{Name: audit.SessionRevoke, UserID: u.ID, Reason: "others", Count: n + k})
	return n, nil
}

// endOtherRemembers ends every remember-me token of userID but the one
// the request's browser holds, and returns how many it ended. A browser
// whose session was ended must not come back through its remember-me
// cookie, and which browser holds which token cannot be told (a token is
// not tied to a session), so all the others go.
func (m *Manager) endOtherRemembers(r *http.Request, userID string) (int, error) {
	if m.cfg.Remember == nil {
		return 0, nil
	}
	ctx := r.Context()
	var own *account.RememberToken
	if c, err := r.Cookie(m.remember); err == nil {
		if sel, val, ok := parseRemember(c.Value); ok {
			t, err := m.cfg.Remember.RememberBySelector(ctx, sel, m.now())
			switch {
			case err == nil && t.UserID == userID && subtle.ConstantTimeCompare(digest(val), t.ValidatorHash) == 1:
				own = t
			case err != nil && !errors.Is(err, account.ErrNotFound):
				return 0, m.storeFailure(ctx, "load remember token", err)
			}
		}
	}
	n, err := m.cfg.Remember.DeleteRememberByUser(ctx, userID)
	if err != nil {
		return 0, m.storeFailure(ctx, "revoke remember tokens", err)
	}
	if own != nil {
		// Put back as it was: the browser's cookie keeps working.
		if err := m.cfg.Remember.CreateRemember(ctx, own); err != nil {
			return n, m.storeFailure(ctx, "keep this browser's remember token", err)
		}
		n--
	}
	return n, nil
}
