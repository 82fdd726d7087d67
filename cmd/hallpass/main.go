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
	"github.com/hallpass/hallpass/internal/gcfloor"
	"github.com/hallpass/hallpass/internal/hashworker"
	"github.com/hallpass/hallpass/internal/logbuf"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
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

// exitCode is 0 after help that was asked for (flag.ErrHelp), 2 for a
// mistake in the command line, and 1 for any other failure.
func exitCode(err error) int {
	var u *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

const helpText = `hallpass: session-based authentication, as a ready login portal

Usage:
  hallpass [serve] [flags]                 start the server (the default)
  hallpass users add NAME --email EMAIL [--role ROLE]... [--password-stdin]
  hallpass users list [--limit N] [--after ID] [-o json]
  hallpass users show NAME [-o json]
  hallpass users disable NAME
  hallpass users enable NAME
  hallpass users set-role NAME [ROLE...]   replace the roles (none: no roles)
  hallpass users set-password NAME [--password-stdin]
  hallpass users send-reset NAME           email a password reset link
  hallpass users reset-2fa NAME            remove TOTP and passkeys, end sessions
  hallpass users delete NAME               ends their sessions and tokens too
  hallpass users unlink NAME PROVIDER      disconnect an OpenID Connect identity
  hallpass users import FILE [--skip-invalid]
                                           CSV or JSON Lines: username,email,password_hash[,roles]
  hallpass sessions list [--user NAME] [-o json]
  hallpass sessions revoke --user NAME | --id ID
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
	case "hash-worker":
		// Hidden: the server runs itself so for its hash workers
		// (HALLPASS_HASH_PROCESSES), which speak a binary protocol on
		// standard input and output.
		return hashworker.Serve(stdin, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "hallpass", versionString())
		return nil
	case "help", "-h", "--help", "-help":
		if len(rest) > 0 && (rest[0] == "users" || rest[0] == "sessions" || rest[0] == "serve") {
			return run(ctx, []string{rest[0], "--help"}, getenv, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, helpText)
		return nil
	}
	if len(cmd) > 0 && cmd[0] == '-' {
		return serve(ctx, args, getenv, stdout, stderr) // flags of the default command
	}
	return &usageError{fmt.Sprintf("unknown command %q; \"hallpass help\" lists the commands", cmd)}
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

// newFlagSet returns a flag set that returns errors rather than exiting
// and prints nothing itself: parseCommand reports errors once and prints
// help to the writer of the command's output. usage and stderr are kept
// for callers of the old signature.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// command describes a command for its --help.
type command struct {
	name  string // "users add"
	short string // what it does, for the list of commands
	args  string // what follows the name in a usage line
	about string // what the command does, one or a few sentences
}

// parseConfig parses args with the settings' flags (plus extra ones added
// by define) and returns the config; help goes to stderr. Commands use
// parseCommand, which prints help to their standard output.
func parseConfig(name, usage string, args []string, getenv func(string) string, stderr io.Writer, define func(*flag.FlagSet)) (*config, *flag.FlagSet, error) {
	return parseCommand(command{name: name, args: strings.TrimPrefix(strings.TrimPrefix(usage, "hallpass "), name)}, args, getenv, stderr, stderr, define)
}

// parseCommand parses the arguments of cmd with the settings' flags (plus
// the command's own, added by define) and returns the config. --help
// prints the command's help to stdout and returns flag.ErrHelp (exit
// status 0); a mistake in the arguments is a *usageError naming it once.
// HALLPASS_* variables of the environment that name no setting are
// reported on stderr, since a misspelt one would otherwise be ignored
// without a word.
func parseCommand(cmd command, args []string, getenv func(string) string, stdout, stderr io.Writer, define func(*flag.FlagSet)) (*config, *flag.FlagSet, error) {
	fs := newFlagSet(cmd.name, cmd.args, stderr)
	build := registerFlags(fs, getenv)
	if define != nil {
		define(fs)
	}
	ordered, err := interspersed(fs, args)
	if err == nil {
		err = fs.Parse(ordered)
	}
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, cmd, fs)
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, &usageError{fmt.Sprintf("%s: %v (see \"hallpass %s --help\")", cmd.name, err, cmd.name)}
	}
	for _, name := range unknownVariables(os.Environ()) {
		fmt.Fprintf(stderr, "hallpass: warning: %s is not a hallpass setting and is ignored (\"hallpass serve --help\" lists them)\n", name)
	}
	cfg, err := build()
	if err != nil {
		return nil, nil, err
	}
	return cfg, fs, nil
}

// unknownVariables returns the names of the HALLPASS_* variables in
// environ (as os.Environ gives it) that no setting reads. HALLPASS_TEST_*
// belong to the test suite; HALLPASS_OIDC_<ID>_* belong to the
// OpenID Connect providers that HALLPASS_OIDC_PROVIDERS lists.
func unknownVariables(environ []string) []string {
	known := map[string]bool{"HALLPASS_OIDC_PROVIDERS": true}
	for _, kv := range environ {
		if list, ok := strings.CutPrefix(kv, "HALLPASS_OIDC_PROVIDERS="); ok {
			for _, id := range strings.Split(list, ",") {
				prefix := "HALLPASS_OIDC_" + strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(id), "-", "_")) + "_"
				for _, v := range oidcVariables {
					known[prefix+v] = true
				}
			}
		}
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "HALLPASS_") || strings.HasPrefix(name, "HALLPASS_TEST_") || known[name] {
			continue
		}
		if !slices.ContainsFunc(settings, func(s setting) bool { return s.env == name }) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// printHelp prints cmd's usage, its own flags and, for serve, the
// settings; other commands name the settings and point to serve --help.
func printHelp(w io.Writer, cmd command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: hallpass %s%s\n", cmd.name, cmd.args)
	if cmd.about != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.about)
	}
	isSetting := map[string]*setting{}
	for i := range settings {
		isSetting[settings[i].flag] = &settings[i]
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	own := 0
	fs.VisitAll(func(f *flag.Flag) {
		if isSetting[f.Name] != nil {
			return
		}
		if own == 0 {
			fmt.Fprintln(tw, "\nFlags:")
		}
		own++
		meta, usage := flag.UnquoteUsage(f)
		if _, ok := f.Value.(interface{ IsBoolFlag() bool }); ok {
			meta = ""
		} else if meta == "string" || meta == "value" {
			meta = "VALUE"
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(flagName(f.Name)+" "+meta), usage)
	})
	if cmd.name != "serve" {
		tw.Flush()
		fmt.Fprintf(w, "\nThe server's settings apply too, as flags or variables (--data DIR or\n"+
			"HALLPASS_DATA, --database-url URL or HALLPASS_DATABASE_URL, ...): see\n\"hallpass serve --help\".\n")
		return
	}
	fmt.Fprintln(tw, "\nSettings (a flag wins over its variable):")
	for _, s := range settings {
		def := ""
		if s.def != "" {
			def = fmt.Sprintf(" (default %s)", s.def)
		}
		fmt.Fprintf(tw, "  --%s %s\t%s\t%s%s\n", s.flag, settingMeta(s), s.env, s.usage, def)
	}
	tw.Flush()
	fmt.Fprint(w, "\nSign in with OpenID Connect (variables only): HALLPASS_OIDC_PROVIDERS lists\n"+
		"provider IDs (google,corp); for each, with the ID upper-cased and - as _:\n"+
		"HALLPASS_OIDC_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET (required), _LABEL,\n"+
		"_SCOPES (default \"openid email profile\"), _SIGNUP (default true). The\n"+
		"redirect URI is HALLPASS_BASE_URL/login/oidc/<ID>/callback.\n")
}

// flagName spells a flag as the README does: --name, or -o for one letter.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// settingMeta names the kind of value a setting takes, from its default.
func settingMeta(s setting) string {
	switch {
	case strings.HasSuffix(s.flag, "addr"):
		return "HOST:PORT"
	case strings.HasSuffix(s.flag, "-url") || strings.HasSuffix(s.flag, "-store"):
		return "URL"
	case strings.HasSuffix(s.flag, "s") && s.def == "":
		return "LIST"
	}
	if _, err := strconv.Atoi(s.def); err == nil {
		return "N" // before DURATION: "0" parses as both
	}
	if _, err := time.ParseDuration(s.def); err == nil {
		return "DURATION"
	}
	if s.flag == "data" {
		return "DIR"
	}
	return "VALUE"
}

// interspersed reorders args so flags may follow positional arguments
// ("users add ada --email a@b"): the flag package stops at the first
// non-flag. A flag that needs a value must get one: at the end of the
// line, or followed by another of the command's flags ("--email
// --password-stdin"), it is an error rather than taking "--" or that flag
// as its value. Unknown flags are errors too.
func interspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, hasValue := flagOf(a)
		if name == "h" || name == "help" {
			return nil, flag.ErrHelp
		}
		f := fs.Lookup(name)
		if f == nil {
			return nil, fmt.Errorf("unknown flag %s", flagName(name))
		}
		flags = append(flags, a)
		if hasValue {
			continue
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 == len(args) {
			return nil, fmt.Errorf("%s needs a value", flagName(name))
		}
		if next, _ := flagOf(args[i+1]); next != "" && (args[i+1] == "--" || fs.Lookup(next) != nil || next == "h" || next == "help") {
			return nil, fmt.Errorf("%s needs a value, but %s follows it", flagName(name), args[i+1])
		}
		flags = append(flags, args[i+1])
		i++
	}
	return append(append(flags, "--"), pos...), nil
}

// flagOf returns the name of the flag arg spells (-name, --name,
// --name=value) and whether it carries its value, or "" for no flag.
func flagOf(arg string) (name string, hasValue bool) {
	if len(arg) < 2 || arg[0] != '-' {
		return "", false
	}
	name = strings.TrimPrefix(arg[1:], "-")
	if name == "" {
		return "-", false // "--"
	}
	name, _, hasValue = strings.Cut(name, "=")
	return name, hasValue
}

// serve runs the server until ctx ends (SIGINT or SIGTERM), then drains
// in-flight requests and closes the stores.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, fs, err := parseCommand(command{name: "serve", short: "start the server", args: " [flags]",
		about: "Starts the server: the login portal, its JSON API and the admin pages."}, args, getenv, stdout, stderr, nil)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	// The access log is written in batches, within 50 ms (a write per
	// line costs a busy server a few percent of its CPU); other lines at
	// once.
	logOut := logbuf.New(stderr, 0, 0)
	defer logOut.Close()
	logger := newFormatLogger(logOut, cfg.LogLevel, cfg.LogFormat)
	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	defer startGCFloor(cfg, logger, os.DirFS("/"))()
	a.startHashWorkers(logger, stderr)
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
	if msg, args := a.mailSummary(); args == nil {
		logger.Warn(msg)
	} else {
		logger.Info(msg, args...)
	}
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

// startGCFloor keeps the collector's heap goal at HALLPASS_GC_MIN_HEAP or
// more (internal/gcfloor), unless the GOGC variable chose the collector's
// pace, and logs which. In a control group with a memory limit (a
// container; root is the file system's root) the floor is at most a
// quarter of that limit. It returns the function that stops it.
func startGCFloor(cfg *config, logger *slog.Logger, root fs.FS) (stop func()) {
	switch gogc, set := os.LookupEnv("GOGC"); {
	case set:
		logger.Info("garbage collector: GOGC is set, HALLPASS_GC_MIN_HEAP is not applied", "GOGC", gogc)
		return func() {}
	case cfg.GCMinHeap == 0:
		return func() {}
	}
	floor, args := cfg.GCMinHeap, []any{"min_heap_mib", cfg.GCMinHeap >> 20}
	if limit, ok := gcfloor.ContainerLimit(root); ok && gcfloor.ForLimit(floor, limit) < floor {
		floor = gcfloor.ForLimit(floor, limit)
		args = []any{"min_heap_mib", floor >> 20, "container_limit_mib", limit >> 20,
			"note", "HALLPASS_GC_MIN_HEAP lowered to a quarter of the container's memory limit"}
	}
	logger.Info("garbage collector", args...)
	return gcfloor.Start(floor)
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
