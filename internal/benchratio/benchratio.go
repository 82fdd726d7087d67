// Package benchratio measures a handler against a baseline handler in one
// benchmark, in alternating batches, and reports the ratio of their times.
//
// Separate benchmarks run seconds apart, and on a shared or virtual machine
// the speed of the machine drifts between them by more than the
// difference under study: the ratio of two separate results moved by
// ±20 % from one run to the next on the 2-core VM the project measures on.
// Alternating batches of a few milliseconds expose both handlers to the
// same drift, so their ratio holds still (±5 % there) and a change of a
// few percent shows.
package benchratio

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Batch is the number of requests each handler serves in turn: long
// enough for the clock's cost to vanish and for each batch to pass
// through a few garbage collections, short enough for both to see the
// same machine.
const Batch = 2000

// Handlers serves baseReq with base and req with h, Batch requests each in
// turn, until the benchmark's time is up, and reports the mean time of
// each ("base-ns/req", "ns/req") and their ratio ("x-base"). Every response
// must be a success (a status below 300): a broken handler fails the
// benchmark rather than look fast.
func Handlers(b *testing.B, base http.Handler, baseReq *http.Request, h http.Handler, req *http.Request) {
	b.Helper()
	var tBase, tH time.Duration
	n := 0
	for b.Loop() {
		tBase += batch(b, base, baseReq)
		tH += batch(b, h, req)
		n += Batch
	}
	b.ReportMetric(float64(tBase.Nanoseconds())/float64(n), "base-ns/req")
	b.ReportMetric(float64(tH.Nanoseconds())/float64(n), "ns/req")
	b.ReportMetric(float64(tH)/float64(tBase), "x-base")
}

func batch(b *testing.B, h http.Handler, req *http.Request) time.Duration {
	start := time.Now()
	code := http.StatusOK
	for range Batch {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		code = max(code, rec.Code)
	}
	d := time.Since(start)
	if code >= 300 {
		b.Fatalf("status %d", code)
	}
	return d
}
