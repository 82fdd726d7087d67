package sched

import (
	"runtime"
	"testing"
)

// TestSetIdle puts a thread of its own under SCHED_IDLE and reads the
// policy back; the test's other threads keep theirs.
func TestSetIdle(t *testing.T) {
	type result struct {
		before, after int
		err           error
	}
	done := make(chan result)
	go func() {
		// Never unlocked: the thread, idle for good, exits with the goroutine.
		runtime.LockOSThread()
		var r result
		if r.before, r.err = Policy(0); r.err == nil {
			if r.err = SetIdle(0); r.err == nil {
				r.after, r.err = Policy(0)
			}
		}
		done <- r
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.before == Idle || r.after != Idle {
		t.Errorf("policy before SetIdle %d, after %d; want not %d, then %d", r.before, r.after, Idle, Idle)
	}
	if p, err := Policy(0); err != nil || p == Idle {
		t.Errorf("this goroutine's thread: policy %d, %v; want not SCHED_IDLE", p, err)
	}
}
