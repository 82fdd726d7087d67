package sqlitestore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestVersionGateNeverStale checks the promise concurrent Loads rely on:
// every caller gets a read that started after it called, while callers
// that overlap share reads.
func TestVersionGateNeverStale(t *testing.T) {
	var g versionGate
	var started atomic.Int64
	query := func(context.Context) (int64, error) {
		n := started.Add(1) // the read's number: higher means later
		time.Sleep(200 * time.Microsecond)
		return n, nil
	}
	const workers, calls = 50, 40
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				before := started.Load()
				v, err := g.read(context.Background(), query)
				if err != nil {
					t.Error(err)
					return
				}
				if v <= before {
					t.Errorf("got read %d, which started before the call (reads started by then: %d)", v, before)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := started.Load(); n >= workers*calls {
		t.Errorf("%d reads for %d calls: concurrent calls did not share", n, workers*calls)
	} else {
		t.Logf("%d reads for %d calls", n, workers*calls)
	}
}

// TestVersionGateErrors checks that a failed read reaches the callers that
// shared it, and that a caller whose request ends stops waiting.
func TestVersionGateErrors(t *testing.T) {
	var g versionGate
	boom := errors.New("disk I/O error")
	release := make(chan struct{})
	slow := func(context.Context) (int64, error) { <-release; return 0, boom }
	first := make(chan error, 1)
	go func() { _, err := g.read(context.Background(), slow); first <- err }()
	waitFor := func(cond func() bool) {
		for {
			g.mu.Lock()
			ok := cond()
			g.mu.Unlock()
			if ok {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(func() bool { return g.running != nil }) // the first read runs
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan error, 1)
	go func() { _, err := g.read(context.Background(), slow); leader <- err }()
	waitFor(func() bool { return g.next != nil }) // it leads the next round
	waiter := make(chan error, 1)
	go func() {
		_, err := g.read(ctx, slow)
		waiter <- err
	}()
	time.Sleep(20 * time.Millisecond) // the waiter joins the next round
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Errorf("a waiter whose request ended: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-first; !errors.Is(err, boom) {
		t.Errorf("first read: %v, want %v", err, boom)
	}
	if err := <-leader; !errors.Is(err, boom) {
		t.Errorf("next round: %v, want %v", err, boom)
	}
}
