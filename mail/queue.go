package mail

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/hallpass/hallpass/internal/workq"
)

// Errors of Queue.Send.
var (
	// ErrQueueFull reports a message refused because the queue holds
	// QueueOptions.Size messages already.
	ErrQueueFull = errors.New("mail: queue full")
	// ErrClosed reports a message sent after Close.
	ErrClosed = errors.New("mail: queue closed")
)

// QueueOptions configures a Queue. The zero value is ready to use.
type QueueOptions struct {
	Size     int           // messages waiting at most; default 100
	Workers  int           // deliveries at once; default 2
	Attempts int           // tries per message; default 5
	Backoff  time.Duration // wait before the first retry, doubling after each; default 2s
	// Logger receives one warning per failed attempt and an error when a
	// message is given up. Default slog.Default().
	Logger *slog.Logger
}

// Queue is a Mailer that hands messages to another Mailer in the
// background. Send never waits for the mail server: it only queues the
// message (or refuses it when the queue is full), so a slow or
// unreachable server never delays or fails a request. Each failed
// delivery is logged and retried after a growing pause, up to
// QueueOptions.Attempts tries.
type Queue struct {
	next Mailer
	opt  QueueOptions
	q    *workq.Queue
}

var _ Mailer = (*Queue)(nil)

// NewQueue starts a Queue in front of next. Close it to stop its workers.
func NewQueue(next Mailer, opt QueueOptions) *Queue {
	if opt.Size <= 0 {
		opt.Size = 100
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 5
	}
	if opt.Backoff <= 0 {
		opt.Backoff = 2 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Queue{next: next, opt: opt, q: workq.New(opt.Size, opt.Workers)}
}

// Send queues m and returns at once: ErrQueueFull when the queue is full,
// ErrClosed after Close, an ErrInvalid error for a message no server
// would take, else nil. The outcome of the delivery reaches m.Done.
func (q *Queue) Send(ctx context.Context, m *Message) error {
	if _, err := Encode(m, "check@localhost", time.Time{}); err != nil {
		return err
	}
	err := q.q.Put(func(ctx context.Context) {
		err := q.deliver(ctx, m)
		if m.Done != nil {
			m.Done(err)
		}
	})
	switch {
	case errors.Is(err, workq.ErrFull):
		q.opt.Logger.ErrorContext(ctx, "mail: queue full; message dropped", "to", m.To, "subject", m.Subject, "size", q.opt.Size)
		return ErrQueueFull
	case errors.Is(err, workq.ErrClosed):
		return ErrClosed
	}
	return err
}

// Close stops taking messages and waits for the queued ones to be
// delivered or given up, until ctx ends; then it abandons the rest
// (their Done gets ErrClosed) and returns ctx's error.
func (q *Queue) Close(ctx context.Context) error { return q.q.Close(ctx) }

// deliver tries m up to Attempts times, until ctx (the queue's) ends.
func (q *Queue) deliver(ctx context.Context, m *Message) error {
	wait := q.opt.Backoff
	var err error
	for attempt := 1; attempt <= q.opt.Attempts; attempt++ {
		if ctx.Err() != nil {
			return ErrClosed
		}
		if err = q.next.Send(ctx, m); err == nil {
			return nil
		}
		if errors.Is(err, ErrInvalid) {
			break // no retry can help
		}
		q.opt.Logger.Warn("mail: delivery failed", "to", m.To, "subject", m.Subject, "attempt", attempt, "of", q.opt.Attempts, "err", err)
		if attempt == q.opt.Attempts {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ErrClosed
		}
		wait *= 2
	}
	q.opt.Logger.Error("mail: message given up", "to", m.To, "subject", m.Subject, "err", err)
	return err
}
