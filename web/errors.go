package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/hallpass/hallpass/autherr"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/session"
)

// problem is how one error is answered.
type problem struct {
	status  int    // HTTP status
	code    string // the "error" member of a JSON answer
	title   string // the heading of an HTML page
	message string // a sentence for a person
}

// answer is the HTTP face of one kind of error.
type answer struct {
	status int
	title  string
}

// kinds maps every kind of error to its answer: the one table between the
// mechanisms' errors and HTTP. The JSON code and the message come from the
// error itself (autherr.CodeOf, autherr.MessageOf).
var kinds = map[autherr.Kind]answer{
	autherr.Invalid:         {http.StatusUnprocessableEntity, "Please check the form"},
	autherr.Unauthenticated: {http.StatusUnauthorized, "Please log in"},
	autherr.Forbidden:       {http.StatusForbidden, "Forbidden"},
	autherr.NotFound:        {http.StatusNotFound, "Not found"},
	autherr.Conflict:        {http.StatusConflict, "Changed meanwhile"},
	autherr.Throttled:       {http.StatusTooManyRequests, "Too many attempts"},
	autherr.Busy:            {http.StatusServiceUnavailable, "Server busy"},
	autherr.Unavailable:     {http.StatusServiceUnavailable, "Temporarily unavailable"},
	autherr.Unsupported:     {http.StatusNotImplemented, "Not supported"},
	autherr.Internal:        {http.StatusInternalServerError, "Something went wrong"},
}

// webError is an HTTP-level error this package raises itself (a method,
// media type or request the protocol refuses), with its answer.
type webError struct{ p problem }

func (e *webError) Error() string { return e.p.message }

// Errors the handlers raise.
var (
	errNotFound                   = &webError{problem{404, "not_found", "Page not found", autherr.DefaultMessage(autherr.NotFound)}}
	errMethodNotAllowed           = &webError{problem{405, "method_not_allowed", "Method not allowed", "This address does not accept that kind of request."}}
	errForbidden            error = login.ErrForbidden
	errUnsupportedMediaType       = &webError{problem{415, "unsupported_media_type", "Unsupported media type", "Send the request body as application/json."}}
	errPanic                error = autherr.New(autherr.Internal, "web: panic")
)

// badRequest returns a 400 error showing msg, a sentence for a person.
func badRequest(msg string) error {
	return &webError{problem{400, "bad_request", "Bad request", msg}}
}

// classify returns the answer for err.
func classify(err error) problem {
	var we *webError
	if errors.As(err, &we) {
		return we.p
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return problem{413, "too_large", "Too large", fmt.Sprintf("The request is too large (the limit is %d KiB).", MaxBodyBytes>>10)}
	}
	var ee url.EscapeError
	if errors.As(err, &ee) {
		// A form body with broken percent-encoding, seen by the CSRF
		// check or by a handler: no browser sends one.
		return problem{400, "bad_request", "Bad request", "The form could not be read. Please reload the page and try again."}
	}
	a := kinds[autherr.KindOf(err)]
	return problem{a.status, autherr.CodeOf(err), a.title, autherr.MessageOf(err)}
}

// WantsJSON reports whether the Server answers r with JSON rather than a
// page: when the client asks for it (autherr.WantsJSON: an Accept header
// that prefers JSON, a JSON body or a bearer token), or when r is for the
// JSON API (APIPrefix), whose default is JSON, and its Accept header does
// not name text/html. Pass its negation as login.Config.SendToLogin.
func WantsJSON(r *http.Request) bool {
	return autherr.WantsJSON(r) || (strings.HasPrefix(r.URL.Path, APIPrefix) && !autherr.AcceptsHTML(r))
}

// ErrorHandler returns a function that answers a failed request as the
// Server does: the right status, a page in the site's layout or a JSON
// {"error","message"} object (see WantsJSON), and
// one log record for logger (nil: slog.Default()). It never shows the
// error's text unless the text is written for people. Pass it as the
// ErrorHandler of session.Config and login.Config; there it mostly
// answers a store outage with 503.
func ErrorHandler(logger *slog.Logger) func(w http.ResponseWriter, r *http.Request, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger = slog.New(LogHandler(logger.Handler()))
	return func(w http.ResponseWriter, r *http.Request, err error) {
		writeError(logger, w, r, err)
	}
}

// CSRFErrorHandler returns a function that answers a request the
// csrf.Protector rejected: 403 with csrf.Message in the site's layout or
// as JSON {"error":"csrf_failed"}, or 413 when the form it had to read was
// over MaxBodyBytes. Pass it as csrf.Config.ErrorHandler.
func CSRFErrorHandler(logger *slog.Logger) func(w http.ResponseWriter, r *http.Request, err error) {
	return ErrorHandler(logger)
}

// fail answers r with the problem err maps to.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(s.log, w, r, err)
}

// writeError is the one place where an error becomes a response.
func writeError(logger *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	p := classify(err)
	logError(logger, r, p, err)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if s := autherr.RetryAfterSeconds(err); s > 0 && (p.status == http.StatusTooManyRequests || p.status == http.StatusServiceUnavailable) {
		h.Set("Retry-After", strconv.Itoa(s))
	}
	asJSON := WantsJSON(r)
	if c := autherr.ChallengeOf(err); c != "" {
		h.Set("WWW-Authenticate", c)
	} else if p.status == http.StatusUnauthorized && asJSON {
		h.Set("WWW-Authenticate", autherr.DefaultChallenge)
	}
	if asJSON {
		writeJSON(w, p.status, autherr.Body{Error: p.code, Message: p.message, Fields: autherr.FieldsOf(err)})
		return
	}
	d := &errorPage{base: base{Title: p.title}, Heading: p.title, Message: p.message, Status: p.status, RequestID: RequestID(r.Context())}
	if p.code == "invalid_token" {
		d.Link, d.LinkText = "/password/forgot", "Ask for a new link"
		if strings.HasPrefix(r.URL.Path, "/verify/") {
			d.Link, d.LinkText = "/account", "Send a new link from your account page"
		}
	}
	// A page for a failure on our side does not touch the session again.
	renderPage(w, r, p.status, "error", d, p.status < 500, logger)
}

// logError logs the cause of a failed request, once per request.
func logError(logger *slog.Logger, r *http.Request, p problem, err error) {
	if ri := infoOf(r); ri != nil {
		if ri.logged {
			return
		}
		ri.logged = true
	}
	level := slog.LevelDebug
	switch {
	case errors.Is(err, context.Canceled):
		// The client went away.
	case autherr.KindOf(err) == autherr.Busy:
		// The login Manager logs each busy episode once.
	case errors.Is(err, session.ErrStoreUnavailable), errors.Is(err, login.ErrStoreUnavailable):
		// The session and login Managers log each store outage once
		// (its first failure as an error, and its end); a line per
		// request would bury it.
	case p.status >= 500:
		level = slog.LevelError
	case p.code == "csrf_failed" || p.status == http.StatusRequestEntityTooLarge:
		level = slog.LevelInfo
	}
	logger.Log(r.Context(), level, "web: request failed", "method", r.Method, "path", logPath(r), "status", p.status, "err", err)
}

// Paths under which the rest of the path is a secret: the token of an
// emailed link (a password reset, an address to verify or to change to),
// which works for anyone who reads it. The routes that take these tokens
// are registered with these prefixes.
const (
	resetPathPrefix  = "/password/reset/"
	verifyPathPrefix = "/verify/"
)

var secretPathPrefixes = []string{resetPathPrefix, verifyPathPrefix}

// logPath returns r's path as log lines show it: the route pattern where
// the route holds a secret ("POST /password/reset/{token}"), else the
// path with whatever follows a secret path prefix replaced by "…"
// ("/password/reset/…"), in any letter case, for a request that matched
// no route (a PUT to /verify/{token}, a trailing slash). The path of a
// route without wildcards (POST /verify/resend) is shown as it is.
func logPath(r *http.Request) string {
	p := r.URL.Path
	if ri := infoOf(r); ri != nil {
		switch {
		case strings.Contains(ri.route, "{token}"):
			return ri.route
		case literalRoute(ri.route):
			return p
		}
	}
	clean := path.Clean("/" + p)
	for _, prefix := range secretPathPrefixes {
		if len(clean) > len(prefix) && strings.EqualFold(clean[:len(prefix)], prefix) {
			return prefix + "…"
		}
	}
	return p
}

// literalRoute reports whether pattern matches one path only: it has no
// wildcard and does not end in '/' (which matches every path below).
func literalRoute(pattern string) bool {
	_, p, _ := strings.Cut(pattern, " ")
	return p != "" && !strings.Contains(p, "{") && !strings.HasSuffix(p, "/")
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		// Only our own types are encoded; this cannot happen.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal","message":"` + autherr.DefaultMessage(autherr.Internal) + `"}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// stack returns the current goroutine's stack, for the log only.
func stack() string { return string(debug.Stack()) }

// storeErr marks a failure of a store that web calls directly (accounts)
// as autherr.Unavailable, so it is answered with 503; an error that has a
// kind already (the stores' own sentinels) and nil pass through unchanged.
func storeErr(err error) error {
	if err == nil || autherr.KindOf(err) != autherr.Internal {
		return err
	}
	return autherr.Wrap(fmt.Errorf("web: store: %w", err), autherr.Unavailable, "")
}
