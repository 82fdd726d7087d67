package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Import files from real migrations: CSV quirks, headers in another order,
// unquoted argon2 hashes, a JSON key named password. Each fails with a
// message that says what to do, and nothing is imported.
func TestCLIImportMigrationMistakes(t *testing.T) {
	c := newCLI(t)
	h := legacyHash(t, "$2b$04$", "correct horse battery staple")
	argon := "$argon2id$v=19$m=64,t=1,p=1$67IlmihqZV4hk/saxBAorA$oWHapZ9T4YNbahSF3bXT91O4MV71gZAhae8o2z7bnkk"
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"bare-quote.csv", `0"0` + "\n", []string{`line 1: cannot read the CSV: bare " in non-quoted-field`}},
		{"bare-quote-late.csv", "ann,a@example.com," + h + "\n" + `0"0` + "\n", []string{"line 2: cannot read the CSV"}},
		{"unquoted-argon2.csv", "ann,a@example.com," + argon + "\n", []string{"line 1: want 3 or 4 columns", "argon2 hashes contain commas, so quote the password_hash field"}},
		{"unquoted-argon2-header.csv", "username,email,password_hash\nann,a@example.com," + argon + "\n", []string{"line 2: want 3 columns, as the header names", "quote the password_hash field"}},
		{"password-column.csv", "username,email,password\nann,a@example.com,hunter22\n", []string{`column "password"`, "never passwords"}},
		{"unknown-column.csv", "username,email,password_hash,created_at\nann,a@example.com," + h + ",2020\n", []string{`unknown column "created_at"`}},
		{"missing-column.csv", "username,password_hash\nann," + h + "\n", []string{`the header has no column "email"`}},
		{"password-key.jsonl", `{"username":"ann","email":"a@example.com","password":"` + h + `"}` + "\n", []string{`line 1: field "password"`, "never passwords", "password_hash"}},
		{"typo-key.jsonl", `{"username":"ann","email":"a@example.com","password_hash":"` + h + `","rolez":["x"]}` + "\n", []string{`line 1: unknown field "rolez"`}},
		{"number.jsonl", `{"username":"ann","email":42,"password_hash":"` + h + `"}` + "\n", []string{`line 1: field "email" must be a string`}},
	} {
		msg, stderr := c.fails("", "users", "import", writeTemp(t, tc.name, tc.content))
		for _, w := range tc.want {
			if !strings.Contains(msg+"\n"+stderr, w) {
				t.Errorf("import %s: error %q, stderr %q; want %q", tc.name, msg, stderr, w)
			}
		}
	}
	if c.listed("ann") != nil {
		t.Errorf("ann was imported from a file with a mistake")
	}
}

// A header maps the columns by name, in any order; without one they are
// read by position.
func TestCLIImportHeaderOrder(t *testing.T) {
	c := newCLI(t)
	h := legacyHash(t, "$2b$04$", "correct horse battery staple")
	out := c.ok("", "users", "import", writeTemp(t, "users.csv",
		"Roles,Password_Hash,EMAIL,username\n"+
			"editor,"+h+",ann@example.com,ann\n"+
			"\"admin,viewer\","+h+",bob@example.com,bob\n"))
	if want := "imported 2 users, skipped 0 invalid rows\n"; out != want {
		t.Errorf("import with a reordered header printed %q, want %q", out, want)
	}
	if row := c.listed("ann"); row == nil || row[2] != "ann@example.com" || row[3] != "editor" {
		t.Errorf("ann's row = %q, want email ann@example.com and role editor (columns by header name)", row)
	}
	if row := c.listed("bob"); row == nil || row[2] != "bob@example.com" || row[3] != "admin,viewer" {
		t.Errorf("bob's row = %q, want email bob@example.com and roles admin,viewer", row)
	}
	out = c.ok("", "users", "import", writeTemp(t, "users.csv", "cyd,cy@example.com,"+h+"\n"))
	if want := "imported 1 user, skipped 0 invalid rows\n"; out != want {
		t.Errorf("import without a header printed %q, want %q", out, want)
	}
	if row := c.listed("cyd"); row == nil || row[2] != "cy@example.com" {
		t.Errorf("cyd's row = %q, want email cy@example.com (columns by position)", row)
	}
}

// A file with thousands of bad rows prints the first 50 problems and a
// count, not thousands of lines.
func TestCLIImportProblemsCapped(t *testing.T) {
	c := newCLI(t)
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "user%d,not-an-email,%s\n", i, "x")
	}
	msg, stderr := c.fails("", "users", "import", writeTemp(t, "bad.csv", b.String()))
	if !strings.Contains(msg, "2000 invalid rows; nothing imported") {
		t.Errorf("error = %q, want it to count 2000 invalid rows", msg)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != maxProblems+1 || lines[len(lines)-1] != "... and 1950 more problems" {
		t.Errorf("stderr has %d lines ending %q; want %d problems and \"... and 1950 more problems\"", len(lines), lines[len(lines)-1], maxProblems)
	}
}

// Importing bcrypt hashes warns that passwords over 72 bytes cannot log in
// with them; Django's bcrypt_sha256, which has no such limit, does not.
func TestCLIImportBcryptWarning(t *testing.T) {
	c := newCLI(t)
	var jsonl strings.Builder
	for _, u := range []struct{ name, prefix, pw string }{
		{"b1-user", "$2b$04$", "correct horse battery staple"},
		{"b2-user", "$2y$04$", "pässwörd"},
		{"d1-user", "bcrypt_sha256$$2b$04$", "correct horse battery staple"},
		{"w1-user", "pbkdf2:sha256:1000$", "correct horse battery staple"},
	} {
		fmt.Fprintf(&jsonl, `{"username":%q,"email":"%s@example.com","password_hash":%q}`+"\n", u.name, u.name, legacyHash(t, u.prefix, u.pw))
	}
	_, stderr, err := c.exec("", "users", "import", writeTemp(t, "users.jsonl", jsonl.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "warning: 2 users have bcrypt hashes") || !strings.Contains(stderr, "longer than 72 bytes cannot log in") {
		t.Errorf("stderr = %q, want a warning that the 2 bcrypt users cannot log in with passwords over 72 bytes", stderr)
	}
	_, stderr, err = c.exec("", "users", "import", writeTemp(t, "w.csv", "w2-user,w2@example.com,"+legacyHash(t, "pbkdf2:sha256:1000$", "correct horse battery staple")+"\n"))
	if err != nil || strings.Contains(stderr, "bcrypt") {
		t.Errorf("import without bcrypt hashes: %v, stderr %q; want no bcrypt warning", err, stderr)
	}
}

// checkImport checks what readImport promises for any input: no panic,
// rows and problems with positive, increasing line numbers, problems that
// print no control characters.
func checkImport(t *testing.T, data []byte) {
	rows, problems, err := readImport(bytes.NewReader(data))
	if err != nil {
		if rows != nil || problems != nil {
			t.Errorf("readImport returned rows or problems with the error %v", err)
		}
		return
	}
	prev := 0
	for _, r := range rows {
		if r.Line <= prev {
			t.Errorf("row line %d after line %d", r.Line, prev)
		}
		prev = r.Line
	}
	for _, p := range problems {
		if !strings.HasPrefix(p, "line ") {
			t.Errorf("problem %q names no line", p)
		}
		if !utf8.ValidString(p) || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
			t.Errorf("problem %q has control characters or invalid UTF-8", p)
		}
	}
}

func FuzzImportCSV(f *testing.F) {
	f.Add([]byte("username,email,password_hash,roles\nann,a@example.com,$2b$04$abc,editor\n"))
	f.Add([]byte(`0"0`))
	f.Add([]byte("ann,a@example.com,$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf"), []byte("{")) {
			return // JSON Lines: FuzzImportJSONL
		}
		checkImport(t, data)
	})
}

func FuzzImportJSONL(f *testing.F) {
	f.Add([]byte(`{"username":"ann","email":"a@example.com","password_hash":"$2b$04$abc","roles":["x"]}` + "\n"))
	f.Add([]byte(`{"username":"ann","password":"x"}` + "\n{\n"))
	f.Add([]byte(`{"roles":"a b","email":null}` + "\n" + `{"username":"\u001b[2J"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkImport(t, append([]byte("{}\n"), data...))
	})
}
