package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestGCMinHeap runs the server and reads the collector's pace from its
// own metrics (go_gc_gogc_percent): by default the heap floor raises GOGC
// while the heap is small, HALLPASS_GC_MIN_HEAP=0 leaves the runtime's
// default, and a GOGC the operator set wins; start-up says which.
func TestGCMinHeap(t *testing.T) {
	metricsRE := regexp.MustCompile(`metrics=(http://\S+/metrics)`)
	gogcRE := regexp.MustCompile(`(?m)^go_gc_gogc_percent (\S+)$`)
	for _, tc := range []struct {
		name     string
		env      []string
		min, max float64 // of GOGC
		log      string
	}{
		// 32 MiB over a live heap of a few MiB: 800 at most (the
		// runtime's own minimum heap is 4 MiB × GOGC/100).
		{"default", nil, 101, 800, `msg="garbage collector" min_heap_mib=32`},
		{"larger floor", []string{"HALLPASS_GC_MIN_HEAP=256MiB"}, 801, 6400, `msg="garbage collector" min_heap_mib=256`},
		{"off", []string{"HALLPASS_GC_MIN_HEAP=0"}, 100, 100, ""},
		{"GOGC set", []string{"GOGC=150"}, 150, 150, `GOGC is set, HALLPASS_GC_MIN_HEAP is not applied`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, append(tc.env, "HALLPASS_METRICS_ADDR=127.0.0.1:0")...)
			logs := p.logs.String()
			m := metricsRE.FindStringSubmatch(logs)
			if m == nil {
				t.Fatalf("no metrics address in the logs:\n%s", logs)
			}
			resp, err := http.Get(m[1])
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			g := gogcRE.FindSubmatch(body)
			if g == nil {
				t.Fatalf("no go_gc_gogc_percent in the metrics:\n%s", body)
			}
			gogc, err := strconv.ParseFloat(string(g[1]), 64)
			if err != nil || gogc < tc.min || gogc > tc.max {
				t.Errorf("go_gc_gogc_percent %s, want %v to %v", g[1], tc.min, tc.max)
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
