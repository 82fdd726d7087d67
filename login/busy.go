package login

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallpass/hallpass/password"
)

// busyQuiet is how long password checks must go through without a
// refusal before a busy episode is over, so a queue that is just full
// (some checks through, some refused) logs one episode, not one per
// request.
const busyQuiet = 10 * time.Second

// busyHasher is the Manager's Hasher, watched for a full hashing queue
// (password.ErrBusy): the first refusal of an episode is logged once at
// WARN as the server being busy hashing, and the episode's end once at
// INFO with the number of refusals, however many requests it answered 503
// in between. Each refusal still reaches its caller, which answers it.
type busyHasher struct {
	Hasher
	log *slog.Logger
	now func() time.Time

	busy atomic.Bool // in an episode; changed only under mu

	mu       sync.Mutex
	since    time.Time // the episode's first refusal
	last     time.Time // its latest refusal
	refusals int
}

func (h *busyHasher) Hash(ctx context.Context, pw string) (string, error) {
	s, err := h.Hasher.Hash(ctx, pw)
	return s, h.observe(err)
}

func (h *busyHasher) Verify(ctx context.Context, pw, encoded string) (bool, error) {
	ok, err := h.Hasher.Verify(ctx, pw, encoded)
	return ok, h.observe(err)
}

func (h *busyHasher) VerifyRehash(ctx context.Context, pw, encoded string) (ok, rehash bool, err error) {
	ok, rehash, err = h.Hasher.VerifyRehash(ctx, pw, encoded)
	return ok, rehash, h.observe(err)
}

func (h *busyHasher) DummyVerify(ctx context.Context, pw string) error {
	return h.observe(h.Hasher.DummyVerify(ctx, pw))
}

// observe notes the outcome of one call and returns err unchanged. Only a
// call that went through (nil error) can end an episode.
func (h *busyHasher) observe(err error) error {
	refused := errors.Is(err, password.ErrBusy)
	if !refused && (err != nil || !h.busy.Load()) {
		return err
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case refused && !h.busy.Load():
		h.busy.Store(true)
		h.since, h.last, h.refusals = now, now, 1
		h.log.Warn("login: busy hashing password checks; answering 503 until hashing slots free up", "err", err)
	case refused:
		h.last = now
		h.refusals++
	case h.busy.Load() && now.Sub(h.last) >= busyQuiet:
		h.busy.Store(false)
		h.log.Info("login: password checks recovered from busy hashing",
			"refused", h.refusals, "lasted", h.last.Sub(h.since).Round(time.Millisecond))
	}
	return err
}
