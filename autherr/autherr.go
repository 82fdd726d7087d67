// Package autherr is hallpass's error vocabulary: one error type that says
// what kind of failure happened (invalid input, no login, forbidden, not
// found, conflict, throttled, busy, unavailable), with a message fit to
// show a person and the cause wrapped for the log.
//
// A mechanism (session, login, throttle, password, account, ...) decides
// the kind and the message where the failure happens; the one place that
// answers HTTP only looks them up with [KindOf], [MessageOf], [CodeOf] and
// [RetryAfterOf]. [WriteHTTP] is that place by default; a server replaces
// it with its own (package web renders pages in the site's layout).
//
// The packages' sentinel errors are *Error values, so errors.Is keeps
// working on them and their kind travels with every error that wraps
// them:
//
//	err := fmt.Errorf("%w: load user: %w", session.ErrStoreUnavailable, cause)
//	autherr.KindOf(err) == autherr.Unavailable
//
// The first *Error in an error's tree (in the order of errors.As) decides
// its kind, message and code, so an outer wrapping wins over an inner one.
package autherr

import (
	"context"
	"errors"
	"time"
)

// Kind is what kind of failure an error reports. Its value is also the
// default machine code of the error (the "error" member of a JSON answer).
type Kind string

// The kinds. An error without one is Internal.
const (
	// Invalid: the input is wrong; the message says what to change.
	Invalid Kind = "invalid"
	// Unauthenticated: no user is logged in, or the credentials are
	// wrong.
	Unauthenticated Kind = "unauthenticated"
	// Forbidden: the user may not do this.
	Forbidden Kind = "forbidden"
	// NotFound: the thing asked for does not exist (or is not the
	// user's).
	NotFound Kind = "not_found"
	// Conflict: the thing exists already, or changed meanwhile.
	Conflict Kind = "conflict"
	// Throttled: too many attempts; see RetryAfterOf.
	Throttled Kind = "throttled"
	// Busy: the server is too busy right now (password hashing queue
	// full); see RetryAfterOf.
	Busy Kind = "busy"
	// Unavailable: a store or service does not answer.
	Unavailable Kind = "unavailable"
	// Unsupported: the configured store cannot do this at all.
	Unsupported Kind = "not_supported"
	// Internal: a failure on our side with nothing to tell the person.
	Internal Kind = "internal"
)

// Kinds returns every kind, Internal last.
func Kinds() []Kind {
	return []Kind{Invalid, Unauthenticated, Forbidden, NotFound, Conflict, Throttled, Busy, Unavailable, Unsupported, Internal}
}

// defaultMessages are the messages of the kinds, for an error that has
// none of its own.
var defaultMessages = map[Kind]string{
	Invalid:         "Please check what you entered and try again.",
	Unauthenticated: "Please log in.",
	Forbidden:       "You do not have permission to do that.",
	NotFound:        "We could not find what you asked for.",
	Conflict:        "Someone changed this at the same time. Please reload the page and try again.",
	Throttled:       "Too many attempts. Please try again later.",
	Busy:            "The server is busy. Please try again in a few seconds.",
	Unavailable:     "The service is temporarily unavailable. Please try again in a moment.",
	Unsupported:     "This server's configuration cannot do that.",
	Internal:        "Something went wrong on our side. Please try again.",
}

// DefaultMessage returns the message shown for an error of kind k that
// carries none of its own.
func DefaultMessage(k Kind) string {
	if m, ok := defaultMessages[k]; ok {
		return m
	}
	return defaultMessages[Internal]
}

// Error is an error of a known kind. Every field but Kind is optional.
// Use a pointer (*Error) so errors.Is compares identities.
type Error struct {
	// Kind is what kind of failure this is. Empty means Internal.
	Kind Kind
	// Code is a machine code more precise than the kind, such as
	// "invalid_credentials" or "fresh_login_required". Empty means the
	// kind's own value.
	Code string
	// Message is a sentence fit to show a person. Empty means the kind's
	// DefaultMessage.
	Message string
	// Fields holds a message per invalid input field, for Invalid.
	Fields map[string]string
	// RetryAfter is how long to wait before trying again, for Throttled
	// and Busy. Zero means unknown.
	RetryAfter time.Duration
	// Challenge is the WWW-Authenticate value to send with the error;
	// empty means the responder's default for the kind.
	Challenge string
	// Err is the cause, for the log and for errors.Is and errors.As.
	Err error
}

// Error returns the cause's text when there is a cause (logs want the
// cause), otherwise the message, otherwise the kind.
func (e *Error) Error() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Message != "":
		return e.Message
	}
	return "autherr: " + string(e.kind())
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) kind() Kind {
	if e.Kind == "" {
		return Internal
	}
	return e.Kind
}

// New returns an error of kind k whose Error text is text, for a
// package's sentinel errors:
//
//	var ErrNotFound = autherr.New(autherr.NotFound, "account: not found")
func New(k Kind, text string) *Error {
	return &Error{Kind: k, Err: errors.New(text)}
}

// Wrap returns err as an error of kind k showing msg ("" for the kind's
// default message), or nil when err is nil.
func Wrap(err error, k Kind, msg string) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Message: msg, Err: err}
}

// first returns the first *Error in err's tree, or nil.
func first(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf returns the kind of err: that of the first *Error in its tree;
// Unavailable for a context that ended (deadline or cancellation) without
// one; Internal for any other error; "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	if e := first(err); e != nil {
		return e.kind()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Unavailable
	}
	return Internal
}

// CodeOf returns the machine code of err: the first *Error's Code, else
// its kind; "" for nil.
func CodeOf(err error) string {
	if e := first(err); e != nil && e.Code != "" {
		return e.Code
	}
	return string(KindOf(err))
}

// MessageOf returns the message of err to show a person: the first
// *Error's Message, else its kind's DefaultMessage; "" for nil. It never
// returns the text of a cause, which may hold SQL or addresses.
func MessageOf(err error) string {
	if err == nil {
		return ""
	}
	if e := first(err); e != nil && e.Message != "" {
		return e.Message
	}
	return DefaultMessage(KindOf(err))
}

// FieldsOf returns the per-field messages of err's first *Error, or nil.
func FieldsOf(err error) map[string]string {
	if e := first(err); e != nil {
		return e.Fields
	}
	return nil
}

// RetryAfterOf returns how long the client should wait before retrying
// err: the first *Error's RetryAfter, else 0.
func RetryAfterOf(err error) time.Duration {
	if e := first(err); e != nil {
		return e.RetryAfter
	}
	return 0
}

// ChallengeOf returns the WWW-Authenticate value err asks for, or "".
func ChallengeOf(err error) string {
	if e := first(err); e != nil {
		return e.Challenge
	}
	return ""
}
