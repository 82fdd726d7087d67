package session

import (
	"testing"
	"time"
)

// TestLive checks the expiry test of every load at each of its three
// edges (idle, absolute, the store's expiry) and with times far outside
// the usual range (a corrupt or hand-written record): one in year 9999
// never makes a session live past a timeout, one at the zero time ends it.
func TestLive(t *testing.T) {
	m := &Manager{cfg: Config{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour}}
	now := time.Date(2026, 11, 29, 12, 0, 0, 500, time.UTC)
	ns := time.Nanosecond
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	ancient := time.Time{} // year 1
	tests := []struct {
		name                   string
		created, seen, expires time.Time
		want                   bool
	}{
		{"fresh", now.Add(-time.Hour), now.Add(-time.Minute), now.Add(29 * time.Minute), true},
		{"idle edge, in", now.Add(-time.Hour), now.Add(-30*time.Minute + ns), now.Add(time.Hour), true},
		{"idle edge, out", now.Add(-time.Hour), now.Add(-30 * time.Minute), now.Add(time.Hour), false},
		{"absolute edge, in", now.Add(-12*time.Hour + ns), now, now.Add(time.Hour), true},
		{"absolute edge, out", now.Add(-12 * time.Hour), now, now.Add(time.Hour), false},
		{"stored expiry edge, in", now, now, now.Add(ns), true},
		{"stored expiry edge, out", now, now, now, false},
		{"expiry far ahead", now, now, far, true},
		{"seen far ahead", now, far, far, true},
		{"created far ahead", far, now, far, true},
		{"seen far ahead, absolute timeout past", now.Add(-13 * time.Hour), far, far, false},
		{"expiry far ahead, idle timeout past", now.Add(-time.Hour), now.Add(-31 * time.Minute), far, false},
		{"created at the zero time", ancient, now, far, false},
		{"seen at the zero time", now, ancient, far, false},
		{"expires at the zero time", now, now, ancient, false},
	}
	for _, tt := range tests {
		rec := &Record{CreatedAt: tt.created, LastSeen: tt.seen, Expiry: tt.expires}
		if got := m.live(rec, now); got != tt.want {
			t.Errorf("%s: live = %v, want %v", tt.name, got, tt.want)
		}
	}
}
