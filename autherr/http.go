package autherr

import (
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Status returns the HTTP status for kind k.
func Status(k Kind) int {
	switch k {
	case Invalid:
		return http.StatusUnprocessableEntity
	case Unauthenticated:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Throttled:
		return http.StatusTooManyRequests
	case Busy, Unavailable:
		return http.StatusServiceUnavailable
	case Unsupported:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// DefaultRetryAfter is the Retry-After of a 503 whose error names no wait.
const DefaultRetryAfter = 5

// RetryAfterSeconds returns the Retry-After header value for err in
// seconds, rounded up: its RetryAfterOf, else DefaultRetryAfter for Busy
// and Unavailable, else 0 (send none).
func RetryAfterSeconds(err error) int {
	if d := RetryAfterOf(err); d > 0 {
		return max(1, int(math.Ceil(d.Seconds())))
	}
	switch KindOf(err) {
	case Busy, Unavailable:
		return DefaultRetryAfter
	case Throttled:
		return 1
	}
	return 0
}

// DefaultChallenge is the WWW-Authenticate value of an Unauthenticated
// answer to an API client.
const DefaultChallenge = `Bearer realm="hallpass"`

// WantsJSON reports whether r asks for a JSON answer rather than a page:
// its Accept header names application/json (or a +json type) and not
// text/html, its body is JSON, or it is authenticated by a bearer token
// (a program, not a browser).
func WantsJSON(r *http.Request) bool {
	if isJSON(r.Header.Get("Content-Type")) {
		return true
	}
	if r.Header.Get("Authorization") != "" {
		return true
	}
	j, html := accepts(r)
	return j && !html
}

// AcceptsHTML reports whether r's Accept header names text/html, as a
// browser's navigations and form posts do.
func AcceptsHTML(r *http.Request) bool {
	_, html := accepts(r)
	return html
}

func accepts(r *http.Request) (j, html bool) {
	for _, line := range r.Header.Values("Accept") {
		for v := range strings.SplitSeq(line, ",") {
			switch {
			case isJSON(v):
				j = true
			case strings.HasPrefix(strings.TrimSpace(v), "text/html"):
				html = true
			}
		}
	}
	return j, html
}

func isJSON(mediaType string) bool {
	t, _, err := mime.ParseMediaType(mediaType)
	return err == nil && (t == "application/json" || strings.HasSuffix(t, "+json"))
}

// Body is the JSON answer of a failed request.
type Body struct {
	Error   string            `json:"error"`            // CodeOf
	Message string            `json:"message"`          // MessageOf
	Fields  map[string]string `json:"fields,omitempty"` // FieldsOf
}

// WriteHTTP is the library's default answer to a failed request, small
// and replaceable (login.Config.ErrorHandler, csrf.Config.ErrorHandler):
// the kind's Status, Cache-Control: no-store, Retry-After for Throttled,
// Busy and Unavailable, WWW-Authenticate for an Unauthenticated API
// client, and a JSON Body when WantsJSON(r), plain text otherwise. It
// shows MessageOf(err), never the error's own text.
func WriteHTTP(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(KindOf(err))
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	if s := RetryAfterSeconds(err); s > 0 {
		h.Set("Retry-After", strconv.Itoa(s))
	}
	asJSON := WantsJSON(r)
	if c := ChallengeOf(err); c != "" {
		h.Set("WWW-Authenticate", c)
	} else if status == http.StatusUnauthorized && asJSON {
		h.Set("WWW-Authenticate", DefaultChallenge)
	}
	if !asJSON {
		http.Error(w, MessageOf(err), status)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Body{Error: CodeOf(err), Message: MessageOf(err), Fields: FieldsOf(err)})
}
