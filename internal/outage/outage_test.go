package outage

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogOncePerOutage(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	l := &Log{Name: "test store", Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: func() time.Time { return now }}
	ctx := context.Background()
	boom := errors.New("connection refused")

	l.OK() // no outage: nothing to say
	for range 5 {
		l.Failed(ctx, "load", boom)
		now = now.Add(time.Second)
		l.OK() // a success within the quiet period does not end the outage
	}
	if got := strings.Count(buf.String(), "level=ERROR msg=\"test store unavailable\""); got != 1 {
		t.Errorf("%d error lines for five failures of one outage, want 1:\n%s", got, buf.String())
	}
	if got := strings.Count(buf.String(), "still unavailable"); got != 4 {
		t.Errorf("%d debug lines, want 4:\n%s", got, buf.String())
	}
	if strings.Contains(buf.String(), "recovered") || !l.Down() {
		t.Fatalf("outage ended within the quiet period:\n%s", buf.String())
	}
	now = now.Add(DefaultQuiet)
	l.OK()
	l.OK()
	if got := strings.Count(buf.String(), "test store recovered"); got != 1 || l.Down() {
		t.Errorf("%d recovery lines after the quiet period (down %v), want 1", got, l.Down())
	}

	// A failure of a request whose client went away says nothing of the
	// store.
	buf.Reset()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	l.Failed(gone, "load", context.Canceled)
	if buf.Len() != 0 || l.Down() {
		t.Errorf("a cancelled request's failure was counted:\n%s", buf.String())
	}
	// The next outage is logged again.
	l.Failed(ctx, "load", boom)
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("a second outage was not logged:\n%s", buf.String())
	}

	// A success soon after a failure does not end that outage; with no
	// call for a long while after it, the next failure is a new outage,
	// logged as one (after the end of the last).
	buf.Reset()
	now = now.Add(time.Second)
	l.OK()
	now = now.Add(time.Hour)
	l.Failed(ctx, "load", boom)
	if got := buf.String(); !strings.Contains(got, "test store recovered") || !strings.Contains(got, "level=ERROR msg=\"test store unavailable\"") ||
		strings.Index(got, "recovered") > strings.Index(got, "unavailable") {
		t.Errorf("a failure an hour after the last, with a success between: logged\n%s\nwant the end of the last outage, then a new one", got)
	}
}

func TestLogLevel(t *testing.T) {
	var buf bytes.Buffer
	l := &Log{Name: "probe", Level: slog.LevelWarn, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	for range 3 {
		l.Failed(context.Background(), "ping", errors.New("timeout"))
	}
	if got := strings.Count(buf.String(), "level=WARN"); got != 1 || strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("Level slog.LevelWarn: %d warnings for one outage, want 1 and no error:\n%s", got, buf.String())
	}
}
