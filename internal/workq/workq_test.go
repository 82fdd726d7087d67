package workq

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPutRunsAndRefuses(t *testing.T) {
	q := New(2, 1)
	release := make(chan struct{})
	var ran atomic.Int32
	block := func(context.Context) { <-release; ran.Add(1) }
	// One job occupies the worker, two fill the queue, the fourth is refused.
	if err := q.Put(block); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(q.jobs) != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // until the worker has taken the first
	}
	for i := range 2 {
		if err := q.Put(block); err != nil {
			t.Fatalf("Put %d: %v", i+2, err)
		}
	}
	if err := q.Put(block); !errors.Is(err, ErrFull) {
		t.Errorf("Put on a full queue = %v, want ErrFull", err)
	}
	close(release)
	if err := q.Close(context.Background()); err != nil {
		t.Errorf("Close = %v", err)
	}
	if ran.Load() != 3 {
		t.Errorf("%d jobs ran, want 3", ran.Load())
	}
	if err := q.Put(block); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
}

func TestCloseGivesUp(t *testing.T) {
	q := New(1, 1)
	var ended atomic.Bool
	q.Put(func(ctx context.Context) { <-ctx.Done(); ended.Store(true) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want DeadlineExceeded", err)
	}
	if !ended.Load() {
		t.Error("Close returned before the job saw its context end")
	}
}
