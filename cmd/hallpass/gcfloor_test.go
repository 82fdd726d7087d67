package main

import (
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hallpass/hallpass/internal/gcfloor"
)

// TestGCMinHeap runs the server and reads the collector's pace from its
// own metrics (go_gc_gogc_percent): by default the heap floor raises GOGC
// while the heap is small, HALLPASS_GC_MIN_HEAP=0 leaves the runtime's
// default, and a GOGC the operator set wins; start-up says which.
func TestGCMinHeap(t *testing.T) {
	metricsRE := regexp.MustCompile(`metrics=(http://\S+/metrics)`)
	for _, tc := range []struct {
		name     string
		env      []string
		floor    uint64  // the floor in force; 0 for none
		min, max float64 // of GOGC
		log      string
	}{
		// 32 MiB over a live heap of a few MiB: 800 at most (the
		// runtime's own minimum heap is 4 MiB × GOGC/100).
		{"default", nil, 32 << 20, 101, 800, `msg="garbage collector" min_heap_mib=32`},
		{"larger floor", []string{"HALLPASS_GC_MIN_HEAP=256MiB"}, 256 << 20, 801, 6400, `msg="garbage collector" min_heap_mib=256`},
		{"off", []string{"HALLPASS_GC_MIN_HEAP=0"}, 0, 100, 100, ""},
		{"GOGC set", []string{"GOGC=150"}, 0, 150, 150, `GOGC is set, HALLPASS_GC_MIN_HEAP is not applied`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if limit, ok := gcfloor.ContainerLimit(os.DirFS("/")); ok && gcfloor.ForLimit(tc.floor, limit) < tc.floor {
				t.Skipf("this machine's memory limit (%d MiB) lowers the floor: TestGCMinHeapInContainer covers that", limit>>20)
			}
			p := startProcess(t, append(tc.env, "HALLPASS_METRICS_ADDR=127.0.0.1:0")...)
			logs := p.logs.String()
			m := metricsRE.FindStringSubmatch(logs)
			if m == nil {
				t.Fatalf("no metrics address in the logs:\n%s", logs)
			}
			gogc, ok := scrape(t, m[1])["go_gc_gogc_percent"]
			if !ok || gogc < tc.min || gogc > tc.max {
				t.Errorf("go_gc_gogc_percent %v (exposed: %v), want %v to %v", gogc, ok, tc.min, tc.max)
			}
			if tc.log != "" && !strings.Contains(logs, tc.log) {
				t.Errorf("start-up logs lack %s:\n%s", tc.log, logs)
			}
			if tc.log == "" && strings.Contains(logs, "garbage collector") {
				t.Errorf("start-up logs a heap floor that is off:\n%s", logs)
			}
		})
	}
}

// TestGCMinHeapInContainer checks that a container's memory limit caps the
// floor at a quarter of it, and says so at start-up; a roomy container or
// none leaves HALLPASS_GC_MIN_HEAP as it is.
func TestGCMinHeapInContainer(t *testing.T) {
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set in the environment: the floor is off")
	}
	for _, tc := range []struct {
		name, limit string // memory.max; "" for no control group
		want        string
	}{
		{"small container", "67108864", `msg="garbage collector" min_heap_mib=16 container_limit_mib=64`},
		{"roomy container", "4294967296", `msg="garbage collector" min_heap_mib=32` + "\n"},
		{"no limit", "max", `msg="garbage collector" min_heap_mib=32` + "\n"},
		{"no control group", "", `msg="garbage collector" min_heap_mib=32` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fstest.MapFS{}
			if tc.limit != "" {
				root["sys/fs/cgroup/memory.max"] = &fstest.MapFile{Data: []byte(tc.limit + "\n")}
			}
			var logs bytes.Buffer
			stop := startGCFloor(&config{GCMinHeap: 32 << 20}, slog.New(slog.NewTextHandler(&logs, nil)), root)
			stop()
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("start-up logged %q, want %q", logs.String(), tc.want)
			}
		})
	}
}
