package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serveInProcess runs "hallpass serve" in-process with env (on free ports)
// until the test ends, and returns the base URL, the metrics URL ("" when
// off) and the logs.
func serveInProcess(t *testing.T, env map[string]string) (base, metricsURL string, logs *lockedBuffer) {
	t.Helper()
	env["HALLPASS_ADDR"] = "127.0.0.1:0"
	env["HALLPASS_DATA"] = t.TempDir()
	env["HALLPASS_SECRET_KEYS"] = testKeys
	pr, pw := io.Pipe()
	logs = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	listen := regexp.MustCompile(`\blisten"?[=:]"?([^"\s]+)`)
	metrics := regexp.MustCompile(`\bmetrics"?[=:]"?(http://[^"\s]+)`)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			logs.Write([]byte(line + "\n"))
			if m := metrics.FindStringSubmatch(line); m != nil {
				metricsURL = m[1]
			}
			if m := listen.FindStringSubmatch(line); m != nil && base == "" {
				base = "http://" + m[1]
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", logs)
	}
	return base, metricsURL, logs
}

// scrape reads the metrics at u into a map from series (name and labels,
// as exposed) to value.
func scrape(t *testing.T, u string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAfterLoginFlow scripts a registration, two failed logins, a
// login and a logout, and checks by how much each counter moved.
func TestMetricsAfterLoginFlow(t *testing.T) {
	base, metricsURL, _ := serveInProcess(t, map[string]string{"HALLPASS_METRICS_ADDR": "127.0.0.1:0"})
	if metricsURL == "" || strings.HasPrefix(metricsURL, base) {
		t.Fatalf("metrics URL %q, want a listener apart from %s", metricsURL, base)
	}
	if r, err := http.Get(base + "/metrics"); err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the public listener: %v %v, want 404", r.StatusCode, err)
	}

	b := newBrowser(t)
	if r := b.form(base, "/register", "/register", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("register: %d\n%s", r.Code, r.Body)
	}
	before := scrape(t, metricsURL)
	for range 2 {
		if r := b.form(base, "/login", "/login", url.Values{"username": {"ada"}, "password": {"wrong password"}}); r.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d, want 401", r.Code)
		}
	}
	if r := b.form(base, "/login", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("login: %d, want 303", r.Code)
	}
	if r := b.form(base, "/dashboard", "/logout", url.Values{}); r.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d, want 303", r.Code)
	}
	after := scrape(t, metricsURL)

	for _, tc := range []struct {
		series string
		delta  float64
	}{
		{`hallpass_logins_total{result="wrong_password"}`, 2},
		{`hallpass_logins_total{result="success"}`, 1},
		{`hallpass_logins_total{result="throttled"}`, 0},
		{`hallpass_logins_total{result="locked"}`, 0},
		{`hallpass_logins_total{result="error"}`, 0},
		{`hallpass_sessions_created_total`, 1},
		{`hallpass_sessions_revoked_total`, 1},
		{`hallpass_remember_logins_total`, 0},
		{`hallpass_remember_thefts_total`, 0},
		{`hallpass_http_requests_total{route="POST /login",status="401"}`, 2},
		{`hallpass_http_requests_total{route="POST /login",status="303"}`, 1},
		{`hallpass_http_requests_total{route="POST /logout",status="303"}`, 1},
		{`hallpass_http_requests_total{route="GET /login",status="200"}`, 3},
		{`hallpass_http_request_duration_seconds_count{route="POST /login"}`, 3},
		{`hallpass_store_call_duration_seconds_count{op="user_by_username",store="accounts"}`, 3},
		// Created: the login's session, and an anonymous one holding the
		// logout's flash message. Deleted: the registration's flash
		// session once its message was shown, and the logged-out session.
		{`hallpass_store_call_duration_seconds_count{op="create",store="sessions"}`, 2},
		{`hallpass_store_call_duration_seconds_count{op="delete",store="sessions"}`, 2},
		{`hallpass_store_errors_total{op="load",store="sessions"}`, 0},
		{`hallpass_password_hash_wait_seconds_count`, 3},
		{`hallpass_password_hash_computations_total`, 3},
		{`hallpass_password_hash_worker_failures_total`, 0},
		{`hallpass_password_hash_queue_depth`, 0},
	} {
		a, ok := after[tc.series]
		if !ok {
			t.Errorf("%s: not exposed", tc.series)
			continue
		}
		if got := a - before[tc.series]; got != tc.delta {
			t.Errorf("%s moved by %v, want %v", tc.series, got, tc.delta)
		}
	}
	for _, series := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
		if _, ok := after[series]; !ok {
			t.Errorf("%s: Go runtime metric not exposed", series)
		}
	}
}

// TestPprof checks that the profiler is served only when asked for, and
// only on the metrics listener.
func TestPprof(t *testing.T) {
	get := func(u string) int {
		t.Helper()
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	for _, on := range []bool{false, true} {
		env := map[string]string{"HALLPASS_METRICS_ADDR": "127.0.0.1:0"}
		if on {
			env["HALLPASS_PPROF"] = "true"
		}
		base, metricsURL, _ := serveInProcess(t, env)
		want := http.StatusNotFound
		if on {
			want = http.StatusOK
		}
		if got := get(strings.TrimSuffix(metricsURL, "/metrics") + "/debug/pprof/goroutine?debug=1"); got != want {
			t.Errorf("HALLPASS_PPROF=%v: GET /debug/pprof/goroutine on the metrics listener: %d, want %d", on, got, want)
		}
		if got := get(base + "/debug/pprof/goroutine?debug=1"); got != http.StatusNotFound {
			t.Errorf("HALLPASS_PPROF=%v: GET /debug/pprof/goroutine on the public listener: %d, want 404", on, got)
		}
	}
	_, _, err := parseConfig("serve", "hallpass serve", nil, func(k string) string {
		return map[string]string{"HALLPASS_PPROF": "true"}[k]
	}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "HALLPASS_METRICS_ADDR") {
		t.Errorf("HALLPASS_PPROF without HALLPASS_METRICS_ADDR: %v, want an error naming HALLPASS_METRICS_ADDR", err)
	}
}
