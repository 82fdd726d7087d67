package login

import (
	"errors"
	"net/http"

	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/session"
)

// CSRFSecret returns the CSRF synchronizer secret of the request's
// session, or nil when the request has no logged-in session (the
// pre-session cookie then protects the login and register forms).
func CSRFSecret(r *http.Request) []byte {
	if s := session.FromRequest(r); s != nil && !s.IsNew() {
		return s.GetBytes(csrfKey)
	}
	return nil
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
// layer. The Protector's Config.Exempt still applies: by default
// (csrf.BearerWithoutCookies) a request with a bearer header and no
// cookies at all passes too, valid token or not, since it has no session
// to ride on; with a token that is not valid it is anonymous, so
// RequireLogin answers it 401 with the token challenge rather than 403.
// Rejections go through the Protector's ErrorHandler (403), except that
// of a page whose session has ended since (the token is not the cookie's
// session's, and the cookie names no session any more): that is answered
// as RequireLogin answers, with ErrSessionEnded (a browser is sent to log
// in, a script gets 401 "session_ended"). It must
// run inside Middleware; outside the session middleware it answers 500
// and logs the fix once.
//
// Without Config.CSRF it checks nothing, and says so in a warning when it
// is built: package hallpass, which always configures a Protector, is the
// way not to forget it.
func (m *Manager) CSRF(next http.Handler) http.Handler {
	if m.cfg.CSRF == nil {
		m.log.Warn("login: Manager.CSRF checks nothing: Config.CSRF is nil, so cross-site requests are not refused",
			"fix", "set login.Config.CSRF to a csrf.Protector, or build the stack with hallpass.New")
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			// Safe methods pass without loading the session.
		default:
			if !m.needSession(w, r, "login.Manager.CSRF") {
				return
			}
			if HowAuthenticated(r.Context()) == ByBearer {
				break
			}
			if err := m.cfg.CSRF.Check(r, CSRFSecret(r)); err != nil {
				if !errors.Is(err, csrf.ErrOrigin) && m.sessionEnded(r) {
					m.unauthorized(w, r, ErrSessionEnded)
					return
				}
				m.cfg.CSRF.Reject(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sessionEnded reports whether the request carries a session cookie that
// no longer names a session: a page's token was made for a session that
// has ended since.
func (m *Manager) sessionEnded(r *http.Request) bool {
	return m.hasCookie(r, m.sessions.CookieName()) && session.FromRequest(r).IsNew()
}
