package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/apitoken"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/sqlitestore"
)

// The CLI tests call run, the whole program, in-process: each test gets a
// data directory of its own, and the server, when a test needs one, runs
// in-process on the same directory, as an operator's server would while
// they type commands.

// cli runs hallpass commands on one data directory.
type cli struct {
	t    *testing.T
	data string
	env  map[string]string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	data := t.TempDir()
	return &cli{t: t, data: data, env: map[string]string{"HALLPASS_DATA": data, "HALLPASS_SECRET_KEYS": testKeys}}
}

func (c *cli) getenv(k string) string { return c.env[k] }

// exec runs "hallpass args..." with stdin and returns what it printed and
// its error. A panic fails the test (instead of killing the test binary)
// and is returned as the error.
func (c *cli) exec(stdin string, args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	defer func() {
		if p := recover(); p != nil {
			c.t.Errorf("hallpass %s panicked: %v\n%s", strings.Join(args, " "), p, debug.Stack())
			stdout, stderr, err = out.String(), errOut.String(), fmt.Errorf("panic: %v", p)
		}
	}()
	err = run(context.Background(), args, c.getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// ok runs a command that must succeed and returns its standard output.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.exec(stdin, args...)
	if err != nil {
		c.t.Fatalf("hallpass %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// fails runs a command that must fail and returns its error message and
// standard error.
func (c *cli) fails(stdin string, args ...string) (msg, stderr string) {
	c.t.Helper()
	out, errOut, err := c.exec(stdin, args...)
	if err == nil {
		c.t.Fatalf("hallpass %s succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), out)
	}
	return err.Error(), errOut
}

// serve starts the server in-process on the CLI's data directory.
func (c *cli) serve() *httptest.Server {
	c.t.Helper()
	srv, _ := c.serveLogged()
	return srv
}

// serveLogged is serve, returning the server's log too.
func (c *cli) serveLogged() (*httptest.Server, *lockedBuffer) {
	c.t.Helper()
	cfg, _, err := parseConfig("serve", "hallpass serve", nil, c.getenv, io.Discard, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return inProcess(c.t, cfg)
}

// accounts opens the data directory's account store directly, to read
// what the commands and the server wrote.
func (c *cli) accounts() account.Store { return c.db().Accounts() }

// db opens the data directory's SQLite database directly, for the test's
// lifetime.
func (c *cli) db() *sqlitestore.DB {
	c.t.Helper()
	db, err := sqlitestore.Open(context.Background(), filepath.Join(c.data, "hallpass.db"), sqlitestore.Options{SweepInterval: -1})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

// listed returns the "users list" row of name, split into columns, or nil.
func (c *cli) listed(name string) []string {
	c.t.Helper()
	for _, line := range strings.Split(c.ok("", "users", "list"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == name {
			return f
		}
	}
	return nil
}

// logIn logs name in over HTTP with a fresh browser, and checks the
// dashboard greets them.
func logIn(t *testing.T, base, name, pw string) *browser {
	t.Helper()
	b := newBrowser(t)
	r := b.form(base, "/login", "/login", url.Values{"username": {name}, "password": {pw}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/dashboard" {
		t.Fatalf("log in as %s with %q: %d (Location %q), want 303 to /dashboard\n%s", name, pw, r.Code, r.Header.Get("Location"), r.Body)
	}
	if r := b.do("GET", base+"/dashboard", nil); r.Code != http.StatusOK || !strings.Contains(r.Body, "Welcome "+name+"!") {
		t.Fatalf("dashboard of %s: %d, want 200 with Welcome %s!\n%s", name, r.Code, name, r.Body)
	}
	return b
}

// wantLoggedOut checks the browser's dashboard redirects to the login form.
func wantLoggedOut(t *testing.T, b *browser, base, who string) {
	t.Helper()
	r := b.do("GET", base+"/dashboard", nil)
	if loc := r.Header.Get("Location"); r.Code != http.StatusSeeOther || loc != "/login?next=%2Fdashboard" {
		t.Errorf("%s: dashboard answered %d (Location %q), want 303 to /login?next=%%2Fdashboard", who, r.Code, loc)
	}
}

// TestCLIHelp checks that "hallpass help" lists every command, those of
// the groups as their own help does (from the same table), and that each
// group's help lists its own.
func TestCLIHelp(t *testing.T) {
	helpCommands := []string{"[serve]", "version", "help"}
	for _, group := range []string{"users", "sessions"} {
		for _, c := range subcommands[group] {
			helpCommands = append(helpCommands, c.name+c.args)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		c := newCLI(t)
		out := c.ok("", args...)
		for _, cmd := range helpCommands {
			if !strings.Contains(out, "hallpass "+cmd) {
				t.Errorf("hallpass %s does not list %q:\n%s", strings.Join(args, " "), cmd, out)
			}
		}
	}
	// A group's help lists its own commands only, on stdout, exit 0.
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"users", "--help"}, []string{"Usage: hallpass users COMMAND", "add ", "list ", "show ", "set-password ", "delete ", "import "}, []string{"revoke"}},
		{[]string{"users", "help"}, []string{"Usage: hallpass users COMMAND", "disable "}, []string{"revoke"}},
		{[]string{"help", "users"}, []string{"Usage: hallpass users COMMAND", "enable "}, []string{"revoke"}},
		{[]string{"sessions", "--help"}, []string{"Usage: hallpass sessions COMMAND", "list ", "revoke "}, []string{"import", "delete"}},
		{[]string{"sessions", "-h"}, []string{"Usage: hallpass sessions COMMAND"}, []string{"import"}},
		{[]string{"help", "serve"}, []string{"Usage: hallpass serve", "--idle-timeout DURATION"}, []string{"sessions revoke"}},
	} {
		c := newCLI(t)
		out, stderr, err := c.exec("", tc.args...)
		if exitCode(err) != 0 || stderr != "" {
			t.Errorf("hallpass %s: %v (exit %d), stderr %q; want exit 0 and nothing on stderr", strings.Join(tc.args, " "), err, exitCode(err), stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("hallpass %s does not print %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(out, w) {
				t.Errorf("hallpass %s prints %q, a command of another group:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
}

// Every command's --help prints its usage and its own flags, spelt --flag
// with the kind of value they take, to stdout, and exits 0 before it
// opens, or creates, any data. Only serve --help lists the settings.
func TestCLISubcommandHelp(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"serve", "--help"}, []string{"--data DIR", "HALLPASS_DATA", "--idle-timeout DURATION", "--addr HOST:PORT", "--database-url URL", "--hash-concurrency N"}, nil},
		{[]string{"--help-me"}, nil, nil}, // a flag of the default command, serve: unknown, so a usage error
		{[]string{"users", "add", "--help"}, []string{"--email ADDRESS", "--role ROLE", "--password-stdin "}, []string{"--idle-timeout", "-email string"}},
		{[]string{"users", "add", "bob", "--email", "b@example.com", "-h"}, []string{"--email ADDRESS"}, []string{"--idle-timeout"}},
		{[]string{"users", "list", "--help"}, []string{"--limit N", "--after ID", "-o FORMAT"}, []string{"--idle-timeout", "--email"}},
		{[]string{"users", "show", "--help"}, []string{"-o FORMAT"}, []string{"--idle-timeout"}},
		{[]string{"users", "disable", "--help"}, nil, []string{"--idle-timeout", "Flags:"}},
		{[]string{"users", "enable", "--help"}, nil, []string{"--idle-timeout", "Flags:"}},
		{[]string{"users", "set-role", "--help"}, nil, []string{"--idle-timeout"}},
		{[]string{"users", "set-password", "--help"}, []string{"--password-stdin"}, []string{"--idle-timeout", "--email"}},
		{[]string{"users", "delete", "--help"}, nil, []string{"--idle-timeout"}},
		{[]string{"users", "import", "--help"}, []string{"--skip-invalid", "header", "72 bytes", "Quote"}, []string{"--idle-timeout"}},
		{[]string{"sessions", "list", "--help"}, []string{"--user NAME", "-o FORMAT"}, []string{"--idle-timeout"}},
		{[]string{"sessions", "revoke", "--help"}, []string{"--user NAME", "--id ID"}, []string{"--idle-timeout"}},
	} {
		args := tc.args
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			c := newCLI(t)
			c.env["HALLPASS_DATA"] = filepath.Join(c.data, "not-yet")
			stdout, stderr, err := c.exec("", args...)
			if args[0] == "--help-me" {
				var u *usageError
				if !errors.As(err, &u) || exitCode(err) != 2 || !strings.Contains(err.Error(), "unknown flag --help-me") {
					t.Errorf("hallpass --help-me: %v (exit %d), want a usage error naming --help-me, exit 2", err, exitCode(err))
				}
			} else {
				if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
					t.Errorf("hallpass %s: %v (exit %d), want flag.ErrHelp, exit 0", strings.Join(args, " "), err, exitCode(err))
				}
				usage := "Usage: hallpass " + strings.Join(args[:len(args)-1], " ")
				if args[0] == "users" || args[0] == "sessions" {
					usage = "Usage: hallpass " + args[0] + " " + args[1]
				}
				if !strings.HasPrefix(stdout, usage) || stderr != "" {
					t.Errorf("stdout does not start with %q, or stderr %q is not empty:\n%s", usage, stderr, stdout)
				}
				if args[0] != "serve" && !strings.Contains(stdout, `"hallpass serve --help"`) {
					t.Errorf("help does not point to serve --help for the settings:\n%s", stdout)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("help does not list %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(stdout, w) {
					t.Errorf("help lists %q, not a flag of its own:\n%s", w, stdout)
				}
			}
			if _, err := os.Stat(c.env["HALLPASS_DATA"]); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("--help touched the data directory (stat: %v)", err)
			}
		})
	}
}

func TestCLIVersion(t *testing.T) {
	out := newCLI(t).ok("", "version")
	if !regexp.MustCompile(`^hallpass \S+\n$`).MatchString(out) {
		t.Errorf("hallpass version printed %q, want \"hallpass VERSION\\n\"", out)
	}
}

func TestCLIUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"users", "frobnicate"}, `users: unknown command "frobnicate"`},
		{[]string{"sessions", "frobnicate"}, `sessions: unknown command "frobnicate"`},
		{[]string{"users"}, "users: which command?"},
		{[]string{"users", "list", "extra"}, "users list takes no arguments"},
		{[]string{"users", "add", "bob", "--email", "b@example.com", "--no-such-flag"}, "unknown flag --no-such-flag"},
		// A flag that needs a value takes neither "--" nor the next flag.
		{[]string{"--addr"}, "--addr needs a value"},
		{[]string{"serve", "--idle-timeout"}, "--idle-timeout needs a value"},
		{[]string{"users", "add", "gina", "--email", "--password-stdin"}, "--email needs a value, but --password-stdin follows it"},
		{[]string{"users", "add", "gina", "--email", "--"}, "--email needs a value"},
		{[]string{"users", "list", "-o", "yaml"}, `invalid value "yaml" for flag -o: want text or json`},
		{[]string{"users", "show"}, "users show: want exactly one username"},
		{[]string{"users", "delete", "a", "b"}, "users delete: want exactly one username"},
		{[]string{"sessions", "revoke", "--id", "abc"}, "--id wants the 12 characters of SESSION or the 8 of LOG ID"},
		{[]string{"users", "add", "bob", "--email", "b@example.com"}, "pass --password-stdin"}, // stdin is no terminal
		{[]string{"sessions", "revoke"}, "want --user NAME"},
		{[]string{"serve", "extra"}, "serve takes no arguments"},
	} {
		c := newCLI(t)
		_, stderr, err := c.exec("", tc.args...)
		var u *usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) || exitCode(err) != 2 {
			t.Errorf("hallpass %s: %v (exit %d), want a usage error containing %q, exit 2", strings.Join(tc.args, " "), err, exitCode(err), tc.want)
		}
		// main prints the error, once; run prints neither it nor a usage dump.
		if stderr != "" {
			t.Errorf("hallpass %s printed on stderr %q; want only the error, which main prints once", strings.Join(tc.args, " "), stderr)
		}
	}
	if c := newCLI(t); c.listed("gina") != nil {
		t.Errorf("users add gina --email --password-stdin created gina")
	}
}

// A HALLPASS_* variable that no setting reads, say a misspelt one, is
// reported, since it would otherwise be ignored without a word. The list
// of known variables is the settings table.
func TestCLIUnknownVariable(t *testing.T) {
	t.Setenv("HALLPASS_REMEBER_FOR", "1h")
	t.Setenv("HALLPASS_IDLE_TIMEOUT", "45m")
	c := newCLI(t)
	_, stderr, err := c.exec("", "users", "list")
	if err != nil {
		t.Fatal(err)
	}
	if want := "warning: HALLPASS_REMEBER_FOR is not a hallpass setting"; strings.Count(stderr, want) != 1 {
		t.Errorf("stderr = %q, want one %q", stderr, want)
	}
	if strings.Contains(stderr, "HALLPASS_IDLE_TIMEOUT") {
		t.Errorf("stderr = %q, warns about a setting's variable", stderr)
	}

	defer func(saved []setting) { settings = saved }(settings)
	settings = append(slices.Clip(settings), setting{flag: "frob", env: "HALLPASS_FROB", usage: "a setting added later"})
	for _, tc := range []struct {
		environ []string
		want    []string
	}{
		{[]string{"HALLPASS_FROB=1", "HALLPASS_DATA=/x", "PATH=/bin", "HALLPASS_TEST_REDIS_URL=redis://x"}, nil},
		{[]string{"HALLPASS_REMEBER_FOR=1h", "HALLPASS_FROBB=2", "HALLPASS_=3", "HALLPASS"}, []string{"HALLPASS_", "HALLPASS_FROBB", "HALLPASS_REMEBER_FOR"}},
	} {
		if got := unknownVariables(tc.environ); !slices.Equal(got, tc.want) {
			t.Errorf("unknownVariables(%q) = %q, want %q", tc.environ, got, tc.want)
		}
	}
}

// A bad setting fails every command, before it touches any data, with an
// error naming the variable (or flag) it came from; the error echoes
// neither secrets nor credentials.
func TestCLIBadConfig(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		args    []string
		want    []string // nil: the command succeeds
		notWant string
	}{
		{env: map[string]string{"HALLPASS_IDLE_TIMEOUT": "abc"}, want: []string{"HALLPASS_IDLE_TIMEOUT", `"abc"`, "duration"}},
		{env: map[string]string{"HALLPASS_IDLE_TIMEOUT": "abc"}, args: []string{"--idle-timeout", "45m"}}, // the flag wins
		{args: []string{"--idle-timeout=-5m"}, want: []string{"--idle-timeout", `"-5m"`}},
		{env: map[string]string{"HALLPASS_ABSOLUTE_TIMEOUT": "10m"}, want: []string{"HALLPASS_ABSOLUTE_TIMEOUT", "HALLPASS_IDLE_TIMEOUT"}},
		{env: map[string]string{"HALLPASS_PASSWORD_MIN": "4"}, want: []string{"HALLPASS_PASSWORD_MIN", "8 to 64"}},
		{env: map[string]string{"HALLPASS_HASH_CONCURRENCY": "-1"}, want: []string{"HALLPASS_HASH_CONCURRENCY", "0 to 1024"}},
		{env: map[string]string{"HALLPASS_HASH_CONCURRENCY": "two"}, want: []string{"HALLPASS_HASH_CONCURRENCY", `"two"`}},
		{env: map[string]string{"HALLPASS_HASH_CONCURRENCY": "2"}},
		{env: map[string]string{"HALLPASS_GC_MIN_HEAP": "32"}, want: []string{"HALLPASS_GC_MIN_HEAP", `"32"`, "MiB"}},
		{env: map[string]string{"HALLPASS_GC_MIN_HEAP": "1MiB"}, want: []string{"HALLPASS_GC_MIN_HEAP", "4MiB to 64GiB"}},
		{env: map[string]string{"HALLPASS_GC_MIN_HEAP": "65GiB"}, want: []string{"HALLPASS_GC_MIN_HEAP", "4MiB to 64GiB"}},
		{env: map[string]string{"HALLPASS_GC_MIN_HEAP": "-32MiB"}, want: []string{"HALLPASS_GC_MIN_HEAP"}},
		{env: map[string]string{"HALLPASS_GC_MIN_HEAP": "0"}},
		{env: map[string]string{"HALLPASS_GC_MIN_HEAP": "1GiB"}},
		{env: map[string]string{"HALLPASS_SECRET_KEYS": "short-secret"}, want: []string{"HALLPASS_SECRET_KEYS", "at least 32"}, notWant: "short-secret"},
		{env: map[string]string{"HALLPASS_SESSION_STORE": "mysql://app:hunter2@db/hp"}, want: []string{"HALLPASS_SESSION_STORE"}, notWant: "hunter2"},
		{env: map[string]string{"HALLPASS_DATABASE_URL": "mysql://app:hunter2@db/hp"}, want: []string{"HALLPASS_DATABASE_URL"}, notWant: "hunter2"},
		{env: map[string]string{"HALLPASS_BASE_URL": "https://login.example.com/app"}, want: []string{"HALLPASS_BASE_URL", "without a path"}},
	} {
		c := newCLI(t)
		if tc.want != nil {
			c.env["HALLPASS_DATA"] = filepath.Join(c.data, "not-yet")
		}
		for k, v := range tc.env {
			c.env[k] = v
		}
		args := append([]string{"users", "list"}, tc.args...)
		_, _, err := c.exec("", args...)
		if tc.want == nil {
			if err != nil {
				t.Errorf("env %v, hallpass %s: %v, want success", tc.env, strings.Join(args, " "), err)
			}
			continue
		}
		wantErrText(t, tc.env, err, tc.want, tc.notWant)
		if _, err := os.Stat(c.env["HALLPASS_DATA"]); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("env %v: a bad setting still created the data directory", tc.env)
		}
	}
}

// A command run without the server's data directory (HALLPASS_DATA unset
// or misspelt) says so and creates nothing, rather than open an empty
// database with a secret key of its own and report the server's users
// missing; only the commands that add users create it, to set up a
// server before its first start, and they say where.
func TestCLIMissingDataDir(t *testing.T) {
	c := newCLI(t)
	missing := filepath.Join(c.data, "hallpass-data")
	c.env["HALLPASS_DATA"] = missing
	for _, args := range [][]string{{"users", "list"}, {"users", "show", "ada"}, {"sessions", "list"}, {"sessions", "revoke", "--user", "ada"}, {"users", "disable", "ada"}} {
		_, _, err := c.exec("", args...)
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "no data directory at "+missing+" (HALLPASS_DATA)") {
			t.Errorf("hallpass %s without the data directory: %v (exit %d), want an error naming it and HALLPASS_DATA, exit 1", strings.Join(args, " "), err, exitCode(err))
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("hallpass %s created the data directory (stat: %v)", strings.Join(args, " "), err)
		}
	}
	_, stderr, err := c.exec("correct horse battery\n", "users", "add", "ada", "--email", "ada@example.com", "--password-stdin")
	if err != nil || !strings.Contains(stderr, "created the data directory "+missing) {
		t.Fatalf("users add without the data directory: %v, stderr %q; want it created, and said so", err, stderr)
	}
	if row := c.listed("ada"); row == nil {
		t.Error("users list after users add created the directory: no ada")
	}
	if _, stderr, _ := c.exec("correct horse battery\n", "users", "add", "bob", "--email", "bob@example.com", "--password-stdin"); strings.Contains(stderr, "created") {
		t.Errorf("users add with the directory there says it created it: %q", stderr)
	}

	// A data directory that cannot be one is named by its setting.
	file := filepath.Join(c.data, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c.env["HALLPASS_DATA"] = file
	if _, _, err := c.exec("", "users", "list"); err == nil || !strings.HasPrefix(err.Error(), "HALLPASS_DATA: ") {
		t.Errorf("users list with HALLPASS_DATA a regular file: %v, want an error starting with the setting", err)
	}
}

// A store that cannot be opened fails the command cleanly, naming the
// setting, and without repeating the password in its URL.
func TestCLIStoreUnavailable(t *testing.T) {
	notDir := writeTemp(t, "a-file", "")
	for _, tc := range []struct {
		env     map[string]string
		want    []string
		notWant string
	}{
		{map[string]string{"HALLPASS_SESSION_STORE": "memcached://"}, []string{"HALLPASS_SESSION_STORE", "memcached://host:port"}, ""},
		{map[string]string{"HALLPASS_SESSION_STORE": "redis://:s3cr%zzet@127.0.0.1:1/0"}, []string{"HALLPASS_SESSION_STORE"}, "s3cr"},
		{map[string]string{"HALLPASS_REDIS_URL": "redis://:s3cr%zzet@127.0.0.1:1/0"}, []string{"HALLPASS_REDIS_URL"}, "s3cr"},
		{map[string]string{"HALLPASS_DATABASE_URL": "postgres://app:s3cr%zzet@127.0.0.1:1/db"}, []string{"HALLPASS_DATABASE_URL"}, "s3cr"},
		{map[string]string{"HALLPASS_DATABASE_URL": "postgres://app:s3cret@127.0.0.1:1/db?connect_timeout=2"}, []string{"HALLPASS_DATABASE_URL", "connect"}, "s3cret"},
		{map[string]string{"HALLPASS_DATA": notDir}, []string{"data directory"}, ""},
	} {
		c := newCLI(t)
		for k, v := range tc.env {
			c.env[k] = v
		}
		_, _, err := c.exec("", "users", "list")
		wantErrText(t, tc.env, err, tc.want, tc.notWant)
	}
}

// wantErrText checks err contains every string of want and not notWant.
func wantErrText(t *testing.T, env map[string]string, err error, want []string, notWant string) {
	t.Helper()
	if err == nil {
		t.Errorf("env %v: hallpass users list succeeded, want an error naming %s", env, want[0])
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("env %v: error %q does not contain %q", env, err, w)
		}
	}
	if notWant != "" && strings.Contains(err.Error(), notWant) {
		t.Errorf("env %v: error %q echoes the secret %q", env, err, notWant)
	}
}

func TestCLIUsers(t *testing.T) {
	c := newCLI(t)
	pw := "correct horse battery\n"
	if out := c.ok(pw, "users", "add", "alice", "--email", "a@example.com", "--role", "admin", "--password-stdin"); !strings.HasPrefix(out, "added user alice (id ") {
		t.Errorf("users add printed %q, want \"added user alice (id ...)\"", out)
	}
	// Flags may come before the name, and --role repeats.
	c.ok("another fine passphrase", "users", "add", "--role", "editor", "--role", "viewer", "--email=b@example.com", "--password-stdin", "bob")
	if row := c.listed("alice"); row == nil || row[2] != "a@example.com" || row[3] != "admin" || row[4] != "active" {
		t.Errorf("users list row of alice = %q, want email a@example.com, roles admin, active", row)
	}
	if row := c.listed("bob"); row == nil || row[3] != "editor,viewer" {
		t.Errorf("users list row of bob = %q, want roles editor,viewer", row)
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"taken", pw, []string{"alice", "--email", "other@example.com"}, "username is taken"},
		{"taken, other case", pw, []string{"ALICE", "--email", "other@example.com"}, "username is taken"},
		{"too short", "short\n", []string{"carol", "--email", "c@example.com"}, "password must be at least 8 characters"},
		{"too common", "password123\n", []string{"carol", "--email", "c@example.com"}, "too common"},
		{"same as username", "carol-the-great\n", []string{"carol-the-great", "--email", "c@example.com"}, "same as your username"},
		{"no password", "", []string{"carol", "--email", "c@example.com"}, "no password on standard input"},
		{"bad email", pw, []string{"carol", "--email", "not-an-email"}, "email"},
		{"bad username", pw, []string{"carol smith", "--email", "c@example.com"}, "username"},
		{"bad role", pw, []string{"carol", "--email", "c@example.com", "--role", "Super User"}, "role"},
		// The fields are checked before the password is read: both named,
		// though standard input holds none.
		{"bad fields, no password", "", []string{"x", "--email", "bad"}, "3 to 64 characters long. please enter a valid email address"},
	} {
		msg, _ := c.fails(tc.stdin, append(append([]string{"users", "add"}, tc.args...), "--password-stdin")...)
		if !strings.Contains(strings.ToLower(msg), tc.want) {
			t.Errorf("%s: users add failed with %q, want it to say %q", tc.name, msg, tc.want)
		}
	}
	if c.listed("carol") != nil || c.listed("carol-the-great") != nil {
		t.Errorf("a failed users add still created the user")
	}

	// Disable, enable, and the roles.
	if out := c.ok("", "users", "disable", "alice"); !strings.HasPrefix(out, "disabled alice") {
		t.Errorf("users disable printed %q", out)
	}
	if row := c.listed("alice"); row == nil || row[4] != "disabled" {
		t.Errorf("after users disable, alice's row = %q, want disabled", row)
	}
	if out := c.ok("", "users", "enable", "alice"); out != "enabled alice\n" {
		t.Errorf("users enable printed %q", out)
	}
	if row := c.listed("alice"); row == nil || row[4] != "active" {
		t.Errorf("after users enable, alice's row = %q, want active", row)
	}
	if out := c.ok("", "users", "set-role", "alice", "viewer", "Editor"); out != "alice now has roles: editor, viewer\n" {
		t.Errorf("users set-role alice viewer Editor printed %q", out)
	}
	if out := c.ok("", "users", "set-role", "alice"); out != "alice now has roles: (none)\n" {
		t.Errorf("users set-role alice printed %q, want (none)", out)
	}
	if row := c.listed("alice"); row == nil || row[3] != "-" {
		t.Errorf("after removing every role, alice's row = %q, want roles -", row)
	}
	for _, args := range [][]string{{"disable", "nobody"}, {"enable", "nobody"}, {"set-role", "nobody", "admin"}} {
		if msg, _ := c.fails("", append([]string{"users"}, args...)...); msg != `no user named "nobody"` {
			t.Errorf("users %s: %q, want no user named \"nobody\"", strings.Join(args, " "), msg)
		}
	}
}

// hashVector is a password hash made by another system, from password/testdata.
type hashVector struct {
	Source, Note, Password, Hash string
	Want                         bool
}

// legacyHash returns the hash of password whose encoding starts with
// prefix, from the vectors that the password package verifies.
func legacyHash(t *testing.T, prefix, pw string) string {
	t.Helper()
	for _, file := range []string{"werkzeug_vectors.json", "other_vectors.json"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "password", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		var f struct{ Vectors []hashVector }
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, v := range f.Vectors {
			if v.Want && v.Password == pw && strings.HasPrefix(v.Hash, prefix) {
				return v.Hash
			}
		}
	}
	t.Fatalf("no vector with a %q hash of %q in password/testdata", prefix, pw)
	return ""
}

// legacyUser is an account exported from a Flask, Django or PHP app: its
// hash is the vector of password whose encoding starts with prefix. Roles
// are a CSV field, or a JSON value in JSON Lines.
type legacyUser struct {
	name, prefix, password, roles string
}

var legacyCSV = []legacyUser{
	{"wz-pbkdf2", "pbkdf2:sha256:1000$", "correct horse battery staple", "editor"},
	{"wz-pbkdf2-sha512", "pbkdf2:sha512:1000$", "pässwörd", ""},
	{"wz-pbkdf2-short-salt", "pbkdf2:sha256:4096$", "hunter2", ""}, // below today's minimum length, still accepted at login
	{"wz-scrypt", "scrypt:16:2:3$", "日本語のパスワード", "editor viewer"},
	{"wz-scrypt-1024", "scrypt:1024:8:1$", "emoji 🔐 key", ""},
	{"php-bcrypt-2y", "$2y$04$", "pässwörd", "viewer"},
	{"py-bcrypt-2b", "$2b$04$", `dollar$ colon: percent% quote" backslash\`, "admin"},
	{"django-pbkdf2", "pbkdf2_sha256$1000$", "pa\u0308sswort", "editor;viewer"}, // typed decomposed (NFD)
}

var legacyJSONL = []legacyUser{
	{"django-bcrypt", "bcrypt_sha256$$2b$04$", "correct horse battery staple", `["viewer"]`},
	{"bcrypt-2a", "$2a$04$", "emoji 🔐 key", `"editor admin"`},
}

// writeTemp writes content to name in a temporary directory.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Users exported with Werkzeug, Django and bcrypt hashes are imported from
// CSV and JSON Lines, log in over HTTP with their old passwords, and have
// their hashes upgraded to argon2id on that first login.
func TestCLIImportLegacyHashes(t *testing.T) {
	c := newCLI(t)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"username", "email", "password_hash", "roles"})
	for _, u := range legacyCSV {
		w.Write([]string{u.name, u.name + "@example.com", legacyHash(t, u.prefix, u.password), u.roles})
	}
	w.Flush()
	out := c.ok("", "users", "import", writeTemp(t, "users.csv", buf.String()))
	if want := "imported 8 users, skipped 0 invalid rows\n"; out != want {
		t.Errorf("users import users.csv printed %q, want %q", out, want)
	}

	var jsonl strings.Builder
	for _, u := range legacyJSONL {
		line, _ := json.Marshal(map[string]any{"username": u.name, "email": u.name + "@example.com",
			"password_hash": legacyHash(t, u.prefix, u.password), "roles": json.RawMessage(u.roles)})
		jsonl.Write(append(line, '\n'))
	}
	out = c.ok("", "users", "import", writeTemp(t, "users.jsonl", jsonl.String()))
	if want := "imported 2 users, skipped 0 invalid rows\n"; out != want {
		t.Errorf("users import users.jsonl printed %q, want %q", out, want)
	}

	for name, want := range map[string]string{"wz-pbkdf2": "editor", "wz-pbkdf2-sha512": "-", "wz-scrypt": "editor,viewer",
		"django-pbkdf2": "editor,viewer", "django-bcrypt": "viewer", "bcrypt-2a": "admin,editor"} {
		if row := c.listed(name); row == nil || row[3] != want {
			t.Errorf("users list row of %s = %q, want roles %s", name, row, want)
		}
	}

	srv := c.serve()
	accounts := c.accounts()
	ctx := context.Background()
	for _, u := range append(legacyCSV, legacyJSONL...) {
		t.Run(u.name, func(t *testing.T) {
			before, err := accounts.UserByUsername(ctx, u.name)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(before.PasswordHash, u.prefix) {
				t.Fatalf("imported hash %q, want the %s hash stored as given", before.PasswordHash, u.prefix)
			}
			logIn(t, srv.URL, u.name, u.password)
			after, err := accounts.UserByUsername(ctx, u.name)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(after.PasswordHash, "$argon2id$") || password.NeedsRehash(after.PasswordHash) {
				t.Fatalf("hash after the first login = %q, want today's argon2id", after.PasswordHash)
			}
			if ok, err := password.Verify(ctx, u.password, after.PasswordHash); !ok || err != nil {
				t.Errorf("the upgraded hash does not verify the password: %v, %v", ok, err)
			}
			logIn(t, srv.URL, u.name, u.password) // and again, with the new hash
		})
	}
}

// A file with invalid rows imports nothing and names every bad line; with
// --skip-invalid the valid rows are imported.
func TestCLIImportInvalidRows(t *testing.T) {
	c := newCLI(t)
	c.ok("correct horse battery", "users", "add", "alice", "--email", "a@example.com", "--password-stdin")
	h := legacyHash(t, "$2b$04$", "correct horse battery staple")
	file := writeTemp(t, "users.csv", strings.Join([]string{
		"username,email,password_hash,roles",                          // line 1
		"carol,carol@example.com," + h + ",editor",                    // line 2: valid
		"erin,not-an-email," + h + ",",                                // line 3: bad email
		"frank,frank@example.com,{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=,", // line 4: unknown hash format
		"Carol,carol2@example.com," + h + ",",                         // line 5: repeats line 2
		"alice,alice2@example.com," + h + ",",                         // line 6: taken
		"dave,dave@example.com," + h + ",viewer",                      // line 7: valid
	}, "\n"))

	msg, stderr := c.fails("", "users", "import", file)
	if !strings.Contains(msg, "4 invalid rows; nothing imported") || !strings.Contains(msg, "--skip-invalid") {
		t.Errorf("users import with bad rows failed with %q, want \"4 invalid rows; nothing imported\" and a hint", msg)
	}
	for _, want := range []string{
		"line 3 (erin): ", "line 4 (frank): ", "format hallpass cannot verify",
		"line 5 (Carol): ", "repeats line 2", "line 6 (alice): ", "taken",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	for _, good := range []string{"line 1 ", "line 2 ", "line 7 "} {
		if strings.Contains("\n"+stderr, "\n"+good) {
			t.Errorf("stderr blames a valid %s:\n%s", good, stderr)
		}
	}
	for _, name := range []string{"carol", "dave", "erin", "frank"} {
		if c.listed(name) != nil {
			t.Errorf("%s was imported from a file with invalid rows; want nothing imported", name)
		}
	}

	out := c.ok("", "users", "import", "--skip-invalid", file)
	if want := "imported 2 users, skipped 4 invalid rows\n"; out != want {
		t.Errorf("users import --skip-invalid printed %q, want %q", out, want)
	}
	for name, want := range map[string]bool{"carol": true, "dave": true, "erin": false, "frank": false} {
		if got := c.listed(name) != nil; got != want {
			t.Errorf("after --skip-invalid, %s listed = %v, want %v", name, got, want)
		}
	}
	if row := c.listed("alice"); row == nil || row[2] != "a@example.com" {
		t.Errorf("alice's row = %q: the import must not touch an existing user", row)
	}

	// Rows that cannot be read at all, in either format.
	for _, tc := range []struct{ name, content, want string }{
		{"bad.csv", "dave2,d@example.com\n", "line 1: want 3 or 4 columns"},
		{"bad.jsonl", `{"username":"x1","email":"x@example.com","password_hash":"` + h + `"}` + "\n{not json}\n", "line 2: not a JSON object"},
		{"empty.csv", "\n\n", "the import file is empty"},
	} {
		msg, stderr := c.fails("", "users", "import", writeTemp(t, tc.name, tc.content))
		if !strings.Contains(msg+stderr, tc.want) {
			t.Errorf("import %s: %q, stderr %q; want %q", tc.name, msg, stderr, tc.want)
		}
	}
	if c.listed("x1") != nil {
		t.Errorf("x1 was imported from a JSON Lines file with an unreadable line")
	}
}

// sessions list shows a user's sessions, started over HTTP; sessions revoke
// ends them and their remember-me tokens, and disabling a user ends theirs.
func TestCLISessions(t *testing.T) {
	c := newCLI(t)
	c.ok("correct horse battery", "users", "add", "alice", "--email", "a@example.com", "--password-stdin")
	c.ok("another fine passphrase", "users", "add", "bob", "--email", "b@example.com", "--password-stdin")
	srv := c.serve()

	if out := c.ok("", "sessions", "list", "--user", "alice"); strings.Count(out, "\n") != 1 {
		t.Errorf("sessions list before any login printed %q, want only the header", out)
	}
	laptop := logIn(t, srv.URL, "alice", "correct horse battery")
	phone := newBrowser(t) // logs in with remember me
	if r := phone.form(srv.URL, "/login", "/login", url.Values{"username": {"alice"}, "password": {"correct horse battery"}, "remember": {"on"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("log in with remember me: %d", r.Code)
	}
	bobs := logIn(t, srv.URL, "bob", "another fine passphrase")

	out := c.ok("", "sessions", "list", "--user", "alice")
	if n := strings.Count(out, "\nalice "); n != 2 || strings.Contains(out, "bob") {
		t.Errorf("sessions list --user alice shows %d sessions of alice, want 2 and none of bob's:\n%s", n, out)
	}
	if out := c.ok("", "sessions", "list"); strings.Count(out, "\nalice ") != 2 || strings.Count(out, "\nbob ") != 1 {
		t.Errorf("sessions list shows, want alice's 2 sessions and bob's 1:\n%s", out)
	}
	if msg, _ := c.fails("", "sessions", "list", "--user", "nobody"); msg != `no user named "nobody"` {
		t.Errorf("sessions list --user nobody: %q", msg)
	}

	if out := c.ok("", "sessions", "revoke", "--user", "alice"); out != "ended 2 sessions and 1 remember-me token of alice\n" {
		t.Errorf("sessions revoke printed %q, want 2 sessions and 1 remember-me token ended", out)
	}
	wantLoggedOut(t, laptop, srv.URL, "alice's laptop after revoke")
	wantLoggedOut(t, phone, srv.URL, "alice's phone (with a remember-me cookie) after revoke")
	if r := bobs.do("GET", srv.URL+"/dashboard", nil); r.Code != http.StatusOK {
		t.Errorf("bob's session after revoking alice's: %d, want 200", r.Code)
	}
	if out := c.ok("", "sessions", "list", "--user", "alice"); strings.Contains(out, "\nalice ") {
		t.Errorf("sessions list after revoke still shows alice's sessions:\n%s", out)
	}

	// Disabling bob ends his session and refuses his password.
	c.ok("", "users", "disable", "bob")
	wantLoggedOut(t, bobs, srv.URL, "bob's browser after users disable bob")
	b := newBrowser(t)
	if r := b.form(srv.URL, "/login", "/login", url.Values{"username": {"bob"}, "password": {"another fine passphrase"}}); r.Code != http.StatusUnauthorized || !strings.Contains(r.Body, "Invalid username or password.") {
		t.Errorf("disabled bob logs in: %d, want 401 Invalid username or password.", r.Code)
	}
	c.ok("", "users", "enable", "bob")
	logIn(t, srv.URL, "bob", "another fine passphrase")
}

// users show, set-password, delete; list and show as JSON; list a page at
// a time; disabling twice says so.
func TestCLIUserCommands(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"users", "list"}, {"sessions", "list"}} {
		if out := c.ok("", args...); strings.Count(out, "\n") != 1 || !strings.Contains(out, "USER") {
			t.Errorf("hallpass %s with no users printed %q, want the header", strings.Join(args, " "), out)
		}
	}
	c.ok("correct horse battery", "users", "add", "alice", "--email", "a@example.com", "--role", "admin", "--password-stdin")
	c.ok("another fine passphrase", "users", "add", "bob", "--email", "b@example.com", "--password-stdin")
	c.ok("yet another passphrase", "users", "add", "carol", "--email", "c@example.com", "--password-stdin")
	srv := c.serve()
	ctx := context.Background()

	// show, as text and as JSON.
	aliceBrowser := logIn(t, srv.URL, "alice", "correct horse battery")
	out := c.ok("", "users", "show", "alice")
	for _, want := range []string{"username:", "alice", "a@example.com", "roles:", "admin", "state:", "active", "sessions:", "1", "API tokens:"} {
		if !strings.Contains(out, want) {
			t.Errorf("users show alice does not say %q:\n%s", want, out)
		}
	}
	var shown struct {
		ID, Username, Email string
		Roles               []string
		Disabled            bool
		Sessions            *int
		APITokens           *int `json:"api_tokens"`
		PasswordHash        *string
	}
	if err := json.Unmarshal([]byte(c.ok("", "users", "show", "alice", "-o", "json")), &shown); err != nil {
		t.Fatalf("users show -o json: %v", err)
	}
	if shown.Username != "alice" || shown.Email != "a@example.com" || !slices.Equal(shown.Roles, []string{"admin"}) || shown.APITokens == nil || *shown.APITokens != 0 || shown.Sessions == nil || *shown.Sessions != 1 || shown.PasswordHash != nil {
		t.Errorf("users show -o json = %+v, want alice, a@example.com, [admin], 1 session, 0 API tokens, no hash", shown)
	}
	if msg, _ := c.fails("", "users", "show", "nobody"); msg != `no user named "nobody"` {
		t.Errorf("users show nobody: %q", msg)
	}

	// list as JSON, whole and by pages.
	var all []struct{ ID, Username string }
	if err := json.Unmarshal([]byte(c.ok("", "users", "list", "-o", "json")), &all); err != nil || len(all) != 3 || all[0].Username != "alice" || all[2].Username != "carol" {
		t.Fatalf("users list -o json = %+v, %v; want alice, bob, carol", all, err)
	}
	out, stderr, err := c.exec("", "users", "list", "--limit", "2")
	if err != nil || strings.Count(out, "\n") != 3 || strings.Contains(out, "carol") || !strings.Contains(stderr, "--after "+all[1].ID) {
		t.Errorf("users list --limit 2: %v, stdout\n%s\nstderr %q; want alice and bob, and how to ask for the next page", err, out, stderr)
	}
	var page []struct{ Username string }
	if err := json.Unmarshal([]byte(c.ok("", "users", "list", "--after", all[1].ID, "-o", "json")), &page); err != nil || len(page) != 1 || page[0].Username != "carol" {
		t.Errorf("users list --after %s -o json = %+v, %v; want carol", all[1].ID, page, err)
	}
	if out := c.ok("", "users", "list", "--after", all[2].ID, "-o", "json"); out != "[]\n" {
		t.Errorf("users list past the end -o json = %q, want []", out)
	}

	// Disabling or enabling twice says so.
	c.ok("", "users", "disable", "carol")
	if out := c.ok("", "users", "disable", "carol"); out != "carol is already disabled; nothing changed\n" {
		t.Errorf("users disable of a disabled user printed %q", out)
	}
	if out := c.ok("", "users", "enable", "bob"); out != "bob is already active; nothing changed\n" {
		t.Errorf("users enable of an active user printed %q", out)
	}

	// set-password: the policy applies; the new password works, the old
	// one and the sessions end.
	if msg, _ := c.fails("short\n", "users", "set-password", "alice", "--password-stdin"); !strings.Contains(msg, "at least 8 characters") {
		t.Errorf("users set-password with a short password: %q", msg)
	}
	if out := c.ok("a brand new passphrase\n", "users", "set-password", "alice", "--password-stdin"); !strings.HasPrefix(out, "set the password of alice") {
		t.Errorf("users set-password printed %q", out)
	}
	wantLoggedOut(t, aliceBrowser, srv.URL, "alice's browser after users set-password")
	b := newBrowser(t)
	if r := b.form(srv.URL, "/login", "/login", url.Values{"username": {"alice"}, "password": {"correct horse battery"}}); r.Code != http.StatusUnauthorized {
		t.Errorf("alice logs in with her old password after set-password: %d, want 401", r.Code)
	}
	logIn(t, srv.URL, "alice", "a brand new passphrase")

	// delete: sessions, remember-me and API tokens end; the name is free.
	bobs := logIn(t, srv.URL, "bob", "another fine passphrase")
	phone := newBrowser(t)
	if r := phone.form(srv.URL, "/login", "/login", url.Values{"username": {"bob"}, "password": {"another fine passphrase"}, "remember": {"on"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("log in with remember me: %d", r.Code)
	}
	bob, err := c.accounts().UserByUsername(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	tokens := &apitoken.Service{Store: c.accounts().(account.TokenStore)}
	secret, _, err := tokens.Create(ctx, bob.ID, "ci", []string{apitoken.ScopeRead}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := newBrowser(t).do("GET", srv.URL+"/api/me", nil, "Authorization", "Bearer "+secret); r.Code != http.StatusOK {
		t.Fatalf("bob's API token before delete: %d, want 200", r.Code)
	}
	if out := c.ok("", "users", "delete", "bob"); out != "deleted bob; their sessions, remember-me and API tokens have ended\n" {
		t.Errorf("users delete bob printed %q", out)
	}
	wantLoggedOut(t, bobs, srv.URL, "bob's browser after users delete")
	wantLoggedOut(t, phone, srv.URL, "bob's phone (with a remember-me cookie) after users delete")
	if r := newBrowser(t).do("GET", srv.URL+"/api/me", nil, "Authorization", "Bearer "+secret); r.Code != http.StatusUnauthorized {
		t.Errorf("bob's API token after delete: %d, want 401", r.Code)
	}
	if c.listed("bob") != nil {
		t.Errorf("users list still lists bob after users delete")
	}
	if msg, _ := c.fails("", "users", "delete", "bob"); msg != `no user named "bob"` {
		t.Errorf("users delete of a deleted user: %q", msg)
	}
	c.ok("another fine passphrase", "users", "add", "bob", "--email", "new-bob@example.com", "--password-stdin")
	if row := c.listed("bob"); row == nil || row[0] == bob.ID {
		t.Errorf("the new bob's row = %q; want a new user with a new ID", row)
	}
}

// sessions list escapes what a User-Agent could do to a terminal; sessions
// revoke --id ends the one session whose ID sessions list prints; -o json
// gives the sessions as one JSON document.
func TestCLISessionsEscapeAndRevokeByID(t *testing.T) {
	c := newCLI(t)
	c.ok("correct horse battery", "users", "add", "alice", "--email", "a@example.com", "--password-stdin")
	alice, err := c.accounts().UserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	// A client cannot send ESC in a header through net/http, but any raw
	// client can: store such a session directly.
	db := c.db()
	evil := "Moz\x1b]0;pwned\x07\x1b[2J\u202etxt\u0085\u2066\u009b31m\\\xff"
	now := time.Now()
	id := session.IDOf([]byte("a session token"))
	if err := db.Sessions().Create(context.Background(), id, &session.Record{UserID: alice.ID, CreatedAt: now, LastSeen: now,
		Expiry: now.Add(time.Hour), IP: "203.0.113.7\x1b[1m", UserAgent: evil}); err != nil {
		t.Fatal(err)
	}
	srv, logs := c.serveLogged()
	other := logIn(t, srv.URL, "alice", "correct horse battery")

	out := c.ok("", "sessions", "list")
	if strings.ContainsAny(out, "\x1b\x07\u202e\u0085\u2066\u009b") || !utf8.ValidString(out) {
		t.Errorf("sessions list printed raw control or bidi characters: %q", out)
	}
	for _, want := range []string{`Moz\x1b]0;pwned\a\x1b[2J\u202etxt\u0085\u2066\u009b31m\\\xff`, `203.0.113.7\x1b[1m`} {
		if !strings.Contains(out, want) {
			t.Errorf("sessions list does not show %q escaped:\n%s", want, out)
		}
	}

	var list []struct{ ID, User, UserAgent string }
	if err := json.Unmarshal([]byte(c.ok("", "sessions", "list", "--user", "alice", "-o", "json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("sessions list -o json = %+v, %v; want alice's 2 sessions", list, err)
	}

	short := id[:12]
	if !strings.Contains(out, short) {
		t.Fatalf("sessions list does not print the session ID %s:\n%s", short, out)
	}
	if out := c.ok("", "sessions", "revoke", "--id", short); out != "ended session "+short+" of alice\n" {
		t.Errorf("sessions revoke --id printed %q", out)
	}
	if out := c.ok("", "sessions", "list"); strings.Contains(out, short) || strings.Count(out, "\nalice ") != 1 {
		t.Errorf("after sessions revoke --id %s, sessions list shows:\n%s\nwant only the other session", short, out)
	}
	if r := other.do("GET", srv.URL+"/dashboard", nil); r.Code != http.StatusOK {
		t.Errorf("alice's other session after revoking one by ID: %d, want 200", r.Code)
	}
	if msg, _ := c.fails("", "sessions", "revoke", "--id", short); !strings.Contains(msg, "no live session with ID "+short) {
		t.Errorf("sessions revoke of an ended session: %q", msg)
	}

	// The other session, found by the session= of its login's audit line,
	// which sessions list prints as its LOG ID.
	var left []struct {
		ID    string
		LogID string `json:"log_id"`
	}
	if err := json.Unmarshal([]byte(c.ok("", "sessions", "list", "-o", "json")), &left); err != nil || len(left) != 1 {
		t.Fatalf("sessions list -o json = %+v, %v; want alice's other session", left, err)
	}
	logID := left[0].LogID
	if !strings.Contains(logs.String(), "session="+logID) || !strings.Contains(c.ok("", "sessions", "list"), " "+logID+" ") {
		t.Fatalf("log ID %q: not in the login's audit line or not in sessions list:\n%s", logID, logs)
	}
	if out := c.ok("", "sessions", "revoke", "--id", logID); out != "ended session "+left[0].ID[:12]+" of alice\n" {
		t.Errorf("sessions revoke --id %s (a log ID) printed %q", logID, out)
	}
	wantLoggedOut(t, other, srv.URL, "alice's other session after revoking it by its log ID")
	if out := c.ok("", "sessions", "revoke", "--user", "alice"); out != "ended 0 sessions and 0 remember-me tokens of alice\n" {
		t.Errorf("sessions revoke --user printed %q, want none left", out)
	}
}

func TestEscapeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Mozilla/5.0 (X11; Linux) Firefox/128.0", "Mozilla/5.0 (X11; Linux) Firefox/128.0"},
		{"日本語 🔐 é", "日本語 🔐 é"},
		{"\x1b[31mred", `\x1b[31mred`},
		{"a\u0085b", `a\u0085b`},
		{"\u202eevil", `\u202eevil`},
		{"\u2066\u2069\u200f\u061c", `\u2066\u2069\u200f\u061c`},
		{"tab\tnl\n\x7f", `tab\tnl\n\x7f`},
		{"line\u2028sep", `line\u2028sep`},
		{`back\slash`, `back\\slash`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"\uFFFD kept", "\uFFFD kept"},
	} {
		if got := escapeText(tc.in); got != tc.want {
			t.Errorf("escapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// CLI actions are audit-logged like the web admin's, with actor cli and
// the operator's OS user, at the configured level.
func TestCLIAudit(t *testing.T) {
	c := newCLI(t)
	c.ok("correct horse battery", "users", "add", "alice", "--email", "a@example.com", "--password-stdin")
	for _, tc := range []struct {
		stdin string
		args  []string
		event string
	}{
		{"", []string{"users", "disable", "alice"}, "user.disable"},
		{"", []string{"users", "enable", "alice"}, "user.enable"},
		{"", []string{"users", "set-role", "alice", "editor"}, "user.roles"},
		{"a brand new passphrase\n", []string{"users", "set-password", "alice", "--password-stdin"}, "password.change"},
		{"", []string{"sessions", "revoke", "--user", "alice"}, "session.revoke"},
		{"another fine passphrase\n", []string{"users", "add", "bob", "--email", "b@example.com", "--password-stdin"}, "user.create"},
		{"", []string{"users", "delete", "alice"}, "user.delete"},
	} {
		_, stderr, err := c.exec(tc.stdin, tc.args...)
		if err != nil {
			t.Fatalf("hallpass %s: %v", strings.Join(tc.args, " "), err)
		}
		if !strings.Contains(stderr, "msg="+tc.event+" ") || !strings.Contains(stderr, "audit=true") ||
			!strings.Contains(stderr, "actor=cli") || !strings.Contains(stderr, "os_user=") {
			t.Errorf("hallpass %s logged %q; want one %s audit record with actor=cli and os_user", strings.Join(tc.args, " "), stderr, tc.event)
		}
		if strings.Contains(stderr, "passphrase") {
			t.Errorf("hallpass %s logged the password: %q", strings.Join(tc.args, " "), stderr)
		}
	}
	c.env["HALLPASS_LOG_LEVEL"] = "warn"
	if _, stderr, err := c.exec("", "users", "disable", "bob"); err != nil || stderr != "" {
		t.Errorf("users disable with HALLPASS_LOG_LEVEL=warn: %v, stderr %q; want no info records", err, stderr)
	}
}

// A PostgreSQL that takes connections but never answers (a stopped
// server behind a proxy) fails a command within the store timeout, with
// an error that says so, rather than after the migrations' 30 s with
// "migrate: context deadline exceeded".
func TestCLISilentPostgres(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var held []net.Conn // accepted, never answered
	var mu sync.Mutex
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	c := newCLI(t)
	c.env["HALLPASS_DATABASE_URL"] = "postgres://hallpass@" + ln.Addr().String() + "/hallpass?sslmode=disable"
	c.env["HALLPASS_STORE_TIMEOUT"] = "300ms"
	_, _, err = c.exec("", "users", "list")
	if err == nil || !strings.Contains(err.Error(), "does not answer within 300ms (HALLPASS_STORE_TIMEOUT)") {
		t.Errorf("users list with a silent PostgreSQL: %v; want an error saying it does not answer within the store timeout", err)
	}
}

// The pool's settings in HALLPASS_DATABASE_URL (pool_max_conns, which the
// README suggests) are the pool's, not the server's: the start-up check
// connected with them as server settings, and PostgreSQL refused.
func TestCLIPostgresPoolSettings(t *testing.T) {
	pg := os.Getenv("HALLPASS_TEST_POSTGRES_URL")
	if pg == "" {
		t.Skip("HALLPASS_TEST_POSTGRES_URL is not set: no PostgreSQL to run against")
	}
	c := newCLI(t)
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	c.env["HALLPASS_DATABASE_URL"] = pg + sep + "pool_max_conns=8"
	if _, stderr, err := c.exec("", "users", "list"); err != nil {
		t.Errorf("users list with pool_max_conns=8 in the URL: %v\n%s", err, stderr)
	}
}
