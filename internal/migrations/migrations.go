// Package migrations reads the schema migrations that the SQL stores
// embed: files named migrations/NNNN_description.sql, numbered from 0001
// without gaps. Each store applies them its own way; this package only
// reads and checks them.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one schema change: the SQL of one file.
type Migration struct {
	Version int    // the file's number: 1 for 0001_sessions.sql
	Name    string // the file's base name, for errors
	SQL     string // the file's contents; may hold several statements
}

// Parse returns the migrations in the files migrations/*.sql of fsys, in
// version order. Other files in migrations/ are ignored. It returns an
// error, starting with pkg (such as "pgstore: migration ..."), when a
// file's name is not NNNN_description.sql with NNNN at least 1, or when
// the versions do not run from 1 without gaps or repeats.
func Parse(fsys fs.FS, pkg string) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("%s: migrations: %w", pkg, err)
	}
	ms := make([]Migration, 0, len(names))
	for _, name := range names { // fs.Glob returns names sorted
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: migration %s: name must be NNNN_description.sql", pkg, base)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("%s: migration %s: version %d, want %d (versions run from 1 without gaps)", pkg, base, v, len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("%s: migration %s: %w", pkg, base, err)
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	return ms, nil
}

// MustParse is like Parse but panics on an error, for initialising a
// package variable from files embedded in the program.
func MustParse(fsys fs.FS, pkg string) []Migration {
	ms, err := Parse(fsys, pkg)
	if err != nil {
		panic(err)
	}
	return ms
}
