// Package outage logs the failures of a store once per outage: the first
// failed call of an outage as an error, the rest at debug level, and the
// end of the outage once, when a call succeeds after no call has failed
// for a quiet period. A store that fails now and then is one long outage
// in the log, not a flap of "unavailable" and "recovered" lines.
package outage

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// DefaultQuiet is how long a store must go without a failed call before
// a successful call ends its outage, when Log.Quiet is zero.
const DefaultQuiet = 3 * time.Second

// Log tracks one store's outages. Set its fields before first use; the
// zero Quiet is DefaultQuiet, a nil Now is time.Now, a nil Logger is
// slog.Default() and a nil Level is slog.LevelError. It is safe for
// concurrent use.
type Log struct {
	// Name names the store in the log lines: "session store" gives
	// "session store unavailable" and "session store recovered".
	Name   string
	Logger *slog.Logger
	Now    func() time.Time
	Quiet  time.Duration
	// Level is the level of an outage's first line (slog.LevelWarn for
	// a health probe's view of a store).
	Level slog.Leveler

	down     atomic.Bool  // in an outage
	lastFail atomic.Int64 // when a call last failed, Unix nanoseconds
	lastOK   atomic.Int64 // when a call last succeeded in an outage, Unix nanoseconds
}

func (l *Log) quiet() int64 {
	if l.Quiet == 0 {
		return int64(DefaultQuiet)
	}
	return int64(l.Quiet)
}

func (l *Log) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Log) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

// Failed notes a failed call of operation op. The first failure of an
// outage is logged at Level (an error by default) with its cause; later
// ones at debug level. A failure while ctx is done (the client went away)
// says nothing about the store and is not counted.
func (l *Log) Failed(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	now := l.now().UnixNano()
	if last := l.lastFail.Load(); l.down.Load() && l.lastOK.Load() > last && now-last >= l.quiet() {
		// Calls succeeded after the last failure, and none failed for the
		// quiet period, but no success came after it to end the outage
		// (a quiet process): it ended, and this is a new one.
		l.recovered()
	}
	l.lastFail.Store(now)
	if l.down.CompareAndSwap(false, true) {
		level := slog.LevelError
		if l.Level != nil {
			level = l.Level.Level()
		}
		l.logger().Log(ctx, level, l.Name+" unavailable", "op", op, "err", err)
	} else {
		l.logger().DebugContext(ctx, l.Name+" still unavailable", "op", op, "err", err)
	}
}

// OK notes a successful call, and logs the end of the outage once no call
// has failed for the quiet period. Outside an outage it costs one atomic
// load.
func (l *Log) OK() {
	if !l.down.Load() {
		return
	}
	now := l.now().UnixNano()
	l.lastOK.Store(now)
	if now-l.lastFail.Load() >= l.quiet() {
		l.recovered()
	}
}

// recovered ends the outage, logging it once.
func (l *Log) recovered() {
	if l.down.CompareAndSwap(true, false) {
		l.logger().Info(l.Name + " recovered")
	}
}

// Down reports whether the store is in an outage.
func (l *Log) Down() bool { return l.down.Load() }
