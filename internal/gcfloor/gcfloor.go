// Package gcfloor gives the garbage collector a floor under its heap goal.
//
// Go's collector starts a cycle when the heap has grown by GOGC percent
// (100 by default) over what the last cycle found live, or at 4 MiB. A
// server whose live heap is a few megabytes but that allocates a few
// kilobytes per request then collects dozens of times a second at full
// load, and pays for it on every request (about a sixth of a busy hallpass
// server's CPU). Start raises GOGC after each cycle just enough that the
// next goal is at least a given size while the live heap is small, and
// leaves GOGC alone once the live heap is large enough to reach that size
// by itself: memory grows by at most the floor, never by a multiple of a
// large heap. A memory limit (GOMEMLIMIT) still applies: the collector
// runs early rather than pass it; ContainerLimit and ForLimit keep a floor
// within a container's share.
//
// It is for programs, not libraries: GOGC is the whole process's setting.
package gcfloor

import (
	"io/fs"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
)

// minHeap is the Go runtime's own floor at GOGC=100 (the heap goal is at
// least minHeap×GOGC/100).
const minHeap = 4 << 20

// maxPercent bounds the GOGC that Start sets.
const maxPercent = 100_000

// tuner is the state of the one running floor.
type tuner struct {
	mu      sync.Mutex
	floor   uint64
	base    int // GOGC when Start was called, restored by stop
	current int
	stopped bool
	samples []metrics.Sample
}

var (
	runningMu sync.Mutex
	running   *tuner
)

// Start keeps the collector's heap goal at about floor bytes or more: after
// each cycle it sets GOGC to the smallest value, and at least the GOGC it
// found, whose goal for the next cycle reaches floor. It returns a
// function that stops this and restores that GOGC. Only one floor runs in
// a process: while one does, Start does nothing and returns a function
// that does nothing. A floor of 0 does nothing either.
func Start(floor uint64) (stop func()) {
	runningMu.Lock()
	defer runningMu.Unlock()
	if floor == 0 || running != nil {
		return func() {}
	}
	t := &tuner{floor: floor, samples: []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/live:bytes"}}}
	metrics.Read(t.samples[:1])
	t.base = int(t.samples[0].Value.Uint64())
	t.current = t.base
	if t.base <= 0 {
		return func() {} // GOGC=off: the collector runs only at the memory limit
	}
	running = t
	t.adjust()
	t.arm()
	return t.stop
}

// Percent returns the GOGC that gives a heap goal of about floor bytes
// when the last cycle found live bytes in use, but not less than base.
func Percent(floor, live uint64, base int) int {
	if base <= 0 {
		return base
	}
	live = max(live, 1)
	if live*uint64(100+base)/100 >= floor {
		return base // the goal reaches the floor by itself
	}
	// The goal is about live×(1+GOGC/100), but at least
	// minHeap×GOGC/100: the smaller GOGC that either term needs.
	p := min(float64(floor)/float64(live)*100-100, float64(floor)/minHeap*100)
	return int(math.Min(maxPercent, math.Max(float64(base), math.Ceil(p))))
}

// adjust sets GOGC for the live heap the last cycle found.
func (t *tuner) adjust() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.samples)
	p := Percent(t.floor, t.samples[1].Value.Uint64(), t.base)
	if p != t.current {
		debug.SetGCPercent(p)
		t.current = p
	}
}

// sentinel is allocated for each cycle; its cleanup runs after the
// cycle that found it unreachable. It holds a pointer so that it is never
// batched with other tiny allocations, whose cleanups could wait longer.
type sentinel struct {
	_ *int
	_ [16]byte
}

// arm has adjust run after the next cycle, and arm again.
func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		t.mu.Lock()
		stopped := t.stopped
		t.mu.Unlock()
		if !stopped {
			t.adjust()
			t.arm()
		}
	}, t)
}

func (t *tuner) stop() {
	t.mu.Lock()
	first := !t.stopped
	if first {
		t.stopped = true
		debug.SetGCPercent(t.base)
	}
	t.mu.Unlock()
	if first {
		runningMu.Lock()
		running = nil
		runningMu.Unlock()
	}
}

// ContainerShare is the largest part of a container's memory limit a floor
// may take: the rest is the live heap, the runtime and everything else.
const ContainerShare = 4 // a quarter

// ContainerLimit returns the memory limit of the control group the process
// runs in, read from root (the file system's root: os.DirFS("/")), and
// whether there is one: cgroup v2's memory.max, else v1's
// memory.limit_in_bytes. "max", v1's "no limit" (a value near 2^63) and a
// missing or unreadable file mean none.
func ContainerLimit(root fs.FS) (uint64, bool) {
	for _, name := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := fs.ReadFile(root, name)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n >= 1<<62 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// ForLimit returns floor, lowered to a ContainerShare of limit when that
// is less (a small container would otherwise run out of memory sooner than
// without a floor).
func ForLimit(floor, limit uint64) uint64 {
	return min(floor, limit/ContainerShare)
}
