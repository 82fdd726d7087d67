// Package sweep runs the background deletion of expired rows that the SQL
// stores share: every interval, each job in turn, with failures logged,
// since a background goroutine has no caller to return them to.
package sweep

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Job deletes one kind of expired row.
type Job struct {
	Table string                             // what the job sweeps, named in log records
	Run   func(context.Context) (int, error) // deletes the expired rows, returning how many
}

// Start runs jobs, in order, every interval (which must be positive) in a
// new goroutine, until stop is called. A job that fails is logged at level
// Error as "<pkg>: background sweep failed", with the attributes table and
// err, and runs again at the next tick; a job that deletes rows is logged
// at level Debug as "<pkg>: swept expired rows", with table and rows.
//
// stop cancels the context of the job running, if any, skips the rest of
// that pass unlogged, and returns once the goroutine has. Calling stop
// again does nothing.
func Start(interval time.Duration, log *slog.Logger, pkg string, jobs ...Job) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		every(ctx, interval, log, pkg, jobs)
	}()
	return sync.OnceFunc(func() {
		cancel()
		<-done
	})
}

func every(ctx context.Context, interval time.Duration, log *slog.Logger, pkg string, jobs []Job) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, j := range jobs {
			n, err := j.Run(ctx)
			if ctx.Err() != nil {
				return // stopped: the error is the interruption, not a failure
			}
			if err != nil {
				log.Error(pkg+": background sweep failed", "table", j.Table, "err", err)
			} else if n > 0 {
				log.Debug(pkg+": swept expired rows", "table", j.Table, "rows", n)
			}
		}
	}
}
