// Package migrations reads the schema migrations that the SQL stores
// embed: files named migrations/NNNN_description.sql, with increasing
// numbers from 0001 (gaps allowed, so that features developed side by side
// can reserve ranges). Each store applies them its own way, each one the
// database has not recorded; this package only reads and checks them.
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
// two files share a version.
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
		if len(ms) > 0 && v <= ms[len(ms)-1].Version {
			return nil, fmt.Errorf("%s: migration %s: version %d repeats %s", pkg, base, v, ms[len(ms)-1].Name)
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

// Latest returns the highest version of ms (sorted, as Parse returns
// them), or 0 for none.
func Latest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}
