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
	"slices"
	"strings"
	"time"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/audit"
	"github.com/hallpass/hallpass/password"
)

const importAbout = `Imports users from CSV or JSON Lines (chosen by the first character: '{'
for JSON). Each row has username, email, password_hash and optionally roles
(separated by spaces, ';', ',' or '|'; a JSON list in JSON Lines). A CSV
header row naming these columns maps them in any order; without one the
columns are read in that order. Quote a field that contains commas, as every
argon2 hash does: "$argon2id$v=19$m=65536,t=3,p=4$...". Hashes stay as
given and are upgraded to argon2id at each user's first login.

bcrypt checks at most 72 bytes of a password, and hallpass refuses longer
passwords against a bcrypt hash rather than cut them: a user whose password
is longer (the old system may have cut it silently) must set a new one.

Every row is checked first; the problems are listed with their line
numbers (the first 50, and a count) and nothing is imported unless
--skip-invalid.`

// importColumns are the fields of an imported user, in the order of a CSV
// file without a header; roles may be left out.
var importColumns = []string{"username", "email", "password_hash", "roles"}

// maxProblems is how many problems of an import file are printed; the
// rest are counted.
const maxProblems = 50

// importRow is one user of an import file.
type importRow struct {
	Line         int
	Username     string
	Email        string
	PasswordHash string
	Roles        []string
}

func usersImport(ctx context.Context, cmd command, args []string, env cliEnv) error {
	var skipInvalid bool
	a, fs, err := openCLI(ctx, cmd, args, env, "one file (CSV or JSON Lines)", func(fs *flag.FlagSet) {
		fs.BoolVar(&skipInvalid, "skip-invalid", false, "import the valid rows even when some are invalid")
	})
	if err != nil {
		return err
	}
	defer a.close()
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
	for i, p := range problems {
		if i == maxProblems {
			fmt.Fprintf(env.stderr, "... and %s\n", plural(len(problems)-maxProblems, "more problem", "more problems"))
			break
		}
		fmt.Fprintln(env.stderr, p)
	}
	if len(problems) > 0 && !skipInvalid {
		return fmt.Errorf("%s; nothing imported (fix them, or pass --skip-invalid to import the %s)",
			plural(len(problems), "invalid row", "invalid rows"), plural(len(valid), "valid row", "valid rows"))
	}
	if n := countBcrypt(valid); n > 0 {
		fmt.Fprintf(env.stderr, "warning: %s: bcrypt checks at most 72 bytes of a password, and hallpass refuses a longer one rather than cut it, so a user whose password is longer than 72 bytes cannot log in until they set a new one (hallpass users set-password NAME)\n",
			plural(n, "user has a bcrypt hash", "users have bcrypt hashes"))
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
	if len(users) > 0 {
		auditLog(ctx, a, audit.Event{Name: audit.UserImport, Count: len(users)})
	}
	fmt.Fprintf(env.stdout, "imported %s, skipped %s\n", plural(len(users), "user", "users"), plural(len(problems), "invalid row", "invalid rows"))
	return nil
}

// countBcrypt counts the rows with plain bcrypt hashes, which check only
// the first 72 bytes of a password (Django's bcrypt_sha256 hashes the
// password first, so it has no such limit).
func countBcrypt(rows []importRow) int {
	n := 0
	for _, r := range rows {
		h := strings.TrimPrefix(r.PasswordHash, "bcrypt$")
		if strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$") {
			n++
		}
	}
	return n
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
// character: '{' for JSON). Rows that cannot be read are returned as
// problems, each naming its line; an error means the file as a whole
// cannot be read (a CSV header with an unknown column, say).
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

// csvHeader returns the column of each of importColumns (-1: absent) when
// rec is a header row, one naming any of importColumns, or nil when it is
// not. A header with an unknown or repeated column, or without one of the
// required ones, is an error.
func csvHeader(rec []string) ([]int, error) {
	names := make([]string, len(rec))
	isHeader := false
	for i, f := range rec {
		names[i] = strings.ToLower(strings.TrimSpace(f))
		if slices.Contains(importColumns, names[i]) || names[i] == "password" {
			isHeader = true
		}
	}
	if !isHeader {
		return nil, nil
	}
	cols := []int{-1, -1, -1, -1}
	for i, name := range names {
		c := slices.Index(importColumns, name)
		switch {
		case name == "password":
			return nil, errors.New(`line 1: the header names a column "password": hallpass imports password hashes, never passwords; name the column password_hash if it holds hashes`)
		case c < 0:
			return nil, fmt.Errorf("line 1: the header names an unknown column %q; the columns are %s (roles optional)", printable(rec[i], 40), strings.Join(importColumns, ", "))
		case cols[c] >= 0:
			return nil, fmt.Errorf("line 1: the header names the column %q twice", name)
		}
		cols[c] = i
	}
	for c, name := range importColumns[:3] {
		if cols[c] < 0 {
			return nil, fmt.Errorf("line 1: the header has no column %q; it needs %s (roles optional)", name, strings.Join(importColumns, ", "))
		}
	}
	return cols, nil
}

func readCSV(r io.Reader) ([]importRow, []string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	var rows []importRow
	var problems []string
	var cols []int // from the header; nil: by position
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("read the import file: %w", err)
			}
			problems = append(problems, fmt.Sprintf("line %d: cannot read the CSV: %v", pe.Line, pe.Err))
			continue
		}
		line, _ := cr.FieldPos(0)
		if first {
			if cols, err = csvHeader(rec); err != nil {
				return nil, nil, err
			}
			if cols != nil {
				continue
			}
		}
		row := importRow{Line: line}
		if cols == nil {
			if len(rec) < 3 || len(rec) > 4 {
				problems = append(problems, fmt.Sprintf("line %d: want 3 or 4 columns (username,email,password_hash[,roles]), got %d%s", line, len(rec), commaHint(rec)))
				continue
			}
			pos := []int{0, 1, 2, -1}
			if len(rec) == 4 {
				pos[3] = 3
			}
			row.fill(rec, pos)
		} else {
			if want := max(cols[0], cols[1], cols[2], cols[3]) + 1; len(rec) != want {
				problems = append(problems, fmt.Sprintf("line %d: want %d columns, as the header names, got %d%s", line, want, len(rec), commaHint(rec)))
				continue
			}
			row.fill(rec, cols)
		}
		rows = append(rows, row)
	}
	return rows, problems, nil
}

// fill sets the row's fields from rec, by the columns' positions.
func (row *importRow) fill(rec []string, cols []int) {
	row.Username = strings.TrimSpace(rec[cols[0]])
	row.Email = strings.TrimSpace(rec[cols[1]])
	row.PasswordHash = strings.TrimSpace(rec[cols[2]])
	if cols[3] >= 0 {
		row.Roles = splitRoles(rec[cols[3]])
	}
}

// commaHint explains a row with too many columns whose hash was split at
// its commas, as an unquoted argon2 hash is.
func commaHint(rec []string) string {
	for _, f := range rec {
		f = strings.TrimSpace(f)
		if strings.HasPrefix(f, "$argon2") || strings.HasPrefix(f, "argon2$") {
			return `: argon2 hashes contain commas, so quote the password_hash field ("$argon2id$v=19$m=65536,t=3,p=4$...")`
		}
	}
	return ""
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
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		row, err := jsonRow(text)
		if err != nil {
			problems = append(problems, fmt.Sprintf("line %d: %v", line, err))
			continue
		}
		row.Line = line
		rows = append(rows, row)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, nil, fmt.Errorf("line %d: longer than 1 MB; is this a JSON Lines file?", line+1)
	} else if err != nil {
		return nil, nil, fmt.Errorf("read the import file: %w", err)
	}
	return rows, problems, nil
}

// jsonRow reads one line of JSON Lines. Every field must be one of
// importColumns: a misspelt or unexpected one ("password") is an error,
// not a field silently ignored.
func jsonRow(text string) (importRow, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &fields); err != nil {
		return importRow{}, errors.New("not a JSON object with string fields username, email, password_hash")
	}
	var unknown []string
	for k := range fields {
		if k == "password" {
			return importRow{}, errors.New(`field "password": hallpass imports password hashes, never passwords; name the field password_hash if it holds a hash`)
		}
		if !slices.Contains(importColumns, k) {
			unknown = append(unknown, `"`+printable(k, 40)+`"`)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return importRow{}, fmt.Errorf("unknown field %s; the fields are %s (roles optional)", strings.Join(unknown, ", "), strings.Join(importColumns, ", "))
	}
	var row importRow
	for i, dst := range []*string{&row.Username, &row.Email, &row.PasswordHash} {
		name := importColumns[i]
		if v, ok := fields[name]; ok && json.Unmarshal(v, dst) != nil {
			return importRow{}, fmt.Errorf("field %q must be a string", name)
		}
	}
	if v := fields["roles"]; len(v) > 0 && string(v) != "null" {
		var list []string
		var one string
		if json.Unmarshal(v, &list) == nil {
			row.Roles = list
		} else if json.Unmarshal(v, &one) == nil {
			row.Roles = splitRoles(one)
		} else {
			return importRow{}, errors.New("roles must be a list of strings or a string")
		}
	}
	return row, nil
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
			problems = append(problems, fmt.Sprintf("line %d (%s): %s", r.Line, printable(r.Username, 40), errs.Error()))
			continue
		}
		r.Roles = roles
		valid = append(valid, r)
	}
	return valid, problems
}
