package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/server"
	"github.com/hallpass/hallpass/web"
)

// logLines returns the JSON log records of e whose message is msg.
func (e *env) logLines(msg string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			continue
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func trust(ok bool) envOption {
	return func(c *server.Config) { c.Web.TrustRequestID = func(*http.Request) bool { return ok } }
}

func TestRequestID(t *testing.T) {
	long := strings.Repeat("a", web.MaxRequestIDLength)
	for _, tc := range []struct {
		name    string
		trusted bool
		sent    string
		want    string // "" means a generated ID
	}{
		{"none sent", true, "", ""},
		{"from a trusted proxy", true, "f3a9c2e0-1b7d-4c55-9e0a-2d4b6c8e0f12", "f3a9c2e0-1b7d-4c55-9e0a-2d4b6c8e0f12"},
		{"haproxy format", true, "7F000001:C3A2_7F000001:1F90_6563A1B2_0001:1A2B", "7F000001:C3A2_7F000001:1F90_6563A1B2_0001:1A2B"},
		{"longest accepted", true, long, long},
		{"from an untrusted peer", false, "attacker-chosen", ""},
		{"too long", true, long + "a", ""},
		{"markup", true, "<script>alert(1)</script>", ""},
		{"spaces", true, "a b", ""},
		{"quotes", true, `a"b`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, trust(tc.trusted))
			var hdr []string
			if tc.sent != "" {
				hdr = []string{"X-Request-ID", tc.sent}
			}
			r := e.browser().get("/no/such/page", hdr...)
			got := r.h.Get("X-Request-ID")
			switch {
			case tc.want != "" && got != tc.want:
				t.Errorf("X-Request-ID = %q, want %q", got, tc.want)
			case tc.want == "" && (len(got) != 26 || got == tc.sent):
				t.Errorf("X-Request-ID = %q, want a generated 26-character ID", got)
			}
			mustContain(t, "404 page", r.body, "Request ID: <code>"+got+"</code>")
			for _, rec := range e.logLines("web: request failed") {
				if rec["request_id"] != got {
					t.Errorf("log line %v: request_id = %v, want %q", rec, rec["request_id"], got)
				}
			}
		})
	}
	// Two requests without an ID get different ones.
	e := newEnv(t)
	a, b := e.browser().get("/login").h.Get("X-Request-ID"), e.browser().get("/login").h.Get("X-Request-ID")
	if a == "" || a == b {
		t.Errorf("generated IDs %q and %q, want two different ones", a, b)
	}
}

// TestRequestIDInEveryLayer checks that the lines the session layer and
// the error page of a store outage log carry the request's ID, and that
// the page shows it.
func TestRequestIDInEveryLayer(t *testing.T) {
	e := newEnv(t, trust(true))
	e.addUser("ada")
	b := e.loggedIn("ada")
	e.store.Down.Store(true)
	r := b.get("/dashboard", "X-Request-ID", "outage-42")
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("GET /dashboard with the store down: %d", r.code)
	}
	mustContain(t, "503 page", r.body, "Request ID: <code>outage-42</code>")
	for _, msg := range []string{"session store unavailable", "web: request failed"} {
		lines := e.logLines(msg)
		if len(lines) != 1 || lines[0]["request_id"] != "outage-42" {
			t.Errorf("%q log lines: %v, want one with request_id outage-42", msg, lines)
		}
	}
}

func TestAccessLog(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Web.AccessLog = true })
	e.addUser("ada")
	b := e.loggedIn("ada")
	r := b.get("/login?next=%2Fdashboard&token=hp_secretvalue")
	b.get("/no/such/page?password=hunter2")

	lines := e.logLines("request")
	if len(lines) < 3 {
		t.Fatalf("%d access log lines, want one per request:\n%s", len(lines), e.logs)
	}
	last2 := lines[len(lines)-2:]
	for i, want := range []struct {
		route  string
		status float64
		id     string
	}{{"GET /login", 200, r.h.Get("X-Request-ID")}, {"unmatched", 404, ""}} {
		got := last2[i]
		if got["method"] != "GET" || got["route"] != want.route || got["status"] != want.status {
			t.Errorf("access log line %v, want method GET, route %q, status %v", got, want.route, want.status)
		}
		if b, _ := got["bytes"].(float64); b <= 0 {
			t.Errorf("access log line %v: bytes %v, want the body's length", got, got["bytes"])
		}
		if _, ok := got["duration"]; !ok {
			t.Errorf("access log line %v has no duration", got)
		}
		if id, _ := got["request_id"].(string); id == "" || (want.id != "" && id != want.id) {
			t.Errorf("access log line %v: request_id %v, want %q", got, got["request_id"], want.id)
		}
	}
	mustNotContain(t, "the logs", e.logs.String(), "hp_secretvalue", "hunter2", "next=", b.cookie(sessCookie))

	// Off: no access log lines.
	e = newEnv(t)
	e.browser().get("/login")
	if lines := e.logLines("request"); len(lines) != 0 {
		t.Errorf("AccessLog off: %d access log lines, want none", len(lines))
	}
}

// observed returns an env whose Config.Observe records every request,
// and a function that returns the requests recorded since its last call.
func observed(t *testing.T) (*env, func() []web.Request) {
	var mu sync.Mutex
	var got []web.Request
	e := newEnv(t, func(c *server.Config) {
		c.Web.Observe = func(q web.Request) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, q)
		}
	})
	return e, func() []web.Request {
		mu.Lock()
		defer mu.Unlock()
		taken := got
		got = nil
		return taken
	}
}

func TestObserve(t *testing.T) {
	e, taken := observed(t)
	e.addUser("ada")
	b := e.browser()
	b.login("ada", "wrong password")
	b.form("/login", url.Values{"username": {"ada"}}) // no CSRF token: 403 before the route
	b.get("/static/style.css")

	got := taken()
	type seen struct {
		method, route string
		status        int
	}
	var list []seen
	for _, q := range got {
		list = append(list, seen{q.Method, q.Route, q.Status})
		if q.ID == "" || q.Duration <= 0 {
			t.Errorf("Observe got %+v, want an ID and a duration", q)
		}
	}
	want := []seen{{"GET", "GET /login", 200}, {"POST", "POST /login", 401}, {"POST", "POST /login", 403}, {"GET", "GET /static/", 200}}
	if len(list) != len(want) {
		t.Fatalf("Observe saw %v, want %v", list, want)
	}
	for i := range want {
		if list[i] != want[i] {
			t.Errorf("request %d: Observe saw %v, want %v", i, list[i], want[i])
		}
	}
}

func TestProbes(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada")
	b := e.loggedIn("ada") // probes that send a session cookie must not touch the store

	check := func(path string, want int, body string) {
		t.Helper()
		r := b.get(path)
		if r.code != want || r.body != body {
			t.Errorf("GET %s: %d %q, want %d %q", path, r.code, r.body, want, body)
		}
	}
	check("/livez", 200, "ok")
	check("/readyz", 200, "ok")
	check("/healthz", 200, "ok")

	e.health.Store(errors.New("redis: dial tcp: connection refused"))
	e.store.Down.Store(true)
	check("/livez", 200, "ok")
	check("/readyz", 503, "unavailable")
	check("/healthz", 503, "unavailable") // its own text, not the session layer's 503 page
	if r := b.send("POST", "/livez", nil); r.code != http.StatusMethodNotAllowed && r.code != http.StatusServiceUnavailable {
		t.Errorf("POST /livez: %d, want 405 (or 503 with the session store down)", r.code)
	}
	if lines := e.logLines("web: readyz: store unavailable"); len(lines) != 1 || !strings.Contains(lines[0]["err"].(string), "connection refused") {
		t.Errorf("not-ready log lines: %v, want one naming the cause", lines)
	}

	// Config.Ready, when set, is used instead of Health.
	e = newEnv(t, func(c *server.Config) {
		c.Web.Ready = func(context.Context) error { return errors.New("postgres: timeout") }
	})
	b = e.browser()
	check("/readyz", 503, "unavailable")
	check("/healthz", 200, "ok")
}

// A store outage is one warning per probe, not one per probe request,
// and its end one info line; the probes' answers do not change.
func TestProbesLogOncePerOutage(t *testing.T) {
	var cause atomic.Pointer[error] // nil: the stores answer
	e := newEnv(t, func(c *server.Config) {
		c.Web.Health = func(context.Context) error {
			if err := cause.Load(); err != nil {
				return *err
			}
			return nil
		}
	})
	fail := func(err error) { cause.Store(&err) }
	b := e.browser()
	warnings := func() []string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["level"] == "WARN" {
				out = append(out, line)
			}
		}
		return out
	}
	probe := func(path string, want int) {
		t.Helper()
		if r := b.get(path); r.code != want {
			t.Errorf("GET %s: %d, want %d", path, r.code, want)
		}
	}

	fail(errors.New("postgres: dial tcp: connection refused"))
	for range 5 {
		probe("/readyz", http.StatusServiceUnavailable)
	}
	if w := warnings(); len(w) != 1 || !strings.Contains(w[0], "web: readyz: store unavailable") || !strings.Contains(w[0], "connection refused") {
		t.Errorf("5 probes of /readyz with the store down logged %d warnings, want 1 naming the cause:\n%s", len(w), strings.Join(w, "\n"))
	}
	if got := len(e.logLines("web: readyz: store still unavailable")); got != 4 {
		t.Errorf("%d debug lines for the later probes, want 4", got)
	}
	for range 5 {
		probe("/healthz", http.StatusServiceUnavailable)
	}
	if w := warnings(); len(w) != 2 || !strings.Contains(w[1], "web: healthz: store unavailable") {
		t.Errorf("5 probes of /healthz as well: %d warnings, want 2 (one per probe):\n%s", len(w), strings.Join(w, "\n"))
	}

	// The store is back: the next probe ends the outage, once; a new
	// outage warns again.
	cause.Store(nil)
	e.clock.Advance(10 * time.Second)
	probe("/readyz", http.StatusOK)
	probe("/readyz", http.StatusOK)
	if got := len(e.logLines("web: readyz: store recovered")); got != 1 {
		t.Errorf("%d recovery lines, want 1", got)
	}
	fail(errors.New("postgres: timeout"))
	probe("/readyz", http.StatusServiceUnavailable)
	probe("/readyz", http.StatusServiceUnavailable)
	if w := warnings(); len(w) != 3 {
		t.Errorf("a second outage: %d warnings in all, want 3:\n%s", len(w), strings.Join(w, "\n"))
	}
}

// TestObserveBytes checks that Request.Bytes counts every byte of the
// body, however the page was written: rendered (the login page), rendered
// and cached (the dashboard's first view), or from its cached parts
// around a CSRF token (the next views).
func TestObserveBytes(t *testing.T) {
	e, taken := observed(t)
	e.addUser("ada")
	b := e.loggedIn("ada")
	taken()
	for _, path := range []string{"/login", "/dashboard", "/dashboard", "/dashboard"} {
		r := b.get(path)
		if got := taken(); len(got) != 1 || got[0].Status != 200 || got[0].Bytes != int64(len(r.body)) {
			t.Errorf("GET %s: Observe saw %+v, want status 200 and %d bytes", path, got, len(r.body))
		}
	}
}
