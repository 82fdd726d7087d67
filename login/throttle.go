package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hallpass/hallpass/throttle"
)

// reservation is a password check counted by the throttle before it
// happens; its methods are no-ops without a throttle. A failure to
// settle it is logged, not returned: the person's answer does not depend
// on it.
type reservation struct {
	m   *Manager
	res *throttle.Reservation
}

// reserve counts a password check of a.Account from the request before
// it happens. A refusal is returned as the throttle's error (wrapping
// throttle.ErrThrottled); a throttle that cannot count is a store
// failure, so the check is refused rather than let through uncounted.
func (m *Manager) reserve(r *http.Request, a throttle.Attempt) (reservation, error) {
	t := m.cfg.Throttle
	if t == nil {
		return reservation{}, nil
	}
	res, err := t.Reserve(r.Context(), a)
	if err := m.counted(r.Context(), err); err != nil {
		return reservation{}, err
	}
	return reservation{m: m, res: res}, nil
}

// counted passes on the result of a throttle check: nil, or the
// throttle's refusal (throttle.ErrThrottled), both of which mean the
// counter answered; any other error is the counter's failure, wrapped as
// ErrStoreUnavailable and logged once per outage of the counter, under
// its own name: the accounts may well be answering meanwhile.
func (m *Manager) counted(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, throttle.ErrThrottled) {
		m.counter.OK()
		return err
	}
	m.counter.Failed(ctx, "throttle", err)
	return fmt.Errorf("%w: throttle: %w", ErrStoreUnavailable, err)
}

// fail keeps the check counted as a failure.
func (r reservation) fail(ctx context.Context) {
	if r.res != nil {
		r.logErr(r.res.Fail(ctx), "record a failed password check")
	}
}

// succeed clears the failures the check was judged by.
func (r reservation) succeed(ctx context.Context) {
	if r.res != nil {
		r.logErr(r.res.Succeed(ctx), "reset the failure count")
	}
}

// cancel takes the check back: it was neither a failure nor a success
// that clears failures.
func (r reservation) cancel(ctx context.Context) {
	if r.res != nil {
		r.logErr(r.res.Cancel(ctx), "release a counted password check")
	}
}

func (r reservation) logErr(err error, what string) {
	if err != nil {
		r.m.log.Warn("login: cannot "+what, "err", err)
	}
}
