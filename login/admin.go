package login

import (
	"context"
	"errors"
	"fmt"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/session"
)

// SetDisabled disables or enables a user. Disabling ends every session,
// remember-me token and API token of the user at once. actorID names the
// administrator, for the audit log.
//
// The flag is saved first: on its own it refuses every login, remember-me
// cookie and API token of the user. Should ending the sessions and tokens
// then fail (a store down), the error says that the account is disabled
// and what is left; calling SetDisabled again ends it.
func (m *Manager) SetDisabled(ctx context.Context, actorID, userID string, disabled bool) error {
	if err := m.users.SetDisabled(ctx, userID, disabled); err != nil {
		return err
	}
	name, n := audit.UserEnable, 0
	if disabled {
		name = audit.UserDisable
		var err error
		if n, err = m.revokeAll(ctx, nil, userID, ""); err != nil {
			m.cfg.Audit.Record(ctx, audit.Event{Name: name, UserID: userID, Actor: actorID, Count: n, Reason: "revocation_failed"})
			return fmt.Errorf("login: the account is disabled, but its sessions, remember-me and API tokens could not all be ended (disable it again to finish): %w", err)
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
	if err := m.putSnapshots(ctx, userID, true); err != nil {
		return err
	}
	m.cfg.Audit.Record(ctx, audit.Event{Name: audit.RoleChange, UserID: userID, Actor: actorID, Reason: fmt.Sprint(roles)})
	return nil
}

// DeleteUser deletes a user for good, as an administrator does. The user
// is disabled first, so that no login slips in, then every session,
// remember-me token and API token of the user ends, and then the account
// store removes the user: it must implement account.Deleter, or the error
// wraps account.ErrNotSupported (and errors.ErrUnsupported). An unknown
// userID is account.ErrNotFound. actorID names the administrator, for the
// audit log. An app that deletes users from its own table calls
// RevokeUser instead.
func (m *Manager) DeleteUser(ctx context.Context, actorID, userID string) error {
	if m.deleter == nil {
		return fmt.Errorf("login: delete user: %w", unsupported(m.users.s, "DeleteUser"))
	}
	if err := m.users.SetDisabled(ctx, userID, true); err != nil {
		return err
	}
	n, err := m.revokeAll(ctx, nil, userID, "")
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
			return sessions, 0, m.storeFailure(ctx, "revoke remember tokens", err)
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

// putSnapshots writes the user's current copy into every one of their
// sessions (asking each to renew its token, with renew), then reads the
// user again, and writes again if it changed meanwhile. Two changes at
// once (a grant and a revoke of one role) could otherwise leave the
// sessions with the older copy, written last: whichever write lands last
// is now followed by a read that sees whether it was stale.
func (m *Manager) putSnapshots(ctx context.Context, userID string, renew bool) error {
	u, err := m.users.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	for range 5 {
		snap := snapshotOf(u)
		snap.Renew = renew
		if err := m.sessions.PutByUser(ctx, userID, userKey, snap); err != nil {
			if errors.Is(err, session.ErrNotSupported) {
				return nil
			}
			return err
		}
		again, err := m.users.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if snapshotOf(again).sameUser(snapshotOf(u)) {
			return nil
		}
		u = again
	}
	return nil
}
