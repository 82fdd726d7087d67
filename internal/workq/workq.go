// Package workq runs jobs in the background on a fixed number of
// goroutines, from a bounded queue that never makes its caller wait: a job
// that does not fit is refused at once. The mail queue and the recovery
// flows' background requests are built on it.
package workq

import (
	"context"
	"errors"
	"sync"
)

// Errors of Put.
var (
	ErrFull   = errors.New("workq: queue full")
	ErrClosed = errors.New("workq: queue closed")
)

// Queue is a bounded job queue with its workers. It is safe for
// concurrent use.
type Queue struct {
	jobs chan func(context.Context)
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu     sync.RWMutex // guards closed against sends on jobs
	closed bool
}

// New starts workers goroutines (at least one) serving a queue of size
// jobs (at least one).
func New(size, workers int) *Queue {
	q := &Queue{jobs: make(chan func(context.Context), max(size, 1))}
	q.ctx, q.stop = context.WithCancel(context.Background())
	for range max(workers, 1) {
		q.wg.Go(func() {
			for job := range q.jobs {
				job(q.ctx)
			}
		})
	}
	return q
}

// Put queues job and returns at once: ErrFull when the queue is full,
// ErrClosed after Close. A job gets a context that ends when Close gives
// up waiting; jobs still queued then run with that ended context, so they
// should return quickly once it has.
func (q *Queue) Put(job func(ctx context.Context)) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.jobs <- job:
		return nil
	default:
		return ErrFull
	}
}

// Close stops taking jobs and waits until the queued ones have run or ctx
// ends; then it ends the jobs' context, waits for the workers to return,
// and returns ctx's error (nil when all ran in time).
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	defer q.stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		q.stop()
		<-done
		return ctx.Err()
	}
}
