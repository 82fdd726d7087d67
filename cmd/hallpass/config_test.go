package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:hunter2@db:5432/hallpass", "postgres://app:xxxxx@db:5432/hallpass"},
		{"redis://:s3cret@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"redis://cache:6379/0", "redis://cache:6379/0"},
		{"memcached://a:11211,b:11211", "memcached://a:11211,b:11211"},
		{"postgres://app@db/hp?sslmode=require&password=hunter2", "postgres://app@db/hp?sslmode=require&password=xxxxx"},
		{"postgres://app@db/hp?sslpassword=hunter2&sslkey=%2Fetc%2Fs3cret.key", "postgres://app@db/hp?sslpassword=xxxxx&sslkey=xxxxx"},
		{"postgres://app:hunter2@db/hp?PASSWORD=s3cret", "postgres://app:xxxxx@db/hp?PASSWORD=xxxxx"},
		{"postgres://db/hp?pass%77ord=hunter2", "postgres://db/hp?pass%77ord=xxxxx"},
		{"redis://cache/0?pass=hunter2;db=1", "redis://cache/0?pass=xxxxx;db=1"},
		{"redis://cache/0?db=1&auth_token=hunter2&pwd=s3cret&client_secret=s3cret&api_key=s3cret&credentials=s3cret", "redis://cache/0?db=1&auth_token=xxxxx&pwd=xxxxx&client_secret=xxxxx&api_key=xxxxx&credentials=xxxxx"},
		{"postgres://db/hp?password", "postgres://db/hp?password=xxxxx"},
		{"postgres://db/hp?connect_timeout=2&application_name=hallpass", "postgres://db/hp?connect_timeout=2&application_name=hallpass"},
		{"postgres://db/hp?password=hunter%zz2", "postgres://db/hp?password=xxxxx"},
		{"postgres://app:hun ter2@db/hp", "(unparsable URL)"},
	}
	for _, tt := range tests {
		got := redactURL(tt.in)
		if got != tt.want || strings.Contains(got, "hunter2") || strings.Contains(got, "s3cret") {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactError(t *testing.T) {
	errBase := errors.New("base")
	tests := []struct {
		url, msg, want string
	}{
		{"postgres://app:hunter2@db/hp", `parse "postgres://app:hunter2@db/hp": bad`, `parse "postgres://app:xxxxx@db/hp": bad`},
		{"postgres://db/hp?password=hun%20ter2&x=%zz", `cannot parse "postgres://db/hp?password=hun%20ter2&x=%zz"; password "hun ter2"`, `cannot parse "postgres://db/hp?password=xxxxx&x=%zz"; password "xxxxx"`},
		{"redis://:s3cr%zzet@cache/0", `parse "redis://:s3cr%zzet@cache/0": invalid URL escape "%zz"`, `parse "redis://:xxxxx@cache/0": invalid URL escape "%zz"`},
		{"redis://cache/0?token=s3cret", "dial tcp: connection refused", "dial tcp: connection refused"},
	}
	for _, tt := range tests {
		err := redactError(fmt.Errorf("%s: %w", tt.msg, errBase), tt.url)
		if got := err.Error(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("redactError(%q, %q) = %q, want %q", tt.msg, tt.url, got, tt.want)
		}
		if !errors.Is(err, errBase) {
			t.Errorf("redactError(%q, %q) no longer wraps its error", tt.msg, tt.url)
		}
	}
	if redactError(nil, "postgres://app:hunter2@db/hp") != nil {
		t.Error("redactError(nil) is not nil")
	}
}

// A store that cannot be opened, or whose URL is refused when the
// settings are read, fails with an error that repeats no secret of its
// URL, query parameters included.
func TestOpenErrorsRedactQuerySecrets(t *testing.T) {
	for _, env := range []map[string]string{
		{"HALLPASS_DATABASE_URL": "postgres://app@127.0.0.1:1/db?connect_timeout=2&password=hunter2&sslpassword=s3cret"},
		{"HALLPASS_SESSION_STORE": "postgres://app@127.0.0.1:1/db?connect_timeout=2&password=hunter2&apikey=s3cret"},
		{"HALLPASS_SESSION_STORE": "redis://127.0.0.1:x/0?password=hunter2&token=s3cret"},
		{"HALLPASS_REDIS_URL": "redis://127.0.0.1:x/0?token=hunter2&secret=s3cret"},
	} {
		env["HALLPASS_DATA"] = t.TempDir()
		env["HALLPASS_SECRET_KEYS"] = testKeys
		fs := newFlagSet("test", "test", io.Discard)
		build := registerFlags(fs, func(k string) string { return env[k] })
		fs.Parse(nil)
		cfg, err := build()
		var a *app
		if err == nil {
			a, err = openApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
		}
		if err == nil {
			a.close()
			t.Errorf("env %v: openApp succeeded, want an error", env)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "s3cret") {
			t.Errorf("env %v: openApp error %q repeats a secret", env, msg)
		} else {
			t.Logf("openApp error: %s", msg)
		}
	}
}

// The start-up line naming the stores shows a database URL with its
// password query parameter redacted.
func TestStartupLogRedactsQuerySecrets(t *testing.T) {
	pg := os.Getenv("HALLPASS_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HALLPASS_TEST_POSTGRES_URL not set")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("hallpass_redact_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); conn.Close(ctx) })
	u, err := url.Parse(pg)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("password", "hunter2") // ignored by a trust login, but part of the URL
	u.RawQuery = q.Encode()

	var logs strings.Builder
	cfg := testConfig(t, map[string]string{"HALLPASS_DATABASE_URL": u.String(), "HALLPASS_SESSION_STORE": "memory"})
	a, err := openApp(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	defer a.close()
	slog.New(slog.NewTextHandler(&logs, nil)).Info("hallpass stores", a.storeLog...)
	if got := logs.String(); strings.Contains(got, "hunter2") || !strings.Contains(got, "password=xxxxx") {
		t.Errorf("start-up line %q: want the password query parameter shown as xxxxx", got)
	}
}
