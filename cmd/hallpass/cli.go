package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// openCLI parses the command's flags and opens the app without serving.
func openCLI(ctx context.Context, name, usage string, args []string, getenv func(string) string, stderr io.Writer, define func(*flag.FlagSet)) (*app, *flag.FlagSet, error) {
	cfg, fs, err := parseConfig(name, usage, args, getenv, stderr, define)
	if err != nil {
		return nil, nil, err
	}
	a, err := openApp(ctx, cfg, newLogger(stderr, max(cfg.LogLevel, 4))) // warnings and errors only
	if err != nil {
		return nil, nil, err
	}
	return a, fs, nil
}

func usersCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, helpText)
		if len(args) == 0 {
			return &usageError{"users: which command? (add, list, disable, enable, set-role, import)"}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "add":
		return usersAdd(ctx, rest, getenv, stdin, stdout, stderr)
	case "list":
		return usersList(ctx, rest, getenv, stdout, stderr)
	case "disable", "enable":
		return usersSetDisabled(ctx, sub, rest, getenv, stdout, stderr)
	case "set-role", "set-roles":
		return usersSetRoles(ctx, rest, getenv, stdout, stderr)
	case "import":
		return usersImport(ctx, rest, getenv, stdout, stderr)
	}
	return &usageError{fmt.Sprintf("users: unknown command %q (add, list, disable, enable, set-role, import)", sub)}
}

func usersAdd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var email string
	var roles stringList
	var fromStdin bool
	a, fs, err := openCLI(ctx, "users add", "hallpass users add NAME --email E [--role ROLE]... [--password-stdin]", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the user's email address (required)")
		fs.Var(&roles, "role", "a role to grant, e.g. admin (repeatable)")
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	})
	if err != nil {
		return err
	}
	defer a.close()
	if fs.NArg() != 1 {
		return &usageError{"users add: want exactly one username"}
	}
	name := fs.Arg(0)
	pw, err := readPassword(stdin, stderr, fromStdin)
	if err != nil {
		return err
	}
	u, err := a.login.Register(ctx, name, email, pw, roles...)
	if err != nil {
		return describe(err)
	}
	fmt.Fprintf(stdout, "added user %s (id %s)\n", u.Username, u.ID)
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
	}
	return err
}

func usersList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, fs, err := openCLI(ctx, "users list", "hallpass users list", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if fs.NArg() != 0 {
		return &usageError{"users list takes no arguments"}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tROLES\tSTATE\tCREATED")
	after := ""
	for {
		users, err := a.accounts.ListUsers(ctx, account.ListOptions{After: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, u := range users {
			state := "active"
			if u.Disabled {
				state = "disabled"
			}
			roles := strings.Join(u.Roles, ",")
			if roles == "" {
				roles = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, roles, state, u.CreatedAt.UTC().Format("2006-01-02 15:04"))
		}
		if len(users) < 500 {
			break
		}
		after = users[len(users)-1].ID
	}
	return tw.Flush()
}

// userNamed finds a user by name or fails with a clear message.
func userNamed(ctx context.Context, a *app, name string) (*account.User, error) {
	u, err := a.accounts.UserByUsername(ctx, name)
	if errors.Is(err, account.ErrNotFound) {
		return nil, fmt.Errorf("no user named %q", name)
	}
	return u, err
}

func usersSetDisabled(ctx context.Context, sub string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, fs, err := openCLI(ctx, "users "+sub, "hallpass users "+sub+" NAME", args, getenv, stderr, nil)
	if err != nil {
		return err
	}
	defer a.close()
	if fs.NArg() != 1 {
		return &usageError{"users " + sub + ": want exactly one username"}
	}
	u, err := userNamed(ctx, a, fs.Arg(0))
	if err != nil {
		return err
	}
	if err := a.login.SetDisabled(ctx, "cli", u.ID, sub == "disable"); err != nil {
		return err
	}
	if sub == "disable" {
		fmt.Fprintf(stdout, "disabled %s; their sessions, remember-me and API tokens have ended\n", u.Username)
	} else {
		fmt.Fprintf(stdout, "enabled %s\n", u.Username)
	}
	return nil
}

func usersSetRoles(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	a, fs, err := openCLI(ctx, "users set-role", "hallpass users set-role NAME [ROLE...]", args, getenv, stderr, nil)
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
	if err := a.login.SetRoles(ctx, "cli", u.ID, roles); err != nil {
		return describe(err)
	}
	got, _ := a.accounts.UserByID(ctx, u.ID)
	fmt.Fprintf(stdout, "%s now has roles: %s\n", u.Username, orNone(got.Roles))
	return nil
}

func orNone(roles []string) string {
	if len(roles) == 0 {
		return "(none)"
	}
	return strings.Join(roles, ", ")
}

// importRow is one user of an import file.
type importRow struct {
	Line         int
	Username     string
	Email        string
	PasswordHash string
	Roles        []string
}

func usersImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var skipInvalid bool
	a, fs, err := openCLI(ctx, "users import", "hallpass users import FILE [--skip-invalid]", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&skipInvalid, "skip-invalid", false, "import the valid rows even when some are invalid")
	})
	if err != nil {
		return err
	}
	defer a.close()
	if fs.NArg() != 1 {
		return &usageError{"users import: want exactly one file (CSV or JSON Lines)"}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("open the import file: %w", err)
	}
	defer f.Close()
	rows, problems, err := readImport(f)
	if err != nil {
		return err
	}
	valid, more := validateImport(ctx, a, rows)
	problems = append(problems, more...)
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if len(problems) > 0 && !skipInvalid {
		return fmt.Errorf("%d invalid rows; nothing imported (fix them, or pass --skip-invalid to import the %d valid rows)", len(problems), len(valid))
	}
	users := make([]*account.User, len(valid))
	now := time.Now()
	for i, r := range valid {
		users[i] = &account.User{Username: r.Username, Email: r.Email, PasswordHash: r.PasswordHash, Roles: r.Roles,
			CreatedAt: now, PasswordChangedAt: now}
	}
	if err := importUsers(ctx, a, users); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d users, skipped %d invalid rows\n", len(users), len(problems))
	return nil
}

// importUsers stores users all-or-nothing when the store can.
func importUsers(ctx context.Context, a *app, users []*account.User) error {
	if im, ok := a.accounts.(account.Importer); ok {
		err := im.ImportUsers(ctx, users)
		var ie *account.ImportError
		if errors.As(err, &ie) {
			return fmt.Errorf("user %q: %v; nothing imported", users[ie.Index].Username, describe(ie.Err))
		}
		return err
	}
	for _, u := range users {
		if err := a.accounts.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("user %q: %w", u.Username, describe(err))
		}
	}
	return nil
}

// readImport reads CSV or JSON Lines (chosen by the first non-blank
// character: '{' for JSON). A CSV header row naming the columns is
// optional. Rows that cannot be read are returned as problems.
func readImport(r io.Reader) ([]importRow, []string, error) {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, nil, errors.New("the import file is empty")
		}
		if b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t' || b[0] == 0xEF || b[0] == 0xBB || b[0] == 0xBF {
			br.ReadByte() // blank space or a byte-order mark
			continue
		}
		if b[0] == '{' {
			return readJSONLines(br)
		}
		return readCSV(br)
	}
}

func readCSV(r io.Reader) ([]importRow, []string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var rows []importRow
	var problems []string
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				problems = append(problems, fmt.Sprintf("line %d: cannot read the CSV: %v", pe.Line, pe.Err))
				if errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) {
					continue
				}
				continue
			}
			return nil, nil, fmt.Errorf("read the import file: %w", err)
		}
		if first && len(rec) > 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "username") {
			continue // header
		}
		if len(rec) < 3 || len(rec) > 4 {
			problems = append(problems, fmt.Sprintf("line %d: want 3 or 4 columns (username,email,password_hash[,roles]), got %d", line, len(rec)))
			continue
		}
		row := importRow{Line: line, Username: strings.TrimSpace(rec[0]), Email: strings.TrimSpace(rec[1]), PasswordHash: strings.TrimSpace(rec[2])}
		if len(rec) == 4 {
			row.Roles = splitRoles(rec[3])
		}
		rows = append(rows, row)
	}
	return rows, problems, nil
}

// splitRoles splits a roles field on spaces, semicolons, commas or bars.
func splitRoles(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ';' || r == ',' || r == '|' })
}

func readJSONLines(r io.Reader) ([]importRow, []string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var rows []importRow
	var problems []string
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var v struct {
			Username     string          `json:"username"`
			Email        string          `json:"email"`
			PasswordHash string          `json:"password_hash"`
			Roles        json.RawMessage `json:"roles"`
		}
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: not a JSON object with string fields username, email, password_hash", line))
			continue
		}
		row := importRow{Line: line, Username: v.Username, Email: v.Email, PasswordHash: v.PasswordHash}
		if len(v.Roles) > 0 && string(v.Roles) != "null" {
			var list []string
			var one string
			if json.Unmarshal(v.Roles, &list) == nil {
				row.Roles = list
			} else if json.Unmarshal(v.Roles, &one) == nil {
				row.Roles = splitRoles(one)
			} else {
				problems = append(problems, fmt.Sprintf("line %d: roles must be a list of strings or a string", line))
				continue
			}
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read the import file: %w", err)
	}
	return rows, problems, nil
}

// validateImport checks every row (fields, hash format, duplicates in the
// file and in the database) and returns the valid rows and the problems,
// each naming its line.
func validateImport(ctx context.Context, a *app, rows []importRow) ([]importRow, []string) {
	var valid []importRow
	var problems []string
	seen := map[string]int{}
	for _, r := range rows {
		var errs account.FieldErrors
		errs.Add(account.ValidateUsername(r.Username))
		errs.Add(account.ValidateEmail(r.Email))
		if err := password.CheckHash(r.PasswordHash); err != nil {
			switch {
			case r.PasswordHash == "":
				errs.Add(&account.FieldError{Field: "password_hash", Message: "The password hash is empty."})
			case errors.Is(err, password.ErrUnknownFormat):
				errs.Add(&account.FieldError{Field: "password_hash", Message: "The password hash is in a format hallpass cannot verify."})
			default:
				errs.Add(&account.FieldError{Field: "password_hash", Message: "The password hash is malformed or its cost is out of range."})
			}
		}
		roles, err := account.NormalizeRoles(r.Roles)
		errs.Add(err)
		key := strings.ToLower(r.Username)
		if prev, dup := seen[key]; dup && errs.For("username") == "" {
			errs.Add(&account.FieldError{Field: "username", Message: fmt.Sprintf("The username repeats line %d.", prev)})
		} else if errs.For("username") == "" {
			if _, err := a.accounts.UserByUsername(ctx, r.Username); err == nil {
				errs.Add(&account.FieldError{Field: "username", Message: "That username is taken."})
			}
		}
		if _, dup := seen[key]; !dup {
			seen[key] = r.Line
		}
		if len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("line %d (%s): %s", r.Line, printable(r.Username), errs.Error()))
			continue
		}
		r.Roles = roles
		valid = append(valid, r)
	}
	return valid, problems
}

// printable shortens and sanitises a value for an error line.
func printable(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xFFFD {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

func sessionsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, helpText)
		if len(args) == 0 {
			return &usageError{"sessions: which command? (list, revoke)"}
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	var user string
	define := func(fs *flag.FlagSet) { fs.StringVar(&user, "user", "", "the user whose sessions to "+sub) }
	switch sub {
	case "list":
		a, fs, err := openCLI(ctx, "sessions list", "hallpass sessions list [--user NAME]", rest, getenv, stderr, define)
		if err != nil {
			return err
		}
		defer a.close()
		if fs.NArg() != 0 {
			return &usageError{"sessions list takes no arguments"}
		}
		return sessionsList(ctx, a, user, stdout)
	case "revoke":
		a, fs, err := openCLI(ctx, "sessions revoke", "hallpass sessions revoke --user NAME", rest, getenv, stderr, define)
		if err != nil {
			return err
		}
		defer a.close()
		if user == "" || fs.NArg() != 0 {
			return &usageError{"sessions revoke: want --user NAME"}
		}
		u, err := userNamed(ctx, a, user)
		if err != nil {
			return err
		}
		n, err := a.sessions.DestroyByUser(ctx, u.ID)
		if err != nil {
			return sessionErr(err)
		}
		k, err := a.accounts.DeleteRememberByUser(ctx, u.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ended %d sessions and %d remember-me tokens of %s\n", n, k, u.Username)
		return nil
	}
	return &usageError{fmt.Sprintf("sessions: unknown command %q (list, revoke)", sub)}
}

func sessionErr(err error) error {
	if errors.Is(err, session.ErrNotSupported) {
		return errors.New("the session store cannot list sessions by user")
	}
	return err
}

func sessionsList(ctx context.Context, a *app, user string, stdout io.Writer) error {
	var users []*account.User
	if user != "" {
		u, err := userNamed(ctx, a, user)
		if err != nil {
			return err
		}
		users = []*account.User{u}
	} else {
		after := ""
		for {
			page, err := a.accounts.ListUsers(ctx, account.ListOptions{After: after, Limit: 500})
			if err != nil {
				return err
			}
			users = append(users, page...)
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tSESSION\tIP\tSTARTED\tLAST SEEN\tUSER AGENT")
	for _, u := range users {
		list, err := a.sessions.ListByUser(ctx, u.ID)
		if err != nil {
			return sessionErr(err)
		}
		for _, s := range list {
			ua := s.UserAgent
			if len(ua) > 60 {
				ua = ua[:60] + "…"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, s.ID[:12], s.IP,
				s.CreatedAt.UTC().Format("2006-01-02 15:04"), s.LastSeen.UTC().Format("2006-01-02 15:04"), printable(ua))
		}
	}
	return tw.Flush()
}
