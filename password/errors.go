package password

import (
	"errors"
	"fmt"

	"github.com/hallpass/hallpass/autherr"
)

// Errors about a stored hash or the hashing machinery. Errors returned by
// this package wrap them with detail; test for them with [errors.Is].
var (
	// ErrUnknownFormat means Verify does not recognize the stored hash's
	// format (or recognizes it as one it does not support, such as
	// argon2d). It is never reported as a wrong password.
	ErrUnknownFormat = errors.New("password: unknown hash format")

	// ErrMalformedHash means the stored hash has a known format but cannot
	// be read, or its parameters are outside the limits described in the
	// package documentation.
	ErrMalformedHash = errors.New("password: malformed hash")

	// ErrBusy means no hashing slot became free within the Hasher's MaxWait
	// (or before the context ended). Servers should answer 503 Service
	// Unavailable.
	ErrBusy error = &autherr.Error{Kind: autherr.Busy, Code: "busy",
		Message: "The server is busy checking passwords. Please try again in a few seconds.",
		Err:     errors.New("password: too many password checks in progress")}
)

// Errors about the password itself. The errors that [Policy.Check], [Hash]
// and [Verify] return for these wrap one of them, and their own messages
// (unlike these sentinels') are sentences fit to show the person who typed
// the password, such as "Password must be at least 8 characters."
var (
	// ErrTooShort means the password has fewer code points than the
	// policy's MinLength.
	ErrTooShort error = autherr.New(autherr.Invalid, "password: too short")

	// ErrTooLong means the password has more code points than the policy's
	// MaxLength (or MaxPasswordLength), or, when checked against a bcrypt
	// hash, more than 72 bytes.
	ErrTooLong error = autherr.New(autherr.Invalid, "password: too long")

	// ErrCommon means the password is on the policy's blocklist.
	ErrCommon error = autherr.New(autherr.Invalid, "password: too common")

	// ErrSameAsUsername means the password equals the username, ignoring
	// case.
	ErrSameAsUsername error = autherr.New(autherr.Invalid, "password: same as the username")

	// ErrInvalidUTF8 means the password is not valid UTF-8 text.
	ErrInvalidUTF8 error = autherr.New(autherr.Invalid, "password: not valid UTF-8")
)

// userError is an error whose message is a sentence for the person who typed
// the password, wrapping one of the sentinel errors above.
type userError struct {
	kind error
	msg  string
}

func (e *userError) Error() string { return e.msg }

// Unwrap returns the sentinel, as an error of kind autherr.Invalid whose
// message is e's sentence, given as the message of field "password" too
// (autherr.FieldsOf), so that account.FieldErrors files it there.
func (e *userError) Unwrap() error {
	return &autherr.Error{Kind: autherr.Invalid, Message: e.msg, Fields: map[string]string{"password": e.msg}, Err: e.kind}
}

func tooShort(n int) error {
	return &userError{ErrTooShort, fmt.Sprintf("Password must be at least %d %s.", n, characters(n))}
}

func tooLong(n int) error {
	return &userError{ErrTooLong, fmt.Sprintf("Password must be at most %d %s.", n, characters(n))}
}

func characters(n int) string {
	if n == 1 {
		return "character"
	}
	return "characters"
}

var (
	errInvalidUTF8 = &userError{ErrInvalidUTF8, "Password contains characters that could not be read. Please type it again."}
	errBcryptLong  = &userError{ErrTooLong, "Password is longer than 72 bytes, the most this account's stored password hash can check."}
	errCommon      = &userError{ErrCommon, "This password is too common. Choose one that is harder to guess."}
	errSameAsUser  = &userError{ErrSameAsUsername, "Password must not be the same as your username."}
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
}

func unknown(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnknownFormat}, args...)...)
}
