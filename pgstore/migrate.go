package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The schema is the sequence of SQL files in migrations/, named
// NNNN_description.sql with versions numbered from 0001 without gaps; the
// package's migrations slice holds them in version order. Open applies,
// in order, each one the database has not recorded in
// hallpass_schema_migrations, each in its own transaction that first
// takes a transaction-scoped advisory lock, so several processes opening
// the same database at once apply each migration exactly once.
//
// To change the schema (for example to add the accounts or API token
// tables), add the next file, such as 0003_audit.sql; never edit or
// renumber one that has been released. A file may hold several
// statements, and must not contain BEGIN or COMMIT.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema change.
type migration struct {
	version int
	name    string // file name, for errors
	sql     string
}

// migrations is the parsed contents of migrationFiles, in version order.
var migrations = mustParseMigrations(migrationFiles)

func mustParseMigrations(fsys fs.FS) []migration {
	ms, err := parseMigrations(fsys)
	if err != nil {
		panic(err)
	}
	return ms
}

// parseMigrations reads the migration files of fsys, checking that their
// versions run from 1 without gaps or repeats.
func parseMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names { // fs.Glob returns names sorted
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("pgstore: migration %s: name must be NNNN_description.sql", base)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("pgstore: migration %s: version %d, want %d (versions run from 1 without gaps)", base, v, len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// lockKey returns the key of the advisory lock that serialises the
// migrations of schema ("" for the connection's default schema).
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hallpass/pgstore migrate\x00" + schema))
	return int64(h.Sum64())
}

// migrate brings the schema of the database behind pool up to date,
// creating schema first if it is not "". It refuses a database whose
// schema is newer than this program's, written by a later version of
// hallpass.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, ms []migration, now func() time.Time) error {
	key := lockKey(schema)
	var v int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
			return err
		}
		if schema != "" {
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS hallpass_schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return fmt.Errorf("create hallpass_schema_migrations: %w", err)
		}
		var err error
		v, err = schemaVersion(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if v > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this program's (%d); upgrade hallpass", v, len(ms))
	}
	for _, m := range ms[v:] {
		if err := apply(ctx, pool, key, m, now); err != nil {
			return err
		}
	}
	return nil
}

// schemaVersion returns the highest migration version recorded, or 0.
func schemaVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	var v int
	err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM hallpass_schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// errApplied ends the transaction of a migration that another process
// applied first.
var errApplied = errors.New("already applied")

// apply runs m in one transaction holding the migration lock, unless
// another process applied it first.
func apply(ctx context.Context, pool *pgxpool.Pool, key int64, m migration, now func() time.Time) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
			return err
		}
		v, err := schemaVersion(ctx, tx)
		if err != nil {
			return err
		}
		if v >= m.version {
			return errApplied
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO hallpass_schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.version, now()); err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errApplied) {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	return nil
}
