package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// accessAttrs are the attributes of an access log line (web's
// logRequest, plus the request ID web.LogHandler adds).
func accessAttrs(method, route string, status int, d time.Duration, n int64, id string) []slog.Attr {
	return []slog.Attr{slog.String("method", method), slog.String("route", route), slog.Int("status", status),
		slog.Duration("duration", d), slog.Int64("bytes", n), slog.String("request_id", id)}
}

// TestAccessLogLineAsSlog checks that the hand-formatted access log line is
// the line slog's own handler writes, byte for byte, in both formats, for
// ordinary and awkward values, at times in one second and across seconds
// and zones (the time prefix is kept per second).
func TestAccessLogLineAsSlog(t *testing.T) {
	base := time.Date(2026, 11, 29, 4, 42, 42, 832_123_456, time.UTC)
	times := []time.Time{
		base,
		base.Add(100 * time.Millisecond),
		base.Add(time.Second),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("x", -5*3600-30*60)),
		time.Date(2026, 1, 2, 3, 4, 5, 1_000_000, time.FixedZone("y", 3600)),
		{},
	}
	attrs := [][]slog.Attr{
		accessAttrs("GET", "GET /dashboard", 200, 373444*time.Nanosecond, 1088, "BXHQ6BDIANUBH3UQ2Y3CBG2PFO"),
		accessAttrs("POST", "", 404, 75*time.Millisecond, 0, "a=b"),
		accessAttrs("PROPFIND", "GET /{$}", 500, 0, -1, `quote"and\back`),
		accessAttrs("GET", "tab\tnew\nline\x01\x7f", 200, time.Hour, 1<<40, "ünïcode\u2028\u00a0"),
		accessAttrs("GET", "bad utf8 \xff\xfe", 301, time.Microsecond, 3, "<html>&"),
	}
	for _, format := range []string{"text", "json"} {
		h := &accessLogHandler{next: slog.NewTextHandler(io.Discard, nil), json: format == "json"}
		for _, tm := range times {
			for _, as := range attrs {
				var want, got bytes.Buffer
				var ref slog.Handler = slog.NewTextHandler(&want, nil)
				if format == "json" {
					ref = slog.NewJSONHandler(&want, nil)
				}
				h.w = &got
				r := slog.NewRecord(tm, slog.LevelInfo, "request", 0)
				r.AddAttrs(as...)
				if err := ref.Handle(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				if err := h.Handle(context.Background(), r); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("%s line:\n got %q\nwant %q", format, got.String(), want.String())
				}
			}
		}
	}
}

// TestAccessLogHandlerPassesOthers checks that records other than access
// log lines, and access lines with attributes it does not format, reach the
// handler beneath, and that a derived logger uses it.
func TestAccessLogHandlerPassesOthers(t *testing.T) {
	var next, direct bytes.Buffer
	h := &accessLogHandler{next: slog.NewTextHandler(&next, nil), w: &direct}
	log := slog.New(h)
	log.Info("hallpass is running", "listen", "127.0.0.1:8080")
	log.Warn("request", "method", "GET") // a warning, not an access line
	log.Info("request", "when", time.Unix(0, 0).UTC())
	log.With("component", "x").Info("request", "method", "GET")
	if direct.Len() != 0 {
		t.Errorf("written by hand: %q, want nothing", direct.String())
	}
	for _, want := range []string{`msg="hallpass is running"`, "level=WARN msg=request", "when=1970-01-01T00:00:00.000Z", "component=x method=GET"} {
		if !bytes.Contains(next.Bytes(), []byte(want)) {
			t.Errorf("the handler beneath did not get %q:\n%s", want, next.String())
		}
	}
}

// BenchmarkAccessLogLine compares the access log line through slog's text
// handler with the hand-formatted one, each record made as web's
// logRequest makes it.
//
//	go test -run '^$' -bench AccessLogLine -benchmem ./cmd/hallpass/
func BenchmarkAccessLogLine(b *testing.B) {
	as := accessAttrs("GET", "GET /dashboard", 200, 373444*time.Nanosecond, 1088, "BXHQ6BDIANUBH3UQ2Y3CBG2PFO")
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog", slog.NewTextHandler(io.Discard, nil)},
		{"by-hand", &accessLogHandler{next: slog.NewTextHandler(io.Discard, nil), w: io.Discard}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				r.AddAttrs(as...)
				bc.h.Handle(ctx, r)
			}
		})
	}
}
