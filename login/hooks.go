package login

import (
	"context"
	"errors"

	"github.com/hallpass/hallpass/throttle"
)

// Result is the outcome of an Authenticate call, for metrics.
type Result string

// The results Hooks.Authenticated reports.
const (
	// ResultSuccess: the password was right.
	ResultSuccess Result = "success"
	// ResultWrongPassword: Authenticate returned ErrInvalidCredentials (a
	// wrong password, an unknown user or a disabled account).
	ResultWrongPassword Result = "wrong_password"
	// ResultThrottled: the throttle refused the attempt for the client's
	// address or the account's growing delay.
	ResultThrottled Result = "throttled"
	// ResultLocked: the throttle refused the attempt because the account
	// (or, for a known browser, that device) reached its failure limit.
	ResultLocked Result = "locked"
	// ResultError: no decision, as a store or the password hasher failed.
	ResultError Result = "error"
)

// Results lists every Result, for metrics that show each from zero.
var Results = []Result{ResultSuccess, ResultWrongPassword, ResultThrottled, ResultLocked, ResultError}

// Hooks are optional callbacks a Manager calls, for metrics; each nil one
// costs nothing. They run on the request's goroutine and must be fast and
// safe for concurrent use.
type Hooks struct {
	// Authenticated is called when Authenticate returns, with its result.
	Authenticated func(ctx context.Context, result Result)
	// RememberUsed is called when a remember-me cookie restored a login.
	RememberUsed func(ctx context.Context)
	// RememberTheft is called when a remember-me cookie was found stolen
	// (and the user's remember tokens and sessions were revoked).
	RememberTheft func(ctx context.Context)
}

// resultOf classifies what Authenticate returned.
func resultOf(err error) Result {
	var te *throttle.ThrottledError
	switch {
	case err == nil:
		return ResultSuccess
	case errors.Is(err, ErrInvalidCredentials):
		return ResultWrongPassword
	case errors.As(err, &te) && (te.Reason == throttle.ReasonAccount || te.Reason == throttle.ReasonDevice):
		return ResultLocked
	case errors.Is(err, throttle.ErrThrottled):
		return ResultThrottled
	}
	return ResultError
}
