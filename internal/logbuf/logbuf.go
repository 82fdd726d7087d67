// Package logbuf batches log lines into few writes: a server's access log
// writes a line per request, and a write system call per line is a
// noticeable part of the CPU of a busy server.
//
// A Writer keeps what it is given in memory and writes it out when the
// batch passes Size bytes, at most Delay after the first line of a batch,
// on Flush and on Close. Lines are never split between writes and keep
// their order.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Defaults of New.
const (
	DefaultSize  = 32 << 10
	DefaultDelay = 50 * time.Millisecond
)

// Writer is an io.Writer that batches writes to another. It is safe for
// concurrent use. The zero value is not usable; call New.
type Writer struct {
	out   io.Writer
	size  int
	delay time.Duration

	mu      sync.Mutex // guards buf, closed and timer
	buf     []byte
	spare   []byte // the other buffer, swapped in while one is written out
	closed  bool
	timer   *time.Timer
	writeMu sync.Mutex // orders the writes to out
}

// New returns a Writer that batches writes to out, writing a batch once it
// holds size bytes or delay after its first write. Zero values mean
// DefaultSize and DefaultDelay.
func New(out io.Writer, size int, delay time.Duration) *Writer {
	if size <= 0 {
		size = DefaultSize
	}
	if delay <= 0 {
		delay = DefaultDelay
	}
	w := &Writer{out: out, size: size, delay: delay, buf: make([]byte, 0, size), spare: make([]byte, 0, size)}
	w.timer = time.AfterFunc(time.Hour, func() { w.Flush() })
	w.timer.Stop()
	return w
}

// Write adds p to the batch. It writes p through at once when the Writer
// is closed; it reports an error only then, from that write. A log
// handler calls Write once per line, so a batch holds whole lines.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.writeMu.Lock()
		defer w.writeMu.Unlock()
		return w.out.Write(p)
	}
	first := len(w.buf) == 0
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.size
	if first && !full {
		w.timer.Reset(w.delay)
	}
	w.mu.Unlock()
	if full {
		w.Flush()
	}
	return len(p), nil
}

// Flush writes out the batch now. A failed write is dropped: there is
// nowhere left to report it.
func (w *Writer) Flush() {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.mu.Lock()
	b := w.buf
	w.buf = w.spare[:0]
	w.timer.Stop()
	w.mu.Unlock()
	if len(b) > 0 {
		w.out.Write(b)
	}
	w.mu.Lock()
	if cap(b) <= 4*w.size {
		w.spare = b[:0] // keep it, unless one huge line grew it
	} else {
		w.spare = make([]byte, 0, w.size)
	}
	w.mu.Unlock()
}

// Close writes out the batch; later writes go straight through.
func (w *Writer) Close() error {
	w.Flush()
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.Flush() // what came between the two
	return nil
}

// Handler returns a slog.Handler that passes records to h, which writes
// to w, and flushes w after every record that batch does not accept: so
// the lines that come at a server's request rate (the access log) are
// written in batches, and every other line (a warning, an audit event)
// at once, with the batch before it.
func Handler(h slog.Handler, w *Writer, batch func(slog.Record) bool) slog.Handler {
	return flushHandler{h: h, w: w, batch: batch}
}

type flushHandler struct {
	h     slog.Handler
	w     *Writer
	batch func(slog.Record) bool
}

func (f flushHandler) Enabled(ctx context.Context, l slog.Level) bool { return f.h.Enabled(ctx, l) }

func (f flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := f.h.Handle(ctx, r)
	if !f.batch(r) {
		f.w.Flush()
	}
	return err
}

func (f flushHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushHandler{h: f.h.WithAttrs(as), w: f.w, batch: f.batch}
}

func (f flushHandler) WithGroup(name string) slog.Handler {
	return flushHandler{h: f.h.WithGroup(name), w: f.w, batch: f.batch}
}
