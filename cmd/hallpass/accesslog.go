package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hallpass/hallpass/web"
)

// accessLogHandler writes the access log's lines (web.IsAccessLog) itself,
// byte for byte as the text or JSON handler beneath it would
// (TestAccessLogLineAsSlog), and passes every other record on. The access
// log comes at the request rate, and slog's general handler cost a busy
// server several percent of its CPU for it (BenchmarkAccessLogLine). A
// line with an attribute of a kind it does not format (none of the
// server's) goes to the general handler.
type accessLogHandler struct {
	next slog.Handler
	w    io.Writer // where next writes; safe for concurrent writes of whole lines
	json bool
	sec  atomic.Pointer[secondPrefix]
}

// secondPrefix is the formatted time of one second, up to and without
// the fraction, and its zone suffix: the time of every line in that
// second starts with it.
type secondPrefix struct {
	unix   int64
	offset int
	prefix []byte // 2006-01-02T15:04:05
	zone   []byte // Z or -07:00
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (h *accessLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *accessLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if !web.IsAccessLog(r) {
		return h.next.Handle(ctx, r)
	}
	bp := linePool.Get().(*[]byte)
	defer linePool.Put(bp)
	line, ok := h.format((*bp)[:0], r)
	*bp = line[:0]
	if !ok {
		return h.next.Handle(ctx, r)
	}
	_, err := h.w.Write(line)
	return err
}

// WithAttrs and WithGroup give up the fast path: a derived logger's lines
// carry more than the access log's.
func (h *accessLogHandler) WithAttrs(as []slog.Attr) slog.Handler { return h.next.WithAttrs(as) }
func (h *accessLogHandler) WithGroup(name string) slog.Handler    { return h.next.WithGroup(name) }

// format appends r as a line; ok is false for an attribute kind it does
// not handle.
func (h *accessLogHandler) format(b []byte, r slog.Record) (_ []byte, ok bool) {
	if h.json {
		b = append(b, '{')
		if !r.Time.IsZero() {
			b = append(b, `"time":"`...)
			b = r.Time.AppendFormat(b, time.RFC3339Nano)
			b = append(b, `",`...)
		}
		b = append(b, `"level":"`...)
		b = append(b, r.Level.String()...)
		b = append(b, `","msg":`...)
		b = appendJSONString(b, r.Message)
	} else {
		if !r.Time.IsZero() {
			b = append(b, "time="...)
			b = h.appendTime(b, r.Time)
			b = append(b, ' ')
		}
		b = append(b, "level="...)
		b = append(b, r.Level.String()...)
		b = append(b, " msg="...)
		b = appendTextString(b, r.Message)
	}
	ok = true
	r.Attrs(func(a slog.Attr) bool {
		if h.json {
			b = append(b, ',')
			b = appendJSONString(b, a.Key)
			b = append(b, ':')
		} else {
			b = append(b, ' ')
			b = appendTextString(b, a.Key)
			b = append(b, '=')
		}
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			if h.json {
				b = appendJSONString(b, v.String())
			} else {
				b = appendTextString(b, v.String())
			}
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindDuration:
			if h.json {
				b = strconv.AppendInt(b, int64(v.Duration()), 10)
			} else {
				b = append(b, v.Duration().String()...)
			}
		default:
			ok = false
		}
		return ok
	})
	if h.json {
		b = append(b, '}')
	}
	return append(b, '\n'), ok
}

// appendTime appends t as the text handler does: RFC 3339 with exactly
// three digits of milliseconds. The part up to the seconds is formatted
// once per second.
func (h *accessLogHandler) appendTime(b []byte, t time.Time) []byte {
	_, offset := t.Zone()
	p := h.sec.Load()
	if p == nil || p.unix != t.Unix() || p.offset != offset {
		f := t.Truncate(time.Second).AppendFormat(nil, time.RFC3339)
		const n = len("2006-01-02T15:04:05")
		p = &secondPrefix{unix: t.Unix(), offset: offset, prefix: f[:n], zone: f[n:]}
		h.sec.Store(p)
	}
	b = append(b, p.prefix...)
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, p.zone...)
}

// textSafe marks the ASCII bytes the text handler writes without quoting:
// printable, and not a space, '=' or '"'.
var textSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x21; c < utf8.RuneSelf; c++ {
		t[c] = c != '=' && c != '"'
	}
	return t
}()

// appendTextString appends s as the text handler does: quoted when it is
// empty or holds a space, '=', '"', a control character or a rune that is
// a space or not printable.
func appendTextString(b []byte, s string) []byte {
	if !textNeedsQuoting(s) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	// Printable ASCII without '"' or '\\' (a route: "GET /login"), which
	// strconv.AppendQuote would copy as it is.
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func textNeedsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !textSafe[c] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendJSONString appends s as a JSON string as the JSON handler does:
// '"', '\\' and control characters escaped, invalid UTF-8 as U+FFFD, and
// U+2028 and U+2029 escaped; HTML characters as they are.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
