package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"testing/fstest"
	"time"
)

func TestPercent(t *testing.T) {
	const MiB = 1 << 20
	tests := []struct {
		name        string
		floor, live uint64
		base, want  int
	}{
		{"small heap: the runtime's minimum sets the goal", 32 * MiB, 2 * MiB, 100, 800},
		{"no live heap yet", 32 * MiB, 0, 100, 800},
		{"heap of a quarter of the floor", 32 * MiB, 8 * MiB, 100, 300},
		{"heap of a third of the floor", 30 * MiB, 10 * MiB, 100, 200},
		{"heap of half the floor reaches it", 32 * MiB, 16 * MiB, 100, 100},
		{"large heap", 32 * MiB, 1024 * MiB, 100, 100},
		{"never below the GOGC found", 32 * MiB, 2 * MiB, 1000, 1000},
		{"a higher GOGC found reaches the floor sooner", 32 * MiB, 8 * MiB, 400, 400},
		{"GOGC off stays off", 32 * MiB, 2 * MiB, -1, -1},
		{"bounded", 1 << 50, 1, 100, maxPercent},
	}
	for _, tt := range tests {
		if got := Percent(tt.floor, tt.live, tt.base); got != tt.want {
			t.Errorf("%s: Percent(%d, %d, %d) = %d, want %d", tt.name, tt.floor, tt.live, tt.base, got, tt.want)
		}
	}
}

// read returns the runtime's GOGC and heap goal.
func read() (gogc int, goal uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64()), s[1].Value.Uint64()
}

// waitFor runs collections until cond holds (a floor adjusts GOGC after
// a cycle, from the runtime's cleanup goroutine), or fails after 5 s.
func waitFor(t *testing.T, what string, cond func(gogc int, goal uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		gogc, goal := read()
		if cond(gogc, goal) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: GOGC %d, heap goal %.1f MiB after 5 s", what, gogc, float64(goal)/(1<<20))
		}
	}
}

// TestStart checks a floor against the real collector: the goal rises to
// the floor while the heap is small, GOGC goes back to what it was while
// the live heap reaches the floor by itself and up again when it shrinks,
// and stop restores the GOGC found.
func TestStart(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	const floor = 64 << 20

	stop := Start(floor)
	defer stop()
	if again := Start(floor); again == nil {
		t.Fatal("second Start returned nil")
	} else {
		again() // does nothing: the first floor runs on
	}
	waitFor(t, "small heap", func(gogc int, goal uint64) bool { return gogc > 100 && goal >= floor*9/10 })
	if _, goal := read(); goal > floor*3/2 {
		t.Errorf("small heap: goal %.1f MiB, want about the floor (64 MiB)", float64(goal)/(1<<20))
	}

	live := make([][]byte, 0, 96)
	for range cap(live) {
		live = append(live, make([]byte, 1<<20)) // 96 MiB live: above half the floor
	}
	waitFor(t, "large heap", func(gogc int, goal uint64) bool { return gogc == 100 })
	runtime.KeepAlive(live)
	live = nil

	waitFor(t, "heap small again", func(gogc int, goal uint64) bool { return gogc > 100 })
	stop()
	if gogc, _ := read(); gogc != 100 {
		t.Errorf("after stop: GOGC %d, want 100, as found", gogc)
	}
	// Stopped, it changes nothing.
	debug.SetGCPercent(150)
	runtime.GC()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if gogc, _ := read(); gogc != 150 {
		t.Errorf("a stopped floor changed GOGC to %d", gogc)
	}
	// Another can start once the first stopped.
	stop2 := Start(floor)
	waitFor(t, "second floor", func(gogc int, goal uint64) bool { return gogc > 150 })
	stop2()
	if gogc, _ := read(); gogc != 150 {
		t.Errorf("after the second stop: GOGC %d, want 150", gogc)
	}
}

// TestStartZeroAndOff checks that a zero floor, and a process with GOGC
// off, are left alone.
func TestStartZeroAndOff(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	Start(0)()
	debug.SetGCPercent(-1)
	stop := Start(64 << 20)
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	if gogc, _ := read(); gogc != -1 && gogc != 0 {
		t.Errorf("GOGC off: floor set %d", gogc)
	}
	stop()
	debug.SetGCPercent(100)
	if running != nil {
		t.Error("a floor is recorded as running after GOGC off")
	}
}

func TestContainerLimit(t *testing.T) {
	const v2, v1 = "sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"
	tests := []struct {
		name  string
		files map[string]string
		want  uint64
		ok    bool
	}{
		{"cgroup v2 limit", map[string]string{v2: "67108864\n"}, 64 << 20, true},
		{"cgroup v2 no limit", map[string]string{v2: "max\n"}, 0, false},
		{"cgroup v1 limit", map[string]string{v1: "268435456\n"}, 256 << 20, true},
		{"cgroup v1 no limit", map[string]string{v1: "9223372036854771712\n"}, 0, false},
		{"v2 wins over v1", map[string]string{v2: "max", v1: "268435456"}, 0, false},
		{"unreadable value", map[string]string{v2: "lots"}, 0, false},
		{"no control group", nil, 0, false},
	}
	for _, tt := range tests {
		root := fstest.MapFS{}
		for name, data := range tt.files {
			root[name] = &fstest.MapFile{Data: []byte(data)}
		}
		if got, ok := ContainerLimit(root); got != tt.want || ok != tt.ok {
			t.Errorf("%s: ContainerLimit = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if got := ForLimit(32<<20, 64<<20); got != 16<<20 {
		t.Errorf("ForLimit(32 MiB, 64 MiB) = %d, want 16 MiB", got)
	}
	if got := ForLimit(32<<20, 1<<30); got != 32<<20 {
		t.Errorf("ForLimit(32 MiB, 1 GiB) = %d, want 32 MiB", got)
	}
}
