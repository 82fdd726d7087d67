package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/csrf"
	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

func TestDevice(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1", "Chrome on iPad"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15", "Firefox on iPhone"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0", "Opera on Windows"},
		{"curl/8.5.0", "curl"},
		{"Wget/1.21.4", "Wget"},
		{"python-requests/2.32.3", "Python script"},
		{"Go-http-client/1.1", "Go program"},
		{"", "Unknown device"},
		{"SomeBot/1.0", "Unknown device"},
		{"Mozilla/5.0 (compatible; Googlebot/2.1)", "Unknown device"},
		{"Firefox/1", "Firefox"},
	}
	for _, tt := range tests {
		if got := device(tt.ua); got != tt.want {
			t.Errorf("device(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantMsg    string // substring
	}{
		{"store down", fmt.Errorf("%w: load: dial tcp: refused", session.ErrStoreUnavailable), 503, "unavailable", "temporarily unavailable"},
		{"store down beats not found", fmt.Errorf("%w: load user: %w", session.ErrStoreUnavailable, account.ErrNotFound), 503, "unavailable", "temporarily"},
		{"hasher busy", fmt.Errorf("x: %w", password.ErrBusy), 503, "busy", "busy checking passwords"},
		{"hasher busy through storeErr", storeErr(fmt.Errorf("x: %w", password.ErrBusy)), 503, "busy", "busy checking passwords"},
		{"account store down through storeErr", storeErr(errors.New("dial tcp: refused")), 503, "unavailable", "temporarily"},
		{"throttle counter down", fmt.Errorf("%w: redis", throttle.ErrUnavailable), 503, "unavailable", "temporarily"},
		{"throttled", &throttle.ThrottledError{RetryAfter: 90 * time.Second}, 429, "throttled", "Try again in 2 minutes."},
		{"csrf origin", fmt.Errorf("%w: x", csrf.ErrOrigin), 403, "csrf_failed", "another site"},
		{"csrf token", csrf.ErrInvalidToken, 403, "csrf_failed", "expired"},
		{"body too large in csrf", fmt.Errorf("%w: reading form: %w", csrf.ErrMissingToken, &http.MaxBytesError{Limit: 1}), 413, "too_large", "too large"},
		{"invalid credentials", login.ErrInvalidCredentials, 401, "invalid_credentials", "Invalid username or password."},
		{"wrong password", login.ErrWrongPassword, 403, "wrong_password", "not correct"},
		{"not fresh", login.ErrNotFresh, 401, "fresh_login_required", "password again"},
		{"taken", fmt.Errorf("sqlitestore: %w", account.ErrUsernameTaken), 409, "username_taken", "That username is taken."},
		{"field", &account.FieldError{Field: "email", Message: "Bad email."}, 422, "invalid", "Bad email."},
		{"fields", account.FieldErrors{{Field: "a", Message: "A."}, {Field: "b", Message: "B."}}, 422, "invalid", "A. B."},
		{"policy", password.Policy{}.Check("short", ""), 422, "invalid", "at least 8 characters"},
		{"wrapped policy", fmt.Errorf("hash %s: %w", "secret", password.Policy{}.Check("short", "")), 422, "invalid", "at least 8 characters"},
		{"login store down", fmt.Errorf("%w: load user: %w", login.ErrStoreUnavailable, account.ErrNotFound), 503, "unavailable", "temporarily"},
		{"insufficient scope", fmt.Errorf("x: %w", login.ErrInsufficientScope), 403, "insufficient_scope", "permission"},
		{"store cannot list", session.ErrNotSupported, 501, "not_supported", "cannot do that"},
		{"not found", fmt.Errorf("apitoken: revoke: %w", account.ErrNotFound), 404, "not_found", "could not find"},
		{"session not found", session.ErrNotFound, 404, "not_found", "could not find"},
		{"bad request", badRequest("Nope."), 400, "bad_request", "Nope."},
		{"internal", errors.New(`sql: no rows in result set "users"`), 500, "internal", "Something went wrong"},
	}
	for _, tt := range tests {
		p := classify(tt.err)
		msg := p.message
		if p.status != tt.wantStatus || p.code != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
			t.Errorf("%s: classify = %d %q %q, want %d %q containing %q", tt.name, p.status, p.code, msg, tt.wantStatus, tt.wantCode, tt.wantMsg)
		}
		if strings.Contains(msg, "sql:") || strings.Contains(msg, "secret") || strings.Contains(msg, "refused") {
			t.Errorf("%s: message %q shows the error", tt.name, msg)
		}
	}
}

func TestErrorHandlerStandalone(t *testing.T) {
	var logs bytes.Buffer
	h := ErrorHandler(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	err := fmt.Errorf("%w: load: dial tcp 10.0.0.1:6379: connection refused", session.ErrStoreUnavailable)

	w := httptest.NewRecorder()
	h(w, httptest.NewRequest("GET", "/account", nil), err)
	if w.Code != 503 || !strings.Contains(w.Body.String(), "<!doctype html>") || strings.Contains(w.Body.String(), "refused") {
		t.Errorf("HTML: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Retry-After") == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("HTML headers: %v", w.Header())
	}

	w = httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/me", nil)
	r.Header.Set("Accept", "application/json")
	h(w, r, err)
	var body map[string]string
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 503 || body["error"] != "unavailable" || body["message"] == "" {
		t.Errorf("JSON: %d %s", w.Code, w.Body)
	}
	// The session Manager logs the outage once as an error; each
	// request's cause is kept at debug level.
	if !strings.Contains(logs.String(), "connection refused") || strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("the cause was not logged at debug level: %s", logs.String())
	}
}

func TestPanicRecovery(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil)), version: "v"}
	for _, tc := range []struct {
		name, path string
		json       bool
	}{{"page", "/boom", false}, {"api", "/api/boom", true}} {
		h := s.outer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") }))
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", tc.path, nil)
		if tc.json {
			r.Header.Set("Accept", "application/json")
		}
		h.ServeHTTP(w, r)
		body := w.Body.String()
		if w.Code != 500 || strings.Contains(body, "secret detail") || strings.Contains(body, "goroutine") {
			t.Errorf("%s: %d %s", tc.name, w.Code, body)
		}
		if got := strings.Contains(body, `"error":"internal"`); got != tc.json {
			t.Errorf("%s: JSON = %v, want %v: %s", tc.name, got, tc.json, body)
		}
		if w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no security headers on the 500", tc.name)
		}
	}
	if !strings.Contains(logs.String(), "secret detail") || !strings.Contains(logs.String(), "goroutine") {
		t.Errorf("the panic and its stack were not logged: %s", logs.String())
	}

	// After the header went out, the response is cut short.
	h := s.outer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("partial"))
		panic("late")
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("late panic: recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

// TestPageCacheBound checks that the page cache gives back what it was
// given, split where the token goes, and never holds more than
// maxCachedPages pages, even with puts from many goroutines.
func TestPageCacheBound(t *testing.T) {
	var c pageCache
	page := func(i int) []byte { return fmt.Appendf(nil, "<p>page %d</p>%s<p>end</p>", i, tokenMark) }
	key := func(i int) pageKey { return pageKey{name: "dashboard", userID: fmt.Sprint(i)} }
	parts := c.put(key(0), page(0))
	if got, ok := c.get(key(0)); !ok || len(got) != 2 || string(got[0]) != "<p>page 0</p>" || string(got[1]) != "<p>end</p>" || &got[0][0] != &parts[0][0] {
		t.Fatalf("get after put = %q, %v; want the parts put returned", got, ok)
	}
	if _, ok := c.get(key(1)); ok {
		t.Fatal("get of a key never put: found")
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 3 * maxCachedPages {
				n := g*3*maxCachedPages + i
				c.put(key(n), page(n))
				if got, ok := c.get(key(n)); ok && !bytes.Equal(got[0], fmt.Appendf(nil, "<p>page %d</p>", n)) {
					t.Errorf("page %d read back as %q", n, got[0])
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	held := 0
	c.m.Range(func(k, v any) bool { held++; return true })
	if held == 0 || held > maxCachedPages+4 {
		t.Errorf("cache holds %d pages after %d puts, want 1 to %d", held, 12*maxCachedPages, maxCachedPages+4)
	}
}
