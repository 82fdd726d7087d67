package logbuf

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// out is an io.Writer that records its writes, safe for concurrent use.
type out struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (o *out) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	return o.buf.Write(p)
}

func (o *out) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func TestBatches(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		lines  []string
		flush  bool
		want   string // written before Close
		writes int
	}{
		{"held until the delay", 100, []string{"a\n", "b\n"}, false, "", 0},
		{"written when full", 10, []string{"12345\n", "67890\n", "x\n"}, false, "12345\n67890\n", 1},
		{"written on Flush", 100, []string{"a\n", "b\n"}, true, "a\nb\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &out{}
			w := New(o, tt.size, time.Hour)
			for _, l := range tt.lines {
				if n, err := w.Write([]byte(l)); n != len(l) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", l, n, err)
				}
			}
			if tt.flush {
				w.Flush()
			}
			if got := o.String(); got != tt.want || o.writes != tt.writes {
				t.Errorf("written before Close: %q in %d writes, want %q in %d", got, o.writes, tt.want, tt.writes)
			}
			w.Close()
			if got, want := o.String(), strings.Join(tt.lines, ""); got != want {
				t.Errorf("after Close: %q, want %q", got, want)
			}
			w.Write([]byte("late\n"))
			if !strings.HasSuffix(o.String(), "late\n") {
				t.Error("a write after Close was not written through")
			}
		})
	}
}

func TestWrittenWithinDelay(t *testing.T) {
	o := &out{}
	w := New(o, 1<<20, 20*time.Millisecond)
	defer w.Close()
	start := time.Now()
	w.Write([]byte("line\n"))
	for o.String() == "" {
		if time.Since(start) > 5*time.Second {
			t.Fatal("a line was not written within 5 s (delay 20 ms)")
		}
		time.Sleep(time.Millisecond)
	}
	// The next batch gets its own delay.
	w.Write([]byte("again\n"))
	for o.String() != "line\nagain\n" {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the second batch was not written: %q", o.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConcurrentLinesStayWhole writes from many goroutines and checks that
// every line arrives once, whole, with the lines of each goroutine in
// order.
func TestConcurrentLinesStayWhole(t *testing.T) {
	o := &out{}
	w := New(o, 512, time.Millisecond)
	const writers, lines = 50, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "writer=%d line=%d %s\n", g, i, strings.Repeat("x", i%40))
			}
		}()
	}
	wg.Wait()
	w.Close()
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(o.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines written, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(l, "writer=%d line=%d %s", &g, &i, &pad); err != nil && i%40 != 0 {
			t.Fatalf("line %q is not whole: %v", l, err)
		}
		if i != next[g] || len(pad) != i%40 {
			t.Fatalf("line %q: want line %d of writer %d, whole", l, next[g], g)
		}
		next[g]++
	}
}

func TestHandlerFlushesAllButBatched(t *testing.T) {
	o := &out{}
	w := New(o, 1<<20, time.Hour)
	defer w.Close()
	batched := func(r slog.Record) bool { return r.Message == "request" }
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w, batched)).With("app", "x")
	log.Info("request", "n", 1)
	log.Info("request", "n", 2)
	if got := o.String(); got != "" {
		t.Fatalf("access lines written at once: %q", got)
	}
	log.Log(context.Background(), slog.LevelWarn, "store down")
	got := o.String()
	for _, want := range []string{"msg=request app=x n=1", "msg=request app=x n=2", `msg="store down" app=x`} {
		if !strings.Contains(got, want) {
			t.Errorf("after a warning the log lacks %q:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "n=2"), strings.Index(got, "store down"); i > j {
		t.Errorf("lines out of order:\n%s", got)
	}
	if o.writes != 1 {
		t.Errorf("%d writes, want 1 (the batch and the warning together)", o.writes)
	}
}
