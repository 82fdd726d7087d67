package sqlitestore

import (
	"context"
	"sync"
)

// versionGate shares reads of PRAGMA data_version between concurrent
// Loads without ever giving a Load a version read before it began: a Load
// that arrives while a read is running cannot use that read (it may have
// started before the Load's commit of interest), so it joins the next one,
// which starts when the running read ends and serves every Load that
// arrived meanwhile. Under concurrency this turns one query per Load into
// one per round trip of the watch connection, which serves one query at a
// time anyway. The zero value is ready to use.
type versionGate struct {
	mu      sync.Mutex
	running *versionRound // the read in flight, or nil
	next    *versionRound // the read that starts when running ends
}

// versionRound is one read of data_version and the Loads waiting for it.
type versionRound struct {
	start chan struct{} // closed when the round may run; nil for one that runs at once
	done  chan struct{} // closed when v and err are set
	v     int64
	err   error
}

// read returns a data_version read that began after read was called,
// running query itself or waiting for a read that other callers share.
func (g *versionGate) read(ctx context.Context, query func(context.Context) (int64, error)) (int64, error) {
	g.mu.Lock()
	if g.running == nil {
		// Nothing runs: read now, for this caller alone (no one waits on
		// a round that runs at once), with its own context.
		g.running = &alone
		g.mu.Unlock()
		v, err := query(ctx)
		g.mu.Lock()
		g.promote()
		g.mu.Unlock()
		return v, err
	}
	r := g.next
	leader := r == nil
	if leader {
		r = &versionRound{start: make(chan struct{}), done: make(chan struct{})}
		g.next = r
	}
	g.mu.Unlock()
	if leader {
		// Others wait on this round, so its leader runs it even if its
		// own request ends meanwhile; the running read is bounded by its
		// own deadline.
		<-r.start
		g.run(ctx, r, query)
		return r.v, r.err
	}
	select {
	case <-r.done:
		return r.v, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run reads the version for round r, which callers share, then lets the
// next round start. The
// read keeps ctx's deadline but not its cancellation, which belongs to one
// request of the several that share the read.
func (g *versionGate) run(ctx context.Context, r *versionRound, query func(context.Context) (int64, error)) {
	qctx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		qctx, cancel = context.WithDeadline(qctx, dl)
		defer cancel()
	}
	r.v, r.err = query(qctx)
	g.mu.Lock()
	close(r.done)
	g.promote()
	g.mu.Unlock()
}

// promote lets the next round, if any, start: the running one has ended.
// g.mu is held.
func (g *versionGate) promote() {
	g.running, g.next = g.next, nil
	if g.running != nil {
		close(g.running.start)
	}
}

// alone marks a read that runs at once for one caller.
var alone versionRound
