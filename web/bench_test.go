package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/web"
)

// BenchmarkPage measures GET /dashboard for a logged-in user through the
// server's whole handler (access log, security headers, session on the
// memory store, login manager, CSRF token, the page's template) beside
// "bare", a handler that writes a fixed page of the same size: the
// in-process half of ../shared/bench/compare.sh.
//
//	go test -run '^$' -bench Page -benchmem ./web/
func BenchmarkPage(b *testing.B) {
	e := newEnv(b, func(c *server.Config) {
		c.Logger = slog.New(web.LogHandler(slog.NewTextHandler(io.Discard, nil)))
	})
	e.addUser("ada")
	req := httptest.NewRequest("GET", "/dashboard", nil)
	req.Header.Set("Cookie", e.loggedIn("ada").cookieHeader())
	h := e.web.Handler()
	first := httptest.NewRecorder()
	h.ServeHTTP(first, req)
	if first.Code != http.StatusOK || !strings.Contains(first.Body.String(), "Welcome ada!") {
		b.Fatalf("GET /dashboard: %d\n%s", first.Code, first.Body)
	}
	page := first.Body.Bytes()
	b.Run("bare", func(b *testing.B) {
		bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(page)
		})
		b.ReportAllocs()
		for b.Loop() {
			bare.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	b.Run("dashboard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("GET /dashboard: %d", w.Code)
			}
		}
	})
}

// cookieHeader returns the Cookie header c sends to the server.
func (c *client) cookieHeader() string {
	req, _ := http.NewRequest("GET", c.e.srv.URL+"/", nil)
	var parts []string
	for _, ck := range c.jar.Cookies(req.URL) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}
