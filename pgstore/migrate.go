package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/migrations"
)

// The schema is the sequence of SQL files in migrations/, named
// NNNN_description.sql with increasing versions from 0001 (gaps allowed);
// schemaMigrations holds them in version order. Open applies, in order,
// each one the database has not recorded in
// hallpass_schema_migrations, each in its own transaction that first
// takes a transaction-scoped advisory lock, so several processes opening
// the same database at once apply each migration exactly once.
//
// To change the schema, add the next file, such as 0006_audit.sql, and
// the same version to sqlitestore (a version means the same change in
// both stores; it may change nothing in one of them); never edit or
// renumber one that has been released. A file may hold several
// statements, and must not contain BEGIN or COMMIT.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// schemaMigrations is the parsed contents of migrationFiles, in version
// order.
var schemaMigrations = migrations.MustParse(migrationFiles, "pgstore")

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
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, ms []migrations.Migration, now func() time.Time) error {
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
	if v > migrations.Latest(ms) {
		return fmt.Errorf("database schema version %d is newer than this program's (%d); upgrade hallpass", v, migrations.Latest(ms))
	}
	for _, m := range ms {
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
func apply(ctx context.Context, pool *pgxpool.Pool, key int64, m migrations.Migration, now func() time.Time) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM hallpass_schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if done {
			return errApplied
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO hallpass_schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.Version, now()); err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errApplied) {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return nil
}
