package login

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/session"
)

// Remember-me follows the split-token design: the cookie holds
// selector:validator, 256 random bits each, base64url. The selector finds
// the stored token; only a SHA-256 of the validator is stored, so a leaked
// database restores no one. Each use starts a new session and rotates the
// validator. A wrong validator for a known selector means the cookie was
// copied and used by someone else first: every remember token and session
// of that user is revoked and the event is logged. The one exception is the
// validator the last rotation replaced, presented moments after it by a
// request that was sent alongside the rotating one (see raceGrace).

// raceWindow is how long after a rotation the previous validator is taken
// for a benign race between parallel requests rather than a theft.
const raceWindow = 30 * time.Second

// raceGrace is how long after a rotation the previous validator still
// logs in. Tabs restored together, or a page and the fetches it starts,
// present the same cookie at once: one request rotates it, and each of the
// others gets a session of its own, without a remember-me cookie (the
// browser keeps the one the rotation set). Past raceGrace and within
// raceWindow, the previous validator restores no one but raises no alarm.
const raceGrace = 10 * time.Second

// rememberEncoding encodes both halves of the cookie. It decodes strictly
// (the spare bits of the last character must be zero), so each cookie has
// exactly one valid spelling.
var rememberEncoding = base64.RawURLEncoding.Strict()

var partLen = rememberEncoding.EncodedLen(32)

// parseRemember splits a remember-me cookie value into its selector and
// decoded validator. It accepts only the spelling setRemember writes.
func parseRemember(v string) (selector string, validator []byte, ok bool) {
	sel, val, found := strings.Cut(v, ":")
	if !found || len(sel) != partLen || len(val) != partLen {
		return "", nil, false
	}
	// base64 decoders skip CR and LF, so a spelling with line breaks in it
	// decodes to fewer bytes: the decoded lengths must be checked too.
	if s, err := rememberEncoding.DecodeString(sel); err != nil || len(s) != 32 {
		return "", nil, false
	}
	b, err := rememberEncoding.DecodeString(val)
	if err != nil || len(b) != 32 {
		return "", nil, false
	}
	return sel, b, true
}

func random32() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func digest(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

func (m *Manager) rememberCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: m.remember, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode}
}

func (m *Manager) clearRemember(w http.ResponseWriter) {
	http.SetCookie(w, m.rememberCookie("", -1))
}

func (m *Manager) setRemember(w http.ResponseWriter, selector string, validator []byte) {
	v := selector + ":" + rememberEncoding.EncodeToString(validator)
	http.SetCookie(w, m.rememberCookie(v, int(m.cfg.RememberFor/time.Second)))
}

// issueRemember creates a remember-me token for userID and sets its cookie.
func (m *Manager) issueRemember(w http.ResponseWriter, r *http.Request, userID string) error {
	now := m.now()
	sel := rememberEncoding.EncodeToString(random32())
	val := random32()
	t := &account.RememberToken{Selector: sel, ValidatorHash: digest(val), UserID: userID,
		CreatedAt: now, ExpiresAt: now.Add(m.cfg.RememberFor)}
	if err := m.cfg.Remember.CreateRemember(r.Context(), t); err != nil {
		return m.storeFailure(r.Context(), "create remember token", err)
	}
	m.setRemember(w, sel, val)
	return nil
}

// resolveRemember restores a login from the remember-me cookie.
func (m *Manager) resolveRemember(w http.ResponseWriter, r *http.Request) (*state, error) {
	st := &state{}
	ctx := r.Context()
	c, _ := r.Cookie(m.remember)
	sel, val, ok := parseRemember(c.Value)
	if !ok {
		m.clearRemember(w)
		return st, nil
	}
	now := m.now()
	t, err := m.cfg.Remember.RememberBySelector(ctx, sel, now)
	if errors.Is(err, account.ErrNotFound) {
		m.clearRemember(w)
		return st, nil
	}
	if err != nil {
		return nil, m.storeFailure(ctx, "load remember token", err)
	}
	h := digest(val)
	current := subtle.ConstantTimeCompare(h, t.ValidatorHash) == 1
	if !current {
		if !bytes.Equal(h, t.PrevHash) || now.Sub(t.RotatedAt) >= raceWindow {
			m.theft(w, r, t.UserID)
			return st, nil
		}
		// A parallel request rotated this cookie a moment ago; the
		// browser gets the new one from that response. This request logs
		// in too if it came within raceGrace, and otherwise proceeds
		// anonymously rather than raise a false alarm.
		if now.Sub(t.RotatedAt) >= raceGrace {
			return st, nil
		}
	}
	u, err := m.users.UserByID(ctx, t.UserID)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return nil, m.storeFailure(ctx, "load user", err)
	}
	if u == nil || u.Disabled || u.PasswordChangedAt.After(t.CreatedAt) {
		m.cfg.Remember.DeleteRemember(ctx, sel)
		m.clearRemember(w)
		return st, nil
	}
	// A token of a user with a second factor was issued by a login that
	// passed it only when it is younger than the factor; an older one
	// (issued to the password alone) restores no one.
	enrolled, err := m.enrolledAt(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if !enrolled.IsZero() && enrolled.After(t.CreatedAt) {
		m.cfg.Remember.DeleteRemember(ctx, sel)
		m.clearRemember(w)
		return st, nil
	}
	// The session first: a rotation whose cookie never reaches the
	// browser (the session store failed) would make the browser's next
	// use of its cookie look like a theft.
	fresh, err := m.startSession(w, r, u, time.Time{}, !enrolled.IsZero())
	if err != nil {
		if errors.Is(err, ErrInvalidCredentials) {
			return st, nil
		}
		return nil, err
	}
	var newVal []byte // the rotated validator, if this request rotated it
	if !current {
		// Not rotated here (a lost race): see rememberKept.
		if ok, err := m.rememberKept(r, sel, now); !ok {
			return st, err
		}
	}
	if current {
		v := random32()
		switch err := m.cfg.Remember.RotateRemember(ctx, sel, t.ValidatorHash, digest(v), now, now.Add(m.cfg.RememberFor)); {
		case errors.Is(err, account.ErrConflict):
			// A parallel request rotated it since it was read: this one
			// logs in as a loser of the race within raceGrace does.
			if ok, err := m.rememberKept(r, sel, now); !ok {
				return st, err
			}
		case errors.Is(err, account.ErrNotFound):
			session.FromRequest(r).Destroy() // revoked meanwhile (a logout everywhere, a theft)
			return st, nil
		case err != nil:
			session.FromRequest(r).Destroy()
			return nil, m.storeFailure(ctx, "rotate remember token", err)
		default:
			newVal = v
		}
	}
	if newVal != nil {
		m.setRemember(w, sel, newVal)
	}
	m.record(r, audit.Event{Name: audit.RememberLogin, UserID: u.ID, Session: session.ShortID(session.FromRequest(r).ID())})
	if f := m.cfg.Hooks.RememberUsed; f != nil {
		f(ctx)
	}
	st.user = fresh
	st.second = !enrolled.IsZero()
	return st, nil
}

// rememberKept reports whether the remember-me token sel is still stored
// now that the request's session exists, and ends that session if not: a
// revocation at this moment ends remember-me tokens before sessions, so
// a session made after it ended them finds the token gone here. On a
// store's failure the session ends too, and the error is returned.
func (m *Manager) rememberKept(r *http.Request, sel string, now time.Time) (bool, error) {
	_, err := m.cfg.Remember.RememberBySelector(r.Context(), sel, now)
	if err == nil {
		return true, nil
	}
	session.FromRequest(r).Destroy()
	if errors.Is(err, account.ErrNotFound) {
		return false, nil
	}
	return false, m.storeFailure(r.Context(), "load remember token", err)
}

// theft revokes every remember token and session of userID after a stolen
// remember-me cookie was detected.
func (m *Manager) theft(w http.ResponseWriter, r *http.Request, userID string) {
	ctx := r.Context()
	n, err := m.cfg.Remember.DeleteRememberByUser(ctx, userID)
	if err != nil {
		m.log.ErrorContext(ctx, "login: cannot revoke remember tokens after a theft", "user_id", userID, "err", err)
	}
	k, err := m.sessions.DestroyByUser(ctx, userID)
	if err != nil && !errors.Is(err, session.ErrNotSupported) {
		m.log.ErrorContext(ctx, "login: cannot end sessions after a theft", "user_id", userID, "err", err)
	}
	m.clearRemember(w)
	m.record(r, audit.Event{Name: audit.RememberTheft, UserID: userID, Reason: "validator_mismatch", Count: n + k})
	if f := m.cfg.Hooks.RememberTheft; f != nil {
		f(ctx)
	}
}
