package csrf

import (
	"net/http"
	"strings"

	"github.com/hallpass/hallpass/autherr"
)

// Handler returns middleware that runs [Protector.Check] on every request,
// with the secret from [Config.Secret], and passes a rejected request to
// [Config.ErrorHandler] instead of next. It must run after the session
// middleware, so that Config.Secret can see the session.
func (p *Protector) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isSafe(r.Method) {
			// Skip Config.Secret, which may load the session.
			next.ServeHTTP(w, r)
			return
		}
		var secret []byte
		if p.secret != nil {
			secret = p.secret(r)
		}
		if err := p.Check(r, secret); err != nil {
			p.errorHandler(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Reject answers a request that failed Check with the configured
// Config.ErrorHandler (403), for callers that run Check themselves.
func (p *Protector) Reject(w http.ResponseWriter, r *http.Request, err error) {
	p.errorHandler(w, r, err)
}

// WriteError is the default [Config.ErrorHandler]: [autherr.WriteHTTP],
// which answers 403 Forbidden with [Message](err), as JSON
// {"error":"csrf_failed","message":...} when the request sent JSON or
// accepts JSON but not HTML, and as plain text otherwise. It never writes
// the error text itself. A custom ErrorHandler can log err and then call
// WriteError.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	autherr.WriteHTTP(w, r, err)
}

// BearerWithoutCookies is the default [Config.Exempt]. It reports true for
// a request that has an "Authorization: Bearer <token>" header and no
// Cookie header at all.
//
// Such a request carries no ambient authority: a browser never attaches
// a bearer token by itself (unlike cookies and HTTP Basic credentials),
// and with no cookies there is no session a forged request could ride
// on. A cookie-authenticated request cannot become exempt by adding a
// bogus Authorization header, because it carries cookies. The token is
// not verified here; if it is invalid, the request is simply
// unauthenticated. A login manager that verifies bearer tokens can
// supply a stricter rule, such as "the token is valid and there is no
// session cookie".
func BearerWithoutCookies(r *http.Request) bool {
	if _, ok := r.Header["Cookie"]; ok {
		return false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != ""
}
