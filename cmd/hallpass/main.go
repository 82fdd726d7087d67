// Command hallpass is a ready login portal built on the hallpass library:
// register, log in, log out, dashboard, account and admin pages, a JSON API
// for JavaScript clients, and a CLI for operators.
//
// Run it with no arguments, or "hallpass serve", to start the server on the
// embedded SQLite default; "hallpass help" lists the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=..."; by
// default it comes from the module's build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "hallpass:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const helpText = `hallpass: session-based authentication, as a ready login portal

Usage:
  hallpass [serve] [flags]                 start the server (the default)
  hallpass users add NAME --email E [--role ROLE]... [--password-stdin]
  hallpass users list
  hallpass users disable NAME
  hallpass users enable NAME
  hallpass users set-role NAME [ROLE...]   replace the roles (none: no roles)
  hallpass users import FILE [--skip-invalid]
                                           CSV or JSON Lines: username,email,password_hash[,roles]
  hallpass sessions list [--user NAME]
  hallpass sessions revoke --user NAME
  hallpass version
  hallpass help

Every command takes the server's settings as flags or HALLPASS_* variables
(see "hallpass serve --help"), and works on the same data while the server
runs. Each command has --help.
`

// run is the whole program: main only supplies the process's arguments,
// environment and streams, so tests run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return serve(ctx, nil, getenv, stdout, stderr)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "users":
		return usersCmd(ctx, rest, getenv, stdin, stdout, stderr)
	case "sessions":
		return sessionsCmd(ctx, rest, getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "hallpass", versionString())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, helpText)
		return nil
	}
	if len(cmd) > 0 && cmd[0] == '-' {
		return serve(ctx, args, getenv, stdout, stderr) // flags of the default command
	}
	fmt.Fprint(stderr, helpText)
	return &usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// versionString is the version shown by "hallpass version", the start-up
// line and the page footer: the -ldflags value if set, else the module
// version and VCS revision from the build information.
func versionString() string {
	if version != "" {
		return version
	}
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(bi)
}

// newFlagSet returns a flag set that writes its usage to stderr and
// returns errors rather than exiting.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseConfig parses args with the settings' flags (plus extra ones added
// by define) and returns the config.
func parseConfig(name, usage string, args []string, getenv func(string) string, stderr io.Writer, define func(*flag.FlagSet)) (*config, *flag.FlagSet, error) {
	fs := newFlagSet(name, usage, stderr)
	build := registerFlags(fs, getenv)
	if define != nil {
		define(fs)
	}
	if err := fs.Parse(interspersed(fs, args)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		return nil, nil, &usageError{err.Error()}
	}
	cfg, err := build()
	if err != nil {
		return nil, nil, err
	}
	return cfg, fs, nil
}

// interspersed reorders args so flags may follow positional arguments
// ("users add ada --email a@b"): the flag package stops at the first
// non-flag.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := a[1:]
			if len(name) > 0 && name[0] == '-' {
				name = name[1:]
			}
			if strings.IndexByte(name, '=') >= 0 {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(append(flags, "--"), pos...)
}

// serve runs the server until ctx ends (SIGINT or SIGTERM), then drains
// in-flight requests and closes the stores.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseConfig("serve", "hallpass serve [flags]", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	logger := newFormatLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	stopMetrics, err := startMetrics(a, logger)
	if err != nil {
		return err
	}
	defer stopMetrics(context.Background())
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (HALLPASS_ADDR): %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("hallpass stores", a.storeLog...)
	logger.Info("hallpass is running", "open", openURL(cfg, ln.Addr()), "listen", ln.Addr().String(), "version", versionString())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// openURL is the address to print at start-up: the base URL, unless it
// still has the default and the server listens elsewhere.
func openURL(cfg *config, addr net.Addr) string {
	u := *cfg.BaseURL
	if u.String() == "http://localhost:8080" && cfg.Addr != "127.0.0.1:8080" {
		if ta, ok := addr.(*net.TCPAddr); ok {
			host := "localhost"
			if !ta.IP.IsLoopback() && !ta.IP.IsUnspecified() {
				host = ta.IP.String()
			}
			u.Host = net.JoinHostPort(host, fmt.Sprint(ta.Port))
		}
	}
	return u.String() + "/"
}
