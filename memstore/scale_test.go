package memstore_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// The scale benchmarks fill a store with many sessions of signed-in users
// (sessiontest.ScaleRecord) and report:
//
//   - B/session: heap bytes per session over the process's baseline
//     (runtime.MemStats.HeapAlloc after a GC, before and after filling);
//   - hot-B/session: the same for a session that has been loaded, and is
//     kept decoded until the sweep finds it idle;
//   - cold-load-ns: the first Load of a session after Create, which
//     decodes it;
//   - ns/op: one Load of a random stored session (already loaded once), at
//     1,000 and at 1,000,000 sessions (it should not grow with the store);
//   - p99-load-ns and max-load-ns: the latency of Loads run in a loop
//     while a Sweep removes half of 1,000,000 sessions, which have
//     expired, from the same store, and turns cold the hot sessions that
//     were idle (see benchSweep).
//
// Filling a million sessions takes a few seconds and about 300 MB, so
// the 1,000,000 sizes run only with -bench:
//
//	go test -run '^$' -bench Scale -benchtime 2000000x ./memstore/

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// scaleIDs returns n fresh session IDs, for fill.
func scaleIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = sessiontest.ScaleID(i)
	}
	return ids
}

// fill creates a session in s under each of ids, those with expired(i)
// true expiring at soon and the others an hour later, and returns a sample
// of up to 1000 of the IDs of live ones.
func fill(tb testing.TB, s session.Store, ids []string, now, soon time.Time, expired func(i int) bool) []string {
	tb.Helper()
	ctx := context.Background()
	var sample []string
	step := max(1, len(ids)/1000)
	for i, id := range ids {
		expiry := now.Add(time.Hour)
		if expired(i) {
			expiry = soon
		} else if i%step == 0 {
			sample = append(sample, id)
		}
		if err := s.Create(ctx, id, sessiontest.ScaleRecord(i, now, expiry)); err != nil {
			tb.Fatal(err)
		}
	}
	return sample
}

func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("Load/sessions=%d", n), func(b *testing.B) {
			now := time.Now()
			s := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
			defer s.Close()
			ids := scaleIDs(n) // made before the baseline: the store holds copies
			before := heapAlloc()
			sample := fill(b, s, ids, now, now, func(int) bool { return false })
			filled := heapAlloc()
			ctx := context.Background()

			// The first Load of each sampled session decodes it (cold) and
			// keeps it decoded (hot), which takes more memory.
			start := time.Now()
			for _, id := range sample {
				if _, err := s.Load(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
			coldLoad := time.Since(start) / time.Duration(len(sample))
			loaded := heapAlloc()

			i := 0
			for b.Loop() {
				if _, err := s.Load(ctx, sample[i%len(sample)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			runtime.KeepAlive(s)
			runtime.KeepAlive(ids) // freed earlier, it would count against the store

			// b.Loop clears the metrics reported before it: report after.
			perSession := float64(int64(filled-before)) / float64(n)
			b.ReportMetric(perSession, "B/session")
			b.ReportMetric(perSession+float64(int64(loaded-filled))/float64(len(sample)), "hot-B/session")
			b.ReportMetric(float64(coldLoad.Nanoseconds()), "cold-load-ns")
		})
	}
	b.Run("Sweep/sessions=1000000", func(b *testing.B) {
		benchSweep(b, 1000000)
	})
}

// benchSweep fills a store with n sessions, half of them expired and a
// tenth of the others loaded (hot) but idle since the last sweep, and
// measures Loads of live sessions, in a loop on another goroutine, while
// one Sweep removes the expired half and turns the idle hot ones cold. For
// comparison, it then measures the same loop for as long without a sweep
// (idle-p99-load-ns, idle-max-load-ns), and while another goroutine only
// keeps a processor busy (busy-p99-load-ns, busy-max-load-ns): on a
// loaded machine, the tail of the latencies is mostly waiting for a
// processor, not for a lock.
// spin is the work of the busy goroutine of benchSweep.
var spin atomic.Int64

func benchSweep(b *testing.B, n int) {
	clock := time.Now()
	var offset atomic.Int64
	now := func() time.Time { return clock.Add(time.Duration(offset.Load())) }
	s := memstore.NewSessionStore(memstore.SessionOptions{Now: now, SweepInterval: -1})
	defer s.Close()
	ids := scaleIDs(n)
	sample := fill(b, s, ids, clock, clock.Add(time.Minute), func(i int) bool { return i%2 == 1 })
	ctx := context.Background()
	for i := 0; i < n; i += 20 { // a tenth of the live ones (even i)
		if _, err := s.Load(ctx, ids[i]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.Sweep(ctx); err != nil { // marks them not loaded since
		b.Fatal(err)
	}
	offset.Store(int64(2 * time.Minute))

	// probe loads sample sessions until stop is set, and returns the
	// latencies sorted.
	probe := func(stop *atomic.Bool) []time.Duration {
		var latencies []time.Duration
		for i := 0; !stop.Load(); i++ {
			start := time.Now()
			if _, err := s.Load(ctx, sample[i%len(sample)]); err != nil {
				b.Error(err)
				break
			}
			latencies = append(latencies, time.Since(start))
			time.Sleep(10 * time.Microsecond)
		}
		slices.Sort(latencies)
		return latencies
	}
	run := func(work func()) []time.Duration {
		var (
			wg        sync.WaitGroup
			stop      atomic.Bool
			latencies []time.Duration
		)
		wg.Go(func() { latencies = probe(&stop) })
		time.Sleep(10 * time.Millisecond)
		work()
		stop.Store(true)
		wg.Wait()
		return latencies
	}

	var (
		removed int
		err     error
		elapsed time.Duration
	)
	swept := run(func() {
		start := time.Now()
		removed, err = s.Sweep(ctx)
		elapsed = time.Since(start)
	})
	if err != nil || removed != n/2 {
		b.Fatalf("Sweep = %d, %v; want %d removed", removed, err, n/2)
	}
	idle := run(func() { time.Sleep(elapsed) })
	busy := run(func() { // a goroutine as busy as the sweep, without its locks
		for deadline := time.Now().Add(elapsed); time.Now().Before(deadline); {
			spin.Add(1)
		}
	})
	for b.Loop() {
		// The figures below are of the one Sweep; b.Loop only ends the
		// benchmark (and clears metrics reported before it).
	}
	p99 := func(l []time.Duration) float64 { return float64(l[len(l)*99/100].Nanoseconds()) }
	last := func(l []time.Duration) float64 { return float64(l[len(l)-1].Nanoseconds()) }
	b.ReportMetric(float64(elapsed.Milliseconds()), "sweep-ms")
	b.ReportMetric(p99(swept), "p99-load-ns")
	b.ReportMetric(last(swept), "max-load-ns")
	b.ReportMetric(float64(len(swept)), "loads")
	b.ReportMetric(p99(idle), "idle-p99-load-ns")
	b.ReportMetric(last(idle), "idle-max-load-ns")
	b.ReportMetric(p99(busy), "busy-p99-load-ns")
	b.ReportMetric(last(busy), "busy-max-load-ns")
	runtime.KeepAlive(ids)
}

// TestScaleSmall runs the scale measurements on a small store, so that go
// test checks they work; HALLPASS_SCALE_SESSIONS sets the size, and -v
// prints the figures.
func TestScaleSmall(t *testing.T) {
	n := 2000
	if v := os.Getenv("HALLPASS_SCALE_SESSIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	s := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	defer s.Close()
	ids := scaleIDs(n)
	before := heapAlloc()
	sample := fill(t, s, ids, now, now, func(int) bool { return false })
	after := heapAlloc()
	runtime.KeepAlive(ids) // freed before after, it would count against the store
	t.Logf("%d sessions: %d B/session", n, int64(after-before)/int64(n))
	// Loaded (hot), then idle for two sweeps (cold again), then loaded.
	for round := range 2 {
		for _, id := range sample {
			if _, err := s.Load(t.Context(), id); err != nil {
				t.Errorf("round %d: Load(%q) = %v", round, id, err)
			}
		}
		for range 2 {
			if removed, err := s.Sweep(t.Context()); removed != 0 || err != nil {
				t.Errorf("Sweep = %d, %v; want nothing removed", removed, err)
			}
		}
	}
	if s.Len() != n {
		t.Errorf("Len() = %d, want %d", s.Len(), n)
	}
}
