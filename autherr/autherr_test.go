package autherr_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/autherr"
)

var (
	errNotFound = autherr.New(autherr.NotFound, "pkg: not found")
	errCreds    = &autherr.Error{Kind: autherr.Unauthenticated, Code: "invalid_credentials",
		Message: "Invalid username or password.", Err: errors.New("pkg: invalid credentials")}
)

func TestLookups(t *testing.T) {
	cause := errors.New("dial tcp: connection refused")
	tests := []struct {
		name                string
		err                 error
		kind                autherr.Kind
		code, msg           string
		retry               time.Duration
		isNotFound, isCreds bool
	}{
		{"nil", nil, "", "", "", 0, false, false},
		{"plain error", cause, autherr.Internal, "internal", autherr.DefaultMessage(autherr.Internal), 0, false, false},
		{"deadline", fmt.Errorf("load: %w", context.DeadlineExceeded), autherr.Unavailable, "unavailable", autherr.DefaultMessage(autherr.Unavailable), 0, false, false},
		{"sentinel wrapped", fmt.Errorf("load user: %w", errNotFound), autherr.NotFound, "not_found", autherr.DefaultMessage(autherr.NotFound), 0, true, false},
		{"code and message", fmt.Errorf("x: %w", errCreds), autherr.Unauthenticated, "invalid_credentials", "Invalid username or password.", 0, false, true},
		{"outer kind wins", autherr.Wrap(errNotFound, autherr.Unavailable, ""), autherr.Unavailable, "unavailable", autherr.DefaultMessage(autherr.Unavailable), 0, true, false},
		{"first of two wins", fmt.Errorf("%w: %w", errCreds, errNotFound), autherr.Unauthenticated, "invalid_credentials", "Invalid username or password.", 0, true, true},
		{"retry after", &autherr.Error{Kind: autherr.Throttled, RetryAfter: time.Minute}, autherr.Throttled, "throttled", autherr.DefaultMessage(autherr.Throttled), time.Minute, false, false},
		{"empty kind", &autherr.Error{Message: "x"}, autherr.Internal, "internal", "x", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := autherr.KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf = %q, want %q", got, tt.kind)
			}
			if got := autherr.CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf = %q, want %q", got, tt.code)
			}
			if got := autherr.MessageOf(tt.err); got != tt.msg {
				t.Errorf("MessageOf = %q, want %q", got, tt.msg)
			}
			if got := autherr.RetryAfterOf(tt.err); got != tt.retry {
				t.Errorf("RetryAfterOf = %v, want %v", got, tt.retry)
			}
			if got := errors.Is(tt.err, errNotFound); got != tt.isNotFound {
				t.Errorf("errors.Is(err, errNotFound) = %v, want %v", got, tt.isNotFound)
			}
			if got := errors.Is(tt.err, errCreds); got != tt.isCreds {
				t.Errorf("errors.Is(err, errCreds) = %v, want %v", got, tt.isCreds)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	if got := errNotFound.Error(); got != "pkg: not found" {
		t.Errorf("sentinel Error() = %q, want its text", got)
	}
	if got := (&autherr.Error{Kind: autherr.Busy, Message: "Busy."}).Error(); got != "Busy." {
		t.Errorf("Error() without a cause = %q, want the message", got)
	}
	if got := (&autherr.Error{Kind: autherr.Busy}).Error(); got != "autherr: busy" {
		t.Errorf("bare Error() = %q, want the kind", got)
	}
}

func TestStatusCoversEveryKind(t *testing.T) {
	seen := map[int]autherr.Kind{}
	for _, k := range autherr.Kinds() {
		s := autherr.Status(k)
		if prev, dup := seen[s]; dup && !(s == 503 && (k == autherr.Busy || k == autherr.Unavailable)) {
			t.Errorf("Status(%q) = %d, same as %q", k, s, prev)
		}
		seen[s] = k
		if autherr.DefaultMessage(k) == "" {
			t.Errorf("DefaultMessage(%q) is empty", k)
		}
	}
}

func TestWriteHTTP(t *testing.T) {
	tests := []struct {
		name          string
		err           error
		header        []string
		status        int
		ctype, body   string
		retry, wwwAut string
	}{
		{"browser gets text", errCreds, []string{"Accept", "text/html,*/*"}, 401, "text/plain", "Invalid username or password.", "", ""},
		{"API client gets JSON and a challenge", errCreds, []string{"Accept", "application/json"}, 401, "application/json",
			`{"error":"invalid_credentials","message":"Invalid username or password."}`, "", autherr.DefaultChallenge},
		{"JSON body gets JSON", errNotFound, []string{"Content-Type", "application/json"}, 404, "application/json", `"error":"not_found"`, "", ""},
		{"bearer gets JSON", errNotFound, []string{"Authorization", "Bearer hp_x"}, 404, "application/json", `"error":"not_found"`, "", ""},
		{"accepting both gets text", errNotFound, []string{"Accept", "text/html, application/json"}, 404, "text/plain", "We could not", "", ""},
		{"unavailable retries in 5", autherr.Wrap(errors.New("down"), autherr.Unavailable, ""), nil, 503, "text/plain", "temporarily unavailable", "5", ""},
		{"throttled names its wait", &autherr.Error{Kind: autherr.Throttled, RetryAfter: 1500 * time.Millisecond}, nil, 429, "text/plain", "Too many", "2", ""},
		{"challenge of the error", &autherr.Error{Kind: autherr.Forbidden, Challenge: `Bearer error="insufficient_scope"`}, nil, 403, "text/plain", "permission", "", `Bearer error="insufficient_scope"`},
		{"cause is never shown", errors.New("pq: password authentication failed"), nil, 500, "text/plain", "Something went wrong", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			for i := 0; i < len(tt.header); i += 2 {
				r.Header.Set(tt.header[i], tt.header[i+1])
			}
			w := httptest.NewRecorder()
			autherr.WriteHTTP(w, r, tt.err)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type = %q, want %s", ct, tt.ctype)
			}
			if !strings.Contains(w.Body.String(), tt.body) || strings.Contains(w.Body.String(), "pq:") {
				t.Errorf("body = %q, want it to hold %q", w.Body.String(), tt.body)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retry {
				t.Errorf("Retry-After = %q, want %q", got, tt.retry)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wwwAut {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wwwAut)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}
