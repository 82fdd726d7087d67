package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// sharedStores returns, for a multi-process test, a Redis URL on a
// database of its own and a PostgreSQL URL on a schema of its own, both
// emptied before and after the test. It skips without the services.
func sharedStores(t *testing.T) (redisURL, pgURL string) {
	t.Helper()
	r, p := os.Getenv("HALLPASS_TEST_REDIS_URL"), os.Getenv("HALLPASS_TEST_POSTGRES_URL")
	if r == "" || p == "" {
		t.Skip("HALLPASS_TEST_REDIS_URL and HALLPASS_TEST_POSTGRES_URL not both set; skipping the multi-process test")
	}
	ctx := context.Background()
	opts, err := redis.ParseURL(r)
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = 13 // a database of this test's own
	rc := redis.NewClient(opts)
	rc.FlushDB(ctx)
	t.Cleanup(func() { rc.FlushDB(ctx); rc.Close() })
	ru, _ := url.Parse(r)
	ru.Path = "/13"

	schema := fmt.Sprintf("hallpass_mp_%d", os.Getpid())
	conn, err := pgx.Connect(ctx, p)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	pu, _ := url.Parse(p)
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return ru.String(), pu.String()
}

type apiSession struct {
	User      map[string]any `json:"user"`
	CSRFToken string         `json:"csrf_token"`
}

// Two hallpass processes share Redis (sessions, throttle counters) and
// PostgreSQL (accounts): what one does, the other sees at once.
func TestMultiProcess(t *testing.T) {
	redisURL, pgURL := sharedStores(t)
	env := []string{"HALLPASS_SESSION_STORE=" + redisURL, "HALLPASS_DATABASE_URL=" + pgURL}
	a := startProcess(t, env...)
	b := startProcess(t, env...)
	for _, p := range []*proc{a, b} {
		if !strings.Contains(p.logs.String(), "sessions=redis://") || !strings.Contains(p.logs.String(), "throttle=redis://") {
			t.Errorf("start-up log does not name the shared stores:\n%s", p.logs)
		}
	}

	reg := newBrowser(t)
	if r := reg.form(a.URL, "/register", "/register", url.Values{"username": {"ada"}, "email": {"ada@example.com"}, "password": {"correct horse battery"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("register on A: %d\n%s", r.Code, r.Body)
	}

	// Log in on A, use the cookie on B.
	br := newBrowser(t)
	r := br.do("POST", a.URL+"/api/session", map[string]any{"username": "ada", "password": "correct horse battery"})
	if r.Code != http.StatusOK {
		t.Fatalf("log in on A: %d %s", r.Code, r.Body)
	}
	var sess apiSession
	json.Unmarshal([]byte(r.Body), &sess)
	br.copyCookies(a.URL, b.URL)
	if r := br.do("GET", b.URL+"/api/me", nil); r.Code != http.StatusOK || !strings.Contains(r.Body, `"ada"`) {
		t.Fatalf("A's session on B: %d %s", r.Code, r.Body)
	}

	// Log out on B: A refuses the cookie at once. (Cookie jars ignore
	// ports, so the cookie is saved before the logout response clears it.)
	saved := br.jar.Cookies(mustURL(a.URL))
	if r := br.do("DELETE", b.URL+"/api/session", nil, "X-CSRF-Token", sess.CSRFToken); r.Code != http.StatusNoContent {
		t.Fatalf("log out on B: %d %s", r.Code, r.Body)
	}
	stale := newBrowser(t)
	stale.jar.SetCookies(mustURL(a.URL), saved)
	if r := stale.do("GET", a.URL+"/api/me", nil); r.Code != http.StatusUnauthorized {
		t.Errorf("A after logout on B: %d %s, want 401", r.Code, r.Body)
	}

	// Change the password on A: a session on B ends.
	onA, onB := newBrowser(t), newBrowser(t)
	onA.form(a.URL, "/login", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}})
	onB.form(b.URL, "/login", "/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}})
	if r := onB.do("GET", b.URL+"/dashboard", nil); r.Code != http.StatusOK {
		t.Fatalf("dashboard on B before the change: %d", r.Code)
	}
	if r := onA.form(a.URL, "/account", "/account/password", url.Values{"current_password": {"correct horse battery"}, "new_password": {"another fine passphrase"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("change password on A: %d\n%s", r.Code, r.Body)
	}
	if r := onB.do("GET", b.URL+"/dashboard", nil); r.Code != http.StatusSeeOther {
		t.Errorf("B's session after the password change on A: %d, want 303 to the login page", r.Code)
	}
	if r := onA.do("GET", a.URL+"/dashboard", nil); r.Code != http.StatusOK {
		t.Errorf("A's own session after its password change: %d, want 200", r.Code)
	}

	// Eleven failed logins spread over A and B trip the throttle. The
	// counters are shared: after three failures (two on A, one on B) the
	// growing delay already refuses the fourth attempt, on B; separate
	// counters would refuse nothing before the seventh.
	atk := newBrowser(t)
	var codes []int
	var last response
	for i := range 11 {
		base := []string{a.URL, b.URL}[i%2]
		last = atk.do("POST", base+"/api/session", map[string]any{"username": "ada", "password": fmt.Sprintf("wrong guess %d", i)})
		codes = append(codes, last.Code)
	}
	if codes[0] != http.StatusUnauthorized || codes[1] != http.StatusUnauthorized || codes[2] != http.StatusUnauthorized {
		t.Errorf("first three failed logins: %v, want 401s", codes[:3])
	}
	if codes[3] != http.StatusTooManyRequests {
		t.Errorf("fourth attempt (on B, after three failures on A and B): %d, want 429: the throttle is not shared (codes %v)", codes[3], codes)
	}
	if last.Code != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Errorf("11th failed login across A and B: %d %s (Retry-After %q), want 429", last.Code, last.Body, last.Header.Get("Retry-After"))
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
