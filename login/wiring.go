package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/session"
)

// ErrNoMiddleware reports a handler that needs the current user
// (RequireLogin, RequireRole, RequireFresh, RequireScope) running outside
// Manager.Middleware, a mistake in the program's wiring. Its kind is
// autherr.Internal (500) and its code "middleware_missing".
var ErrNoMiddleware error = &autherr.Error{Kind: autherr.Internal, Code: "middleware_missing",
	Message: "The server is misconfigured: the login middleware is missing.",
	Err:     errors.New("login: no login state in the request context (wrap the handler with Manager.Middleware)")}

// wiringFix is the fix the log names when the middleware is missing or in
// the wrong order.
const wiringFix = "wrap your mux as sessions.Middleware(lm.Middleware(lm.CSRF(mux))), " +
	"or build it with hallpass.New and wrap your mux with auth.Handler"

// miswired logs, once per Manager, that what ran outside the middleware
// it needs, with the fix. Such a request is answered 500 (never a silent
// 503 or a redirect loop), and every later one too, but logged only once.
func (m *Manager) miswired(ctx context.Context, what string) {
	m.wiring.Do(func() {
		m.log.ErrorContext(ctx, "login: "+what+" (middleware missing or in the wrong order)", "fix", wiringFix)
	})
}

// needSession answers a request that has no session (the handler is not
// behind session.Manager.Middleware) with ErrNoSession, logged once, and
// reports false; it reports true when the session is there.
func (m *Manager) needSession(w http.ResponseWriter, r *http.Request, what string) bool {
	if session.FromRequest(r) != nil {
		return true
	}
	m.miswired(r.Context(), what+" runs outside session.Manager.Middleware")
	m.fail(w, r, session.ErrNoSession)
	return false
}

// needState returns the state Middleware resolved for r. A request it
// did not resolve is answered with ErrNoMiddleware, logged once, and
// needState returns nil.
func (m *Manager) needState(w http.ResponseWriter, r *http.Request, what string) *state {
	if st, ok := session.FromContext(r.Context()).RequestValue(ctxKey{}).(*state); ok {
		return st
	}
	m.miswired(r.Context(), what+" runs outside login.Manager.Middleware")
	m.fail(w, r, ErrNoMiddleware)
	return nil
}
