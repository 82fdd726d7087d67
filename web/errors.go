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
	"runtime/debug"
	"strconv"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// problem is how one kind of error is answered.
type problem struct {
	status  int    // HTTP status
	code    string // the "error" member of a JSON answer
	title   string // the heading of an HTML page
	message string // a sentence for a person; "" means the error's own text, which is one
}

// Messages shown for failures on our side.
const (
	msgUnavailable = "The service is temporarily unavailable. Please try again in a moment."
	msgInternal    = "Something went wrong on our side. Please try again."
	msgBusy        = "The server is busy checking passwords. Please try again in a few seconds."
)

// problems maps error kinds to answers, first match wins. Availability
// comes first: an error that wraps both a store failure and, say,
// account.ErrNotFound is a store failure. A full hash queue is not a
// store failure, whatever wraps it.
var problems = []struct {
	is error
	p  problem
}{
	{password.ErrBusy, problem{503, "busy", "Server busy", msgBusy}},
	{session.ErrStoreUnavailable, problem{503, "unavailable", "Temporarily unavailable", msgUnavailable}},
	{throttle.ErrUnavailable, problem{503, "unavailable", "Temporarily unavailable", msgUnavailable}},
	{context.DeadlineExceeded, problem{503, "unavailable", "Temporarily unavailable", msgUnavailable}},
	{context.Canceled, problem{503, "unavailable", "Temporarily unavailable", msgUnavailable}},
	{throttle.ErrThrottled, problem{429, "throttled", "Too many attempts", ""}},
	{csrf.ErrOrigin, problem{403, "csrf_failed", "Request blocked", csrf.Message(csrf.ErrOrigin)}},
	{csrf.ErrMissingToken, problem{403, "csrf_failed", "Form expired", csrf.Message(csrf.ErrMissingToken)}},
	{csrf.ErrInvalidToken, problem{403, "csrf_failed", "Form expired", csrf.Message(csrf.ErrInvalidToken)}},
	{login.ErrInvalidCredentials, problem{401, "invalid_credentials", "Log in", "Invalid username or password."}},
	{login.ErrUnauthenticated, problem{401, "unauthenticated", "Please log in", "Please log in."}},
	{login.ErrNotFresh, problem{401, "fresh_login_required", "Please log in again", "Please enter your password again to continue."}},
	{login.ErrWrongPassword, problem{403, "wrong_password", "Wrong password", "Your current password is not correct."}},
	{login.ErrForbidden, problem{403, "forbidden", "Forbidden", "You do not have permission to see this page."}},
	{account.ErrUsernameTaken, problem{409, "username_taken", "Username taken", "That username is taken."}},
	{account.ErrInvalid, problem{422, "invalid", "Please check the form", ""}},
	{password.ErrTooShort, problem{422, "invalid", "Please check the form", ""}},
	{password.ErrTooLong, problem{422, "invalid", "Please check the form", ""}},
	{password.ErrCommon, problem{422, "invalid", "Please check the form", ""}},
	{password.ErrSameAsUsername, problem{422, "invalid", "Please check the form", ""}},
	{password.ErrInvalidUTF8, problem{422, "invalid", "Please check the form", ""}},
	{account.ErrConflict, problem{409, "conflict", "Changed meanwhile", "Someone changed this at the same time. Please reload the page and try again."}},
	{account.ErrNotFound, problem{404, "not_found", "Not found", "We could not find what you asked for."}},
	{session.ErrNotFound, problem{404, "not_found", "Not found", "We could not find what you asked for."}},
	{session.ErrNotSupported, problem{501, "not_supported", "Not supported", "This server's session store cannot do that."}},
}

var internal = problem{500, "internal", "Something went wrong", msgInternal}

// webError is an error this package raises itself, with its answer.
type webError struct{ p problem }

func (e *webError) Error() string { return e.p.message }

// Errors the handlers raise.
var (
	errNotFound             = &webError{problem{404, "not_found", "Page not found", "We could not find what you asked for."}}
	errMethodNotAllowed     = &webError{problem{405, "method_not_allowed", "Method not allowed", "This address does not accept that kind of request."}}
	errForbidden            = &webError{problem{403, "forbidden", "Forbidden", "You do not have permission to see this page."}}
	errAdminScope           = &webError{problem{403, "forbidden", "Forbidden", "Only administrators can give a token the admin scope."}}
	errCrossOrigin          = &webError{problem{403, "csrf_failed", "Request blocked", csrf.Message(csrf.ErrOrigin)}}
	errUnsupportedMediaType = &webError{problem{415, "unsupported_media_type", "Unsupported media type", "Send the request body as application/json."}}
	errPanic                = &webError{internal}
)

// badRequest returns a 400 error showing msg, a sentence for a person.
func badRequest(msg string) error {
	return &webError{problem{400, "bad_request", "Bad request", msg}}
}

// classify returns the answer for err and the message to show.
func classify(err error) (problem, string) {
	var we *webError
	if errors.As(err, &we) {
		return we.p, we.p.message
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		p := problem{413, "too_large", "Too large", fmt.Sprintf("The request is too large (the limit is %d KiB).", MaxBodyBytes>>10)}
		return p, p.message
	}
	var ee url.EscapeError
	if errors.As(err, &ee) {
		// A form body with broken percent-encoding, seen by the CSRF
		// check or by a handler: no browser sends one.
		p := problem{400, "bad_request", "Bad request", "The form could not be read. Please reload the page and try again."}
		return p, p.message
	}
	for _, e := range problems {
		if errors.Is(err, e.is) {
			if e.p.message != "" {
				return e.p, e.p.message
			}
			return e.p, userText(err)
		}
	}
	return internal, internal.message
}

// userText returns the message of an error whose text is written for
// people: a throttle refusal, a field error, a password-policy error.
func userText(err error) string {
	var te *throttle.ThrottledError
	if errors.As(err, &te) {
		return te.Error()
	}
	var fes account.FieldErrors
	if errors.As(err, &fes) {
		return fes.Error()
	}
	var fe *account.FieldError
	if errors.As(err, &fe) {
		return fe.Message
	}
	// A password-policy error is a sentence when it is not wrapped
	// further (see package password).
	for _, kind := range []error{password.ErrInvalidUTF8, password.ErrTooShort, password.ErrTooLong, password.ErrCommon, password.ErrSameAsUsername} {
		if errors.Unwrap(err) == kind {
			return err.Error()
		}
	}
	return "Please check what you entered and try again."
}

// fieldMessages returns the per-field messages of err, if any.
func fieldMessages(err error) map[string]string {
	var fes account.FieldErrors
	if errors.As(err, &fes) {
		m := make(map[string]string, len(fes))
		for _, f := range fes {
			m[f.Field] = f.Message
		}
		return m
	}
	var fe *account.FieldError
	if errors.As(err, &fe) {
		return map[string]string{fe.Field: fe.Message}
	}
	return nil
}

// ErrorHandler returns a function that answers a failed request as the
// Server does: the right status, a page in the site's layout or a JSON
// {"error","message"} object (for API clients, see login.WantsJSON), and
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
	p, msg := classify(err)
	logError(logger, r, p, err)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	var te *throttle.ThrottledError
	switch {
	case errors.As(err, &te):
		h.Set("Retry-After", strconv.Itoa(te.RetryAfterSeconds()))
	case p.status == http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	}
	if p.status == http.StatusUnauthorized && login.WantsJSON(r) {
		h.Set("WWW-Authenticate", `Bearer realm="hallpass"`)
	}
	if login.WantsJSON(r) {
		writeJSON(w, p.status, apiError{Error: p.code, Message: msg, Fields: fieldMessages(err)})
		return
	}
	d := &errorPage{Heading: p.title, Message: msg, Status: p.status, RequestID: RequestID(r.Context())}
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
	case errors.Is(err, password.ErrBusy):
		// The login Manager logs each busy episode once.
	case p.status >= 500:
		level = slog.LevelError
	case p.code == "csrf_failed" || p.status == http.StatusRequestEntityTooLarge:
		level = slog.LevelInfo
	}
	logger.Log(r.Context(), level, "web: request failed", "method", r.Method, "path", r.URL.Path, "status", p.status, "err", err)
}

// apiError is the body of every JSON error.
type apiError struct {
	Error   string            `json:"error"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"` // per-field messages of a 422
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
		buf.WriteString(`{"error":"internal","message":"` + msgInternal + `"}` + "\n")
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

// storeErr wraps a failure of a store that web calls directly (accounts,
// tokens) as session.ErrStoreUnavailable, so it is answered with 503;
// the stores' own sentinels and nil pass through unchanged.
func storeErr(err error) error {
	switch {
	case err == nil,
		errors.Is(err, session.ErrStoreUnavailable),
		errors.Is(err, password.ErrBusy),
		errors.Is(err, throttle.ErrThrottled),
		errors.Is(err, account.ErrNotFound),
		errors.Is(err, account.ErrUsernameTaken),
		errors.Is(err, account.ErrInvalid),
		errors.Is(err, account.ErrConflict),
		errors.Is(err, context.Canceled):
		return err
	}
	return fmt.Errorf("%w: %w", session.ErrStoreUnavailable, err)
}
