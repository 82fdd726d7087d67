package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/mail"
	"github.com/hallpass/hallpass/oidc"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/twofa"
)

// cliActor is the actor of the audit events of CLI commands; the
// operator's OS user is logged beside it as os_user.
const cliActor = "cli"

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// cliEnv is what every command is given: its arguments and the process's
// environment and streams.
type cliEnv struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// Operands of a command, for openCLI: none, any number, or one thing.
const (
	noOperands  = ""
	anyOperands = "*"
)

// openCLI parses the command's flags, checks that the command has the
// operands it wants (noOperands, anyOperands, or exactly one, described
// like "one username"), and opens the app without serving.
func openCLI(ctx context.Context, cmd command, args []string, env cliEnv, operands string, define func(*flag.FlagSet)) (*app, *flag.FlagSet, error) {
	cfg, fs, err := parseCommand(cmd, args, env.getenv, env.stdout, env.stderr, define)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case operands == noOperands && fs.NArg() > 0:
		return nil, nil, &usageError{cmd.name + " takes no arguments"}
	case operands != noOperands && operands != anyOperands && fs.NArg() != 1:
		return nil, nil, &usageError{fmt.Sprintf("%s: want exactly %s (usage: hallpass %s%s)", cmd.name, operands, cmd.name, cmd.args)}
	}
	if err := checkDataDir(cmd, cfg, env.stderr); err != nil {
		return nil, nil, err
	}
	// Commands do not sign anyone in: no provider discovery, no passkey
	// relying party.
	cfg.OIDC = nil
	cfg.command = true
	a, err := openApp(ctx, cfg, cliLogger(env.stderr, cfg.LogLevel))
	if err != nil {
		return nil, nil, err
	}
	return a, fs, nil
}

// checkDataDir stops a command that would work on a data directory that
// does not exist: it was most likely run without the server's
// HALLPASS_DATA (or with a misspelt one), and would otherwise create an
// empty directory with a secret key of its own, then report that the
// server's users do not exist. Only the commands that add users go on,
// to set up a server before its first start, and say where they put the
// data.
func checkDataDir(cmd command, cfg *config, stderr io.Writer) error {
	uses := len(cfg.SecretKeys) == 0 || cfg.DatabaseURL == "" || cfg.SessionStore == "sqlite"
	if !uses {
		return nil
	}
	if _, err := os.Stat(cfg.Data); !errors.Is(err, fs.ErrNotExist) {
		return nil // there, or an error openApp reports with its cause
	}
	if cmd.name == "users add" || cmd.name == "users import" {
		fmt.Fprintf(stderr, "hallpass: created the data directory %s (HALLPASS_DATA); start the server with the same one\n", cfg.Data)
		return nil
	}
	return fmt.Errorf("no data directory at %s (HALLPASS_DATA): set HALLPASS_DATA or --data to the server's, as commands work on its data", cfg.Data)
}

// cliLogger returns the logger of a command: audit events at the
// configured level, like the server's, and everything else only from
// warnings up, so the output of a command is not buried in store logs.
// Every record names the operator's OS user.
func cliLogger(w io.Writer, level slog.Level) *slog.Logger {
	h := &cliHandler{Handler: newLogger(w, level).Handler(), level: level}
	return slog.New(h).With("os_user", osUser())
}

// osUser names the operator running the command, for the audit log.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return name
	}
	return "unknown"
}

// cliHandler passes records of a logger marked audit=true (as
// audit.New marks it) at level, and others from max(level, warn).
type cliHandler struct {
	slog.Handler
	level slog.Level
	audit bool
}

// Enabled reports whether a record at l is logged.
func (h *cliHandler) Enabled(ctx context.Context, l slog.Level) bool {
	min := max(h.level, slog.LevelWarn)
	if h.audit {
		min = h.level
	}
	return l >= min && h.Handler.Enabled(ctx, l)
}

// WithAttrs notes audit=true.
func (h *cliHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithAttrs(attrs)
	for _, a := range attrs {
		if a.Key == "audit" && a.Value.Kind() == slog.KindBool && a.Value.Bool() {
			c.audit = true
		}
	}
	return &c
}

// WithGroup keeps the level rule.
func (h *cliHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithGroup(name)
	return &c
}

// auditLog records an event of a CLI command, with cliActor.
func auditLog(ctx context.Context, a *app, e audit.Event) {
	e.Actor = cliActor
	audit.New(a.log).Record(ctx, e)
}

// subcommands are the commands of "users" and "sessions", for their help.
var subcommands = map[string][]command{
	"users": {
		{"users add", "add a user", " NAME --email EMAIL [--role ROLE]... [--password-stdin]", "Adds a user. The password is asked for twice on a terminal, or read from the first line of standard input with --password-stdin."},
		{"users list", "list the users, a page at a time", " [--limit N] [--after ID] [-o json]", "Lists the users in the order they were created, a page at a time from the store, so any number of users can be listed."},
		{"users show", "show one user", " NAME [-o json]", "Shows one user: email, roles, state, dates, and how many sessions and API tokens they have."},
		{"users disable", "disable a user and end their sessions and tokens", " NAME", "Disables a user: their sessions, remember-me and API tokens end at once, and their password is refused until they are enabled."},
		{"users enable", "enable a user", " NAME", "Enables a disabled user."},
		{"users set-role", "replace a user's roles", " NAME [ROLE...]", "Replaces a user's roles (no ROLE: none); their sessions see the change on their next request."},
		{"users set-password", "set a user's password and end their sessions and tokens", " NAME [--password-stdin]", "Sets a user's password, as a reset does: every session, remember-me and API token of the user ends."},
		{"users send-reset", "email a user a password reset link", " NAME", "Emails the user a link to choose a new password (valid HALLPASS_RESET_FOR), through HALLPASS_SMTP_URL, or to the log with the development mailer. Nothing changes until the link is used."},
		{"users reset-2fa", "remove a user's second factor", " NAME", "Removes the user's second factors (TOTP with its recovery codes, and passkeys), for a user who lost them, and ends their sessions; they log in with the password alone until they enrol again. Audited."},
		{"users delete", "delete a user, their sessions and tokens", " NAME", "Deletes a user for good, ending their sessions, remember-me and API tokens first. The username becomes free."},
		{"users unlink", "disconnect a user's identity at an OpenID Connect provider", " NAME PROVIDER", "Disconnects the user's identities at the provider (its ID, as in HALLPASS_OIDC_PROVIDERS), so signing in there no longer reaches this account. Unlike the account page, it does so even when the account is left without a password: the user can then get in only by a password reset."},
		{"users import", "import users from CSV or JSON Lines", " FILE [--skip-invalid]", importAbout},
	},
	"sessions": {
		{"sessions list", "list live sessions", " [--user NAME] [-o json]", "Lists the live sessions of one user or of everyone. User agents are printed with control and bidi characters escaped (\\x1b, \\u202e)."},
		{"sessions revoke", "end a user's sessions, or one session", " --user NAME | --id ID", "Ends every session and remember-me token of a user (--user), or one session by the ID that \"sessions list\" prints (--id)."},
	},
}

// commandNamed returns the command "group sub".
func commandNamed(group, sub string) command {
	for _, c := range subcommands[group] {
		if c.name == group+" "+sub {
			return c
		}
	}
	return command{name: group + " " + sub, short: sub}
}

// groupHelp prints the subcommands of group.
func groupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: hallpass %s COMMAND [flags]\n\nCommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, c := range subcommands[group] {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimPrefix(c.name, group+" "), c.short)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n\"hallpass %s COMMAND --help\" shows a command's flags.\n", group)
}

// dispatch runs the subcommand of group named by args[0].
func dispatch(ctx context.Context, group string, args []string, env cliEnv, run map[string]func(context.Context, command, []string, cliEnv) error) error {
	var names []string
	for _, c := range subcommands[group] {
		names = append(names, strings.TrimPrefix(c.name, group+" "))
	}
	if len(args) == 0 {
		return &usageError{fmt.Sprintf("%s: which command? (%s; see \"hallpass %s --help\")", group, strings.Join(names, ", "), group)}
	}
	switch args[0] {
	case "help", "--help", "-help", "-h":
		groupHelp(env.stdout, group)
		return flag.ErrHelp
	}
	sub := args[0]
	if sub == "set-roles" {
		sub = "set-role"
	}
	fn, ok := run[sub]
	if !ok {
		return &usageError{fmt.Sprintf("%s: unknown command %q (%s)", group, args[0], strings.Join(names, ", "))}
	}
	return fn(ctx, commandNamed(group, sub), args[1:], env)
}

func usersCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "users", args, cliEnv{getenv, stdin, stdout, stderr}, map[string]func(context.Context, command, []string, cliEnv) error{
		"add":          usersAdd,
		"list":         usersList,
		"show":         usersShow,
		"disable":      usersSetDisabled,
		"enable":       usersSetDisabled,
		"set-role":     usersSetRoles,
		"set-password": usersSetPassword,
		"send-reset":   usersSendReset,
		"reset-2fa":    usersReset2FA,
		"delete":       usersDelete,
		"unlink":       usersUnlink,
		"import":       usersImport,
	})
}

func sessionsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "sessions", args, cliEnv{getenv, nil, stdout, stderr}, map[string]func(context.Context, command, []string, cliEnv) error{
		"list":   sessionsList,
		"revoke": sessionsRevoke,
	})
}

// plural returns "1 user" or "n users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// outputFormat is the value of -o: "text" (the default) or "json".
type outputFormat string

// String returns the format.
func (o *outputFormat) String() string { return string(*o) }

// Set accepts text or json.
func (o *outputFormat) Set(v string) error {
	if v != "text" && v != "json" {
		return errors.New("want text or json")
	}
	*o = outputFormat(v)
	return nil
}

// outputFlag adds -o FORMAT to fs.
func outputFlag(fs *flag.FlagSet, format *outputFormat) {
	*format = "text"
	fs.Var(format, "o", "output `FORMAT`: text, or json (one JSON document)")
}

func usersAdd(ctx context.Context, cmd command, args []string, env cliEnv) error {
	var email string
	var roles stringList
	var fromStdin bool
	a, fs, err := openCLI(ctx, cmd, args, env, "one username", func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the user's email `ADDRESS` (required)")
		fs.Var(&roles, "role", "a `ROLE` to grant, e.g. admin (repeatable)")
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	})
	if err != nil {
		return err
	}
	defer a.close()
	// The fields before the password: a typo in them is found before the
	// operator types a password twice (Register checks them again).
	var fields account.FieldErrors
	fields.Add(account.ValidateUsername(fs.Arg(0)))
	fields.Add(account.ValidateEmail(email))
	if err := fields.Err(); err != nil {
		return describe(err)
	}
	pw, err := readPassword(env.stdin, env.stderr, fromStdin)
	if err != nil {
		return err
	}
	u, err := a.login.Register(ctx, fs.Arg(0), email, pw, roles...)
	if err != nil {
		return describe(err)
	}
	auditLog(ctx, a, audit.Event{Name: audit.UserCreate, UserID: u.ID, Reason: strings.Join(u.Roles, ",")})
	fmt.Fprintf(env.stdout, "added user %s (id %s)\n", u.Username, u.ID)
	return nil
}

// readPassword reads a password from the first line of stdin, or prompts
// for it twice without echo when stdin is a terminal.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("no password on standard input")
		}
		return line, nil
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", &usageError{"standard input is not a terminal: pass --password-stdin and pipe the password in"}
	}
	fmt.Fprint(stderr, "Password: ")
	p1, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	fmt.Fprint(stderr, "Again: ")
	p2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if string(p1) != string(p2) {
		return "", errors.New("the passwords do not match")
	}
	return string(p1), nil
}

// describe turns a library error into a message for an operator.
func describe(err error) error {
	var fe account.FieldErrors
	var f *account.FieldError
	switch {
	case errors.As(err, &fe):
		return errors.New(strings.ToLower(fe.Error()[:1]) + fe.Error()[1:])
	case errors.As(err, &f):
		return errors.New(f.Message)
	case errors.Is(err, account.ErrUsernameTaken):
		return errors.New("that username is taken")
	case errors.Is(err, account.ErrNotFound):
		return errors.New("no such user")
	case errors.Is(err, session.ErrNotSupported):
		return errors.New("the session store cannot list sessions by user")
	}
	return err
}

// userJSON is a user in -o json output: never the password hash.
type userJSON struct {
	ID                string         `json:"id"`
	Username          string         `json:"username"`
	Email             string         `json:"email"`
	Roles             []string       `json:"roles"`
	Disabled          bool           `json:"disabled"`
	CreatedAt         time.Time      `json:"created_at"`
	PasswordChangedAt time.Time      `json:"password_changed_at"`
	EmailVerified     bool           `json:"email_verified"`
	SecondFactor      bool           `json:"second_factor"`
	Sessions          *int           `json:"sessions,omitempty"`   // users show only; absent when the store cannot count
	APITokens         *int           `json:"api_tokens,omitempty"` // users show only
	Identities        []identityJSON `json:"identities"`
}

// identityJSON is a linked OpenID Connect identity as the CLI prints it.
type identityJSON struct {
	Provider string    `json:"provider"`
	Issuer   string    `json:"issuer"`
	Email    string    `json:"email"`
	Since    time.Time `json:"since"`
	LastUsed time.Time `json:"last_used"`
}

// identitiesOf returns the user's linked identities.
func identitiesOf(ctx context.Context, a *app, userID string) ([]identityJSON, error) {
	list, err := a.identities.IdentitiesByUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []identityJSON{}
	for _, l := range list {
		out = append(out, identityJSON{Provider: l.Provider, Issuer: l.Issuer, Email: l.Email, Since: l.CreatedAt.UTC(), LastUsed: l.LastUsedAt.UTC()})
	}
	return out, nil
}

// providerList returns the providers of ids, comma-separated, or "-".
func providerList(ids []identityJSON) string {
	var names []string
	for _, id := range ids {
		if !slices.Contains(names, id.Provider) {
			names = append(names, id.Provider)
		}
	}
	if len(names) == 0 {
		return "-"
	}
	return escapeText(strings.Join(names, ","))
}

func toJSON(u *account.User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userJSON{ID: u.ID, Username: u.Username, Email: u.Email, Roles: roles, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt.UTC(), PasswordChangedAt: u.PasswordChangedAt.UTC()}
}

// jsonArray writes a JSON array one element at a time, so a list of any
// length streams.
type jsonArray struct {
	w io.Writer
	n int
}

func (j *jsonArray) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.n == 0 {
		sep = "[\n  "
	}
	j.n++
	_, err = fmt.Fprintf(j.w, "%s%s", sep, b)
	return err
}

func (j *jsonArray) close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

// userPage is how many users a command reads from the store at once.
const userPage = 500

// eachUser calls fn for the users after the ID after, a page at a time,
// and stops after limit users (0: all). It returns the ID of the last
// user seen, and whether more users follow it.
func eachUser(ctx context.Context, a *app, after string, limit int, fn func(page []*account.User) error) (last string, more bool, err error) {
	seen := 0
	for {
		n := userPage
		if limit > 0 {
			n = min(n, limit-seen)
		}
		page, err := a.accounts.ListUsers(ctx, account.ListOptions{After: after, Limit: n})
		if errors.Is(err, account.ErrInvalid) {
			return "", false, fmt.Errorf("--after %q is not a user ID of this store", after)
		}
		if err != nil {
			return "", false, err
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return "", false, err
			}
			after = page[len(page)-1].ID
			seen += len(page)
		}
		if len(page) < n {
			return after, false, nil
		}
		if limit > 0 && seen >= limit {
			next, err := a.accounts.ListUsers(ctx, account.ListOptions{After: after, Limit: 1})
			return after, err == nil && len(next) > 0, err
		}
	}
}

func usersList(ctx context.Context, cmd command, args []string, env cliEnv) error {
	var after string
	var format outputFormat
	var limit int
	a, _, err := openCLI(ctx, cmd, args, env, noOperands, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 0, "list at most `N` users (0: all)")
		fs.StringVar(&after, "after", "", "start after the user with this `ID` (the last one of the previous page)")
		outputFlag(fs, &format)
	})
	if err != nil {
		return err
	}
	defer a.close()
	if limit < 0 {
		return &usageError{"users list: --limit must be 0 or more"}
	}
	enrolled, err := a.twofa.Enrolled(ctx)
	if err != nil {
		return err
	}
	var last string
	var more bool
	if format == "json" {
		arr := &jsonArray{w: env.stdout}
		last, more, err = eachUser(ctx, a, after, limit, func(page []*account.User) error {
			for _, u := range page {
				j := toJSON(u)
				if j.EmailVerified, err = a.recovery.Verified(ctx, u); err != nil {
					return err
				}
				if j.Identities, err = identitiesOf(ctx, a, u.ID); err != nil {
					return err
				}
				j.SecondFactor = enrolled[u.ID]
				if err := arr.add(j); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := arr.close(); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tROLES\tSTATE\tVERIFIED\t2FA\tIDENTITIES\tCREATED")
		last, more, err = eachUser(ctx, a, after, limit, func(page []*account.User) error {
			for _, u := range page {
				roles := strings.Join(u.Roles, ",")
				if roles == "" {
					roles = "-"
				}
				verified, err := a.recovery.Verified(ctx, u)
				if err != nil {
					return err
				}
				ids, err := identitiesOf(ctx, a, u.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, escapeText(u.Username), escapeText(u.Email), roles, state(u), yesNo(verified), yesNo(enrolled[u.ID]), providerList(ids), u.CreatedAt.UTC().Format("2006-01-02 15:04"))
			}
			return tw.Flush() // a page at a time: memory stays flat for any number of users
		})
		if err != nil {
			return err
		}
		if err := tw.Flush(); err != nil { // the header, when there are no users
			return err
		}
	}
	if more {
		fmt.Fprintf(env.stderr, "more users follow: hallpass users list --after %s --limit %d\n", last, limit)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func state(u *account.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

// userNamed finds a user by name or fails with a clear message.
func userNamed(ctx context.Context, a *app, name string) (*account.User, error) {
	u, err := a.accounts.UserByUsername(ctx, name)
	if errors.Is(err, account.ErrNotFound) {
		return nil, fmt.Errorf("no user named %q", escapeText(name))
	}
	return u, err
}

// openForUser opens the app for a command whose one argument is a
// username, and finds the user.
func openForUser(ctx context.Context, cmd command, args []string, env cliEnv, define func(*flag.FlagSet)) (*app, *account.User, error) {
	a, fs, err := openCLI(ctx, cmd, args, env, "one username", define)
	if err != nil {
		return nil, nil, err
	}
	u, err := userNamed(ctx, a, fs.Arg(0))
	if err != nil {
		a.close()
		return nil, nil, err
	}
	return a, u, nil
}

func usersShow(ctx context.Context, cmd command, args []string, env cliEnv) error {
	var format outputFormat
	a, u, err := openForUser(ctx, cmd, args, env, func(fs *flag.FlagSet) { outputFlag(fs, &format) })
	if err != nil {
		return err
	}
	defer a.close()
	j := toJSON(u)
	if list, err := a.sessions.ListByUser(ctx, u.ID); err == nil {
		n := len(list)
		j.Sessions = &n
	} else if !errors.Is(err, session.ErrNotSupported) {
		return err
	}
	tokens, err := a.accounts.ListTokens(ctx, u.ID)
	if err != nil {
		return err
	}
	n := len(tokens)
	j.APITokens = &n
	if j.EmailVerified, err = a.recovery.Verified(ctx, u); err != nil {
		return err
	}
	if j.Identities, err = identitiesOf(ctx, a, u.ID); err != nil {
		return err
	}
	st, err := a.twofa.Status(ctx, u.ID)
	if err != nil {
		return err
	}
	j.SecondFactor = st.Enabled
	if format == "json" {
		b, err := json.MarshalIndent(j, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.stdout, "%s\n", b)
		return err
	}
	sessions := "unknown (the session store cannot list by user)"
	if j.Sessions != nil {
		sessions = strconv.Itoa(*j.Sessions)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"id", u.ID},
		{"username", escapeText(u.Username)},
		{"email", escapeText(u.Email)},
		{"email verified", yesNo(j.EmailVerified)},
		{"second factor", yesNo(j.SecondFactor)},
		{"roles", orNone(u.Roles)},
		{"state", state(u)},
		{"created", u.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC")},
		{"password changed", u.PasswordChangedAt.UTC().Format("2006-01-02 15:04:05 UTC")},
		{"sessions", sessions},
		{"API tokens", strconv.Itoa(n)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	if len(j.Identities) == 0 {
		fmt.Fprintf(tw, "identities:\tnone\n")
	}
	for _, id := range j.Identities {
		fmt.Fprintf(tw, "identity:\t%s (%s), since %s, last used %s\n", escapeText(id.Provider), escapeText(id.Email),
			id.Since.Format("2006-01-02 15:04"), id.LastUsed.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func usersSetDisabled(ctx context.Context, cmd command, args []string, env cliEnv) error {
	a, u, err := openForUser(ctx, cmd, args, env, nil)
	if err != nil {
		return err
	}
	defer a.close()
	disable := cmd.name == "users disable"
	if !u.Disabled && !disable {
		fmt.Fprintf(env.stdout, "%s is already %s; nothing changed\n", u.Username, state(u))
		return nil
	}
	if u.Disabled && disable {
		// Disabled already: end what an earlier disable could not.
		n, err := a.login.RevokeUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintf(env.stdout, "%s is already disabled; nothing changed\n", u.Username)
		} else {
			fmt.Fprintf(env.stdout, "%s is already disabled; %d sessions, remember-me and API tokens left over have ended\n", u.Username, n)
		}
		return nil
	}
	if err := a.login.SetDisabled(ctx, cliActor, u.ID, disable); err != nil {
		return err
	}
	if disable {
		fmt.Fprintf(env.stdout, "disabled %s; their sessions, remember-me and API tokens have ended\n", u.Username)
	} else {
		fmt.Fprintf(env.stdout, "enabled %s\n", u.Username)
	}
	return nil
}

func usersSetRoles(ctx context.Context, cmd command, args []string, env cliEnv) error {
	a, fs, err := openCLI(ctx, cmd, args, env, anyOperands, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if fs.NArg() < 1 {
		return &usageError{"users set-role: want a username and the roles (none to remove all)"}
	}
	u, err := userNamed(ctx, a, fs.Arg(0))
	if err != nil {
		return err
	}
	roles := fs.Args()[1:]
	if err := a.login.SetRoles(ctx, cliActor, u.ID, roles); err != nil {
		return describe(err)
	}
	got, err := a.accounts.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%s now has roles: %s\n", u.Username, orNone(got.Roles))
	return nil
}

func orNone(roles []string) string {
	if len(roles) == 0 {
		return "(none)"
	}
	return strings.Join(roles, ", ")
}

func usersSetPassword(ctx context.Context, cmd command, args []string, env cliEnv) error {
	var fromStdin bool
	a, u, err := openForUser(ctx, cmd, args, env, func(fs *flag.FlagSet) {
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	})
	if err != nil {
		return err
	}
	defer a.close()
	pw, err := readPassword(env.stdin, env.stderr, fromStdin)
	if err != nil {
		return err
	}
	if err := a.login.SetPassword(ctx, cliActor, u.ID, pw); err != nil {
		return describe(err)
	}
	fmt.Fprintf(env.stdout, "set the password of %s; their sessions, remember-me and API tokens have ended\n", u.Username)
	return nil
}

func usersSendReset(ctx context.Context, cmd command, args []string, env cliEnv) error {
	a, u, err := openForUser(ctx, cmd, args, env, nil)
	if err != nil {
		return err
	}
	defer a.close()
	// Deliver now, without the server's queue, so a failure is this
	// command's error.
	cfg := a.recovery.Config()
	cfg.Mailer = a.mailer
	svc, err := recovery.New(cfg)
	if err != nil {
		return err
	}
	defer svc.Close(context.Background())
	if err := svc.SendReset(ctx, u.ID, cliActor); err != nil {
		return describe(err)
	}
	if _, ok := a.mailer.(*mail.Log); ok {
		fmt.Fprintf(env.stdout, "the development mailer wrote a password reset link for %s to the log (set HALLPASS_SMTP_URL to send email)\n", u.Username)
		return nil
	}
	fmt.Fprintf(env.stdout, "sent a password reset link to %s (%s), valid %v\n", escapeText(u.Email), u.Username, cfg.ResetFor)
	return nil
}

func usersReset2FA(ctx context.Context, cmd command, args []string, env cliEnv) error {
	a, u, err := openForUser(ctx, cmd, args, env, nil)
	if err != nil {
		return err
	}
	defer a.close()
	err = a.twofa.Reset(ctx, cliActor, u.ID)
	if err != nil && !errors.Is(err, twofa.ErrNotEnrolled) {
		return describe(err)
	}
	removed := err == nil
	// From the store, whatever this command's base URL (the server's
	// passkeys are off for an IP address, the CLI's settings may differ).
	keys, err := a.passkeys.CredentialsByUser(ctx, u.ID)
	if err != nil {
		return describe(err)
	}
	for _, k := range keys {
		if err := a.passkeys.DeleteCredential(ctx, u.ID, k.ID); err != nil && !errors.Is(err, account.ErrNotFound) {
			return describe(err)
		}
		auditLog(ctx, a, audit.Event{Name: audit.PasskeyRemove, UserID: u.ID, Reason: "reset"})
		removed = true
	}
	if !removed {
		return fmt.Errorf("%s has no second factor", u.Username)
	}
	// Sessions that passed the removed factor end too: the user starts
	// again from the password.
	n, err := a.login.RevokeUser(ctx, u.ID)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(env.stdout, "removed the second factors (TOTP, passkeys) of %s and ended %d sessions and tokens; they log in with the password alone until they enrol again\n", u.Username, n)
	return nil
}

func usersDelete(ctx context.Context, cmd command, args []string, env cliEnv) error {
	a, u, err := openForUser(ctx, cmd, args, env, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.login.DeleteUser(ctx, cliActor, u.ID); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return errors.New("the account store cannot delete users")
		}
		return describe(err)
	}
	fmt.Fprintf(env.stdout, "deleted %s; their sessions, remember-me and API tokens have ended\n", u.Username)
	return nil
}

func usersUnlink(ctx context.Context, cmd command, args []string, env cliEnv) error {
	a, fs, err := openCLI(ctx, cmd, args, env, anyOperands, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if fs.NArg() != 2 {
		return &usageError{"users unlink: want a username and a provider ID, like: hallpass users unlink alice google"}
	}
	u, err := userNamed(ctx, a, fs.Arg(0))
	if err != nil {
		return err
	}
	provider := fs.Arg(1)
	n, err := oidc.Unlink(ctx, a.identities, a.accounts, u, provider, false, nil)
	if errors.Is(err, identity.ErrNotFound) {
		return fmt.Errorf("%s has no identity at %q", u.Username, escapeText(provider))
	}
	if err != nil {
		return describe(err)
	}
	auditLog(ctx, a, audit.Event{Name: audit.OIDCUnlink, UserID: u.ID, Provider: provider, Count: n, Actor: cliActor})
	fmt.Fprintf(env.stdout, "disconnected %s from %s (%s)\n", u.Username, escapeText(provider), plural(n, "identity", "identities"))
	if u.PasswordHash == "" {
		if left, err := a.identities.IdentitiesByUser(ctx, u.ID); err == nil && len(left) == 0 {
			fmt.Fprintf(env.stdout, "note: %s has no password and no other identity; they can get in only by a password reset\n", u.Username)
		}
	}
	return nil
}

// escapeText returns s with everything that could act on a terminal
// escaped, strconv.Quote style: C0 and C1 controls (ESC as \x1b, NEL as
// \u0085), DEL, bidi and other invisible format characters (U+202E as
// \u202e), line separators, invalid UTF-8 (\xff), and the backslash
// itself, so an escape in the output always means one in the data.
func escapeText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && runeLen(s[i:]) == 1: // invalid UTF-8
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == ' ' || strconv.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// runeLen is the length of the first rune of s as encoded.
func runeLen(s string) int {
	_, n := utf8.DecodeRuneInString(s)
	return n
}

// printable escapes s and shortens it to about n characters, for a column
// or an error line.
func printable(s string, n int) string {
	s = escapeText(s)
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n]) + "…"
	}
	return s
}

// sessionJSON is a session in -o json output.
type sessionJSON struct {
	ID        string    `json:"id"`
	LogID     string    `json:"log_id"` // the session= of log lines and audit events
	User      string    `json:"user"`
	UserID    string    `json:"user_id"`
	IP        string    `json:"ip"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
	UserAgent string    `json:"user_agent"`
}

// sessionIDLen is how much of a session ID "sessions list" prints; it is
// enough for "sessions revoke --id".
const sessionIDLen = 12

// logIDLen is the length of a session's LOG ID, session.ShortID.
var logIDLen = len(session.ShortID("x"))

func sessionsList(ctx context.Context, cmd command, args []string, env cliEnv) error {
	var name string
	var format outputFormat
	a, _, err := openCLI(ctx, cmd, args, env, noOperands, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "user", "", "list only the sessions of the user `NAME`")
		outputFlag(fs, &format)
	})
	if err != nil {
		return err
	}
	defer a.close()
	var arr *jsonArray
	var tw *tabwriter.Writer
	if format == "json" {
		arr = &jsonArray{w: env.stdout}
	} else {
		tw = tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tSESSION\tLOG ID\tIP\tSTARTED\tLAST SEEN\tUSER AGENT")
	}
	show := func(users []*account.User) error {
		for _, u := range users {
			list, err := a.sessions.ListByUser(ctx, u.ID)
			if err != nil {
				return describe(err)
			}
			for _, s := range list {
				if arr != nil {
					if err := arr.add(sessionJSON{ID: s.ID, LogID: session.ShortID(s.ID), User: u.Username, UserID: u.ID, IP: s.IP, CreatedAt: s.CreatedAt.UTC(),
						LastSeen: s.LastSeen.UTC(), ExpiresAt: s.Expiry.UTC(), UserAgent: s.UserAgent}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", escapeText(u.Username), s.ID[:min(sessionIDLen, len(s.ID))], session.ShortID(s.ID), printable(s.IP, 45),
					s.CreatedAt.UTC().Format("2006-01-02 15:04"), s.LastSeen.UTC().Format("2006-01-02 15:04"), printable(s.UserAgent, 60))
			}
		}
		if tw != nil {
			return tw.Flush()
		}
		return nil
	}
	if name != "" {
		var u *account.User
		if u, err = userNamed(ctx, a, name); err == nil {
			err = show([]*account.User{u})
		}
	} else {
		_, _, err = eachUser(ctx, a, "", 0, show)
	}
	if err != nil {
		return err
	}
	if arr != nil {
		return arr.close()
	}
	return tw.Flush() // the header, when there are no users
}

func sessionsRevoke(ctx context.Context, cmd command, args []string, env cliEnv) error {
	var name, id string
	a, _, err := openCLI(ctx, cmd, args, env, noOperands, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "user", "", "end every session and remember-me token of the user `NAME`")
		fs.StringVar(&id, "id", "", "end the one session with this `ID`, as \"sessions list\" prints it (or its LOG ID, the session= of log lines)")
	})
	if err != nil {
		return err
	}
	defer a.close()
	if name == "" && id == "" {
		return &usageError{"sessions revoke: want --user NAME, or --id ID"}
	}
	var users []*account.User
	if name != "" {
		u, err := userNamed(ctx, a, name)
		if err != nil {
			return err
		}
		users = []*account.User{u}
	}
	if id == "" {
		n, k, err := a.login.EndSessions(ctx, cliActor, users[0].ID)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(env.stdout, "ended %s and %s of %s\n", plural(n, "session", "sessions"), plural(k, "remember-me token", "remember-me tokens"), users[0].Username)
		return nil
	}
	u, full, err := findSession(ctx, a, users, id)
	if err != nil {
		return err
	}
	if err := a.login.EndSession(ctx, cliActor, u.ID, full); err != nil {
		if errors.Is(err, session.ErrNotFound) {
			return fmt.Errorf("session %s has ended already", id)
		}
		return err
	}
	fmt.Fprintf(env.stdout, "ended session %s of %s\n", full[:min(sessionIDLen, len(full))], u.Username)
	return nil
}

// findSession finds the live session whose ID starts with prefix (at least
// sessionIDLen characters, or the whole ID), or whose log ID
// (session.ShortID, the session= of log lines and audit events) is
// prefix, among the sessions of users, or of everyone when users is nil.
func findSession(ctx context.Context, a *app, users []*account.User, prefix string) (*account.User, string, error) {
	logID := len(prefix) == logIDLen
	if len(prefix) < sessionIDLen && !logID {
		return nil, "", &usageError{fmt.Sprintf("sessions revoke: --id wants the %d characters of SESSION or the %d of LOG ID that \"sessions list\" prints", sessionIDLen, logIDLen)}
	}
	var owner *account.User
	var found []string
	search := func(page []*account.User) error {
		for _, u := range page {
			list, err := a.sessions.ListByUser(ctx, u.ID)
			if err != nil {
				return describe(err)
			}
			for _, s := range list {
				if strings.HasPrefix(s.ID, prefix) || logID && session.ShortID(s.ID) == prefix {
					owner, found = u, append(found, s.ID)
				}
			}
		}
		return nil
	}
	var err error
	if users != nil {
		err = search(users)
	} else {
		_, _, err = eachUser(ctx, a, "", 0, search)
	}
	switch {
	case err != nil:
		return nil, "", err
	case len(found) == 0:
		return nil, "", fmt.Errorf("no live session with ID %s", printable(prefix, 64))
	case len(found) > 1:
		return nil, "", fmt.Errorf("%d sessions have IDs starting with %s: give more of the ID (sessions list -o json prints it whole)", len(found), prefix)
	}
	return owner, found[0], nil
}
