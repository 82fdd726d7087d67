package web

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"time"
)

// MaxRequestIDLength is the longest X-Request-ID a Server accepts from a
// trusted proxy; a longer one is replaced by a generated ID.
const MaxRequestIDLength = 128

// RequestID returns the ID of the request being served with ctx: the
// X-Request-ID a trusted proxy sent, or one the Server generated. It is ""
// outside a request served by a Server.
func RequestID(ctx context.Context) string {
	if ri, _ := ctx.Value(infoKey{}).(*requestInfo); ri != nil {
		return ri.id
	}
	return ""
}

// validRequestID reports whether id is fit to be logged and echoed: 1 to
// MaxRequestIDLength characters from a set that covers UUIDs, hex,
// base64 and the formats of common proxies, and nothing that could break
// a log line, a header or a page.
func validRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '/' || c == '=' || c == '@':
		default:
			return false
		}
	}
	return true
}

// requestID returns the ID for r: its X-Request-ID when the peer is a
// trusted proxy and the value is valid, a new random one otherwise.
func (s *Server) requestID(r *http.Request) string {
	if s.trustRequestID != nil && s.trustRequestID(r) {
		if id := r.Header.Get("X-Request-ID"); validRequestID(id) {
			return id
		}
	}
	return rand.Text()
}

// Request describes a request a Server has answered, for Config.Observe
// and the access log. It holds no cookie, header, query or body.
type Request struct {
	Method string
	// Route is the pattern of the route that matched, such as
	// "POST /login"; "" when none did (a 404 or 405), which the access
	// log and the metrics name UnmatchedRoute.
	Route    string
	Status   int   // the status sent
	Bytes    int64 // bytes of response body written
	Duration time.Duration
	ID       string // the request ID
}

// UnmatchedRoute names the route of a request that matched none in the
// access log and the metrics: never its path, which would let clients
// create log values and metric series of their choosing.
const UnmatchedRoute = "unmatched"

// accessLogMessage is the message of access log lines.
const accessLogMessage = "request"

// IsAccessLog reports whether r is an access log line of a Server (see
// Config.AccessLog), as a handler that writes those lines in batches
// needs to know.
func IsAccessLog(r slog.Record) bool {
	return r.Level == slog.LevelInfo && r.Message == accessLogMessage
}

// logRequest writes the access log line of a request.
// It builds the record itself rather than call Logger.LogAttrs, which
// would also look up the caller's program counter (unused: the line names
// the route).
func (s *Server) logRequest(ctx context.Context, q Request, now time.Time) {
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	route := q.Route
	if route == "" {
		route = UnmatchedRoute
	}
	r := slog.NewRecord(now, slog.LevelInfo, accessLogMessage, 0)
	r.AddAttrs(
		slog.String("method", q.Method),
		slog.String("route", route),
		slog.Int("status", q.Status),
		slog.Duration("duration", q.Duration),
		slog.Int64("bytes", q.Bytes))
	h.Handle(ctx, r)
}

// LogHandler returns a slog.Handler that adds the attribute request_id to
// every record logged with the context of a request a Server is serving
// (the session, login and audit packages log with it), then passes the
// record to h. New applies it to Config.Logger itself; wrap the logger
// given to the session and login Managers too, so their lines carry the
// ID. Wrapping twice adds the ID once.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ h slog.Handler }

func (h requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.h.Enabled(ctx, l)
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.h.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.h.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.h.WithGroup(name)}
}
