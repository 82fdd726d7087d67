package session_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/hallpass/hallpass/internal/benchratio"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/sqlitestore"
)

// The benchmarks below run each handler the same way: a prepared request
// and a fresh httptest.ResponseRecorder per iteration. BenchmarkBare is the
// baseline: the same handler with no middleware, so each session
// benchmark's overhead reads as a ratio to it.
//
//	go test -run '^$' -bench . -benchmem ./session/

func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "hello")
}

func serve(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkBare(b *testing.B) {
	req := httptest.NewRequest("GET", "/", nil)
	serve(b, http.HandlerFunc(hello), req)
}

// benchStores returns the stores to compare, each freshly opened.
func benchStores(b *testing.B) map[string]session.Store {
	b.Helper()
	mem := memstore.NewSessionStore(memstore.SessionOptions{})
	b.Cleanup(func() { mem.Close() })
	db, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlitestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return map[string]session.Store{"memory": mem, "sqlite": db.Sessions()}
}

func benchManager(b *testing.B, store session.Store) *session.Manager {
	b.Helper()
	m, err := session.New(session.Config{Store: store, Keys: [][]byte{testKey},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// benchRequest returns a request carrying the cookie of a stored session
// that holds a user name and a counter.
func benchRequest(b *testing.B, m *session.Manager) *http.Request {
	b.Helper()
	rec := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromRequest(r)
		s.Put("user", "ada")
		s.Put("n", 0)
	})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	req := httptest.NewRequest("GET", "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	return req
}

// A request that reads its session and changes nothing: one load, no write.
func BenchmarkReadOnly(b *testing.B) {
	for name, store := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			m := benchManager(b, store)
			serve(b, readOnly(b, m), benchRequest(b, m))
		})
	}
}

// BenchmarkReadOnlyVsBare runs BenchmarkReadOnly's handler and
// BenchmarkBare's in alternating batches and reports their ratio (x-base),
// which holds still on a machine whose speed drifts.
func BenchmarkReadOnlyVsBare(b *testing.B) {
	for name, store := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			m := benchManager(b, store)
			benchratio.Handlers(b, http.HandlerFunc(hello), httptest.NewRequest("GET", "/", nil),
				readOnly(b, m), benchRequest(b, m))
		})
	}
}

// readOnly returns m's middleware around a handler that reads the session.
func readOnly(b *testing.B, m *session.Manager) http.Handler {
	return m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if session.FromRequest(r).GetString("user") != "ada" {
			b.Fatal("session lost")
		}
		hello(w, r)
	}))
}

// A request with a session cookie whose handler never touches the session:
// no store round trip at all.
func BenchmarkUntouched(b *testing.B) {
	m := benchManager(b, memstore.NewSessionStore(memstore.SessionOptions{}))
	req := benchRequest(b, m)
	serve(b, m.Middleware(http.HandlerFunc(hello)), req)
}

// A request that loads the session, changes a value and saves the delta.
func BenchmarkChangeSave(b *testing.B) {
	for name, store := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			m := benchManager(b, store)
			req := benchRequest(b, m)
			serve(b, m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := session.FromRequest(r)
				s.Put("n", s.GetInt("n")+1)
				hello(w, r)
			})), req)
		})
	}
}

// A request that renews its session token, as a login does: one create and
// one delete. Each iteration renews the session the previous one made.
func BenchmarkRenew(b *testing.B) {
	for name, store := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			m := benchManager(b, store)
			req := benchRequest(b, m)
			cookie := req.Header.Get("Cookie")
			h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := session.FromRequest(r).Renew(); err != nil {
					b.Fatal(err)
				}
				hello(w, r)
			}))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req.Header.Set("Cookie", cookie)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				c := rec.Result().Cookies()
				if len(c) != 1 {
					b.Fatalf("iteration %d: cookies %v", i, c)
				}
				cookie = c[0].Name + "=" + c[0].Value
				i++
			}
			b.ReportMetric(float64(i), "renewals")
		})
	}
}
