package sweep

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// logBuffer collects the records of a logger, one line each, without
// their times.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSuffix(b.buf.String(), "\n"), "\n")
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := new(logBuffer)
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})), b
}

// calls records the jobs that ran, in order.
type calls struct {
	mu    sync.Mutex
	names []string
}

// job returns a Job that records its call and returns n and err.
func (c *calls) job(table string, n int, err error) Job {
	return Job{Table: table, Run: func(context.Context) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.names = append(c.names, table)
		return n, err
	}}
}

func (c *calls) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.names)
}

func TestStartRunsJobsEachInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := newLogger()
		r := new(calls)
		stop := Start(time.Minute, log, "store",
			r.job("a", 3, nil),
			r.job("b", 0, errors.New("disk full")),
			r.job("c", 0, nil))
		defer stop()

		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		if got := r.got(); len(got) != 0 {
			t.Fatalf("before the first interval, jobs ran: %v", got)
		}

		time.Sleep(time.Minute + time.Nanosecond)
		synctest.Wait()
		if got, want := r.got(), []string{"a", "b", "c", "a", "b", "c"}; !slices.Equal(got, want) {
			t.Errorf("after two intervals, jobs ran %v, want %v", got, want)
		}
		pass := []string{
			`level=DEBUG msg="store: swept expired rows" table=a rows=3`,
			`level=ERROR msg="store: background sweep failed" table=b err="disk full"`,
		}
		if got, want := logs.lines(), slices.Concat(pass, pass); !slices.Equal(got, want) {
			t.Errorf("logged\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestStopInterruptsAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := newLogger()
		started := make(chan struct{})
		var returned, laterRan bool
		stop := Start(time.Minute, log, "store",
			Job{Table: "slow", Run: func(ctx context.Context) (int, error) {
				close(started)
				<-ctx.Done()
				time.Sleep(time.Second) // stop must wait for this
				returned = true
				return 0, ctx.Err()
			}},
			Job{Table: "later", Run: func(context.Context) (int, error) {
				laterRan = true
				return 1, nil
			}})
		<-started
		stop()
		if !returned {
			t.Error("stop returned before the running job did")
		}
		stop() // a second call does nothing

		time.Sleep(time.Hour)
		synctest.Wait()
		if laterRan {
			t.Error("a job ran after stop")
		}
		if got := logs.lines(); !slices.Equal(got, []string{""}) {
			t.Errorf("a stopped sweep logged %q, want nothing", got)
		}
	})
}
