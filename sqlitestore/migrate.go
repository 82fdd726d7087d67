package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/internal/migrations"
)

// The schema is the sequence of SQL files in migrations/, named
// NNNN_description.sql with increasing versions from 0001 (gaps allowed).
// Open applies, in order, each one the database has not recorded in
// schema_migrations, each in its own transaction. To change the schema,
// add the next file; never edit or renumber one that has been released.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// schemaMigrations is the parsed contents of migrationFiles, in version
// order.
var schemaMigrations = migrations.MustParse(migrationFiles, "sqlitestore")

// schemaVersion returns the highest migration version recorded in db, or 0.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrate brings the schema of the database behind w (the writer pool) up
// to date. It refuses a database whose schema is newer than this program's,
// written by a later version of hallpass.
func migrate(ctx context.Context, w *sql.DB, ms []migrations.Migration, now func() time.Time) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL -- Unix milliseconds
	) STRICT`); err != nil {
		return fmt.Errorf("sqlitestore: create schema_migrations: %w", err)
	}
	v, err := schemaVersion(ctx, w)
	if err != nil {
		return fmt.Errorf("sqlitestore: read schema version: %w", err)
	}
	if v > migrations.Latest(ms) {
		return fmt.Errorf("sqlitestore: database schema version %d is newer than this program's (%d); upgrade hallpass", v, migrations.Latest(ms))
	}
	for _, m := range ms {
		if err := apply(ctx, w, m, now); err != nil {
			return err
		}
	}
	return nil
}

// apply runs m in one write transaction, unless another process applied it
// first.
func apply(ctx context.Context, w *sql.DB, m migrations.Migration, now func() time.Time) error {
	tx, err := w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see writerDSN
	if err != nil {
		return fmt.Errorf("sqlitestore: migration %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&done); err != nil {
		return fmt.Errorf("sqlitestore: migration %s: %w", m.Name, err)
	}
	if done {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlitestore: migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.Version, now().UnixMilli()); err != nil {
		return fmt.Errorf("sqlitestore: migration %s: record version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: migration %s: commit: %w", m.Name, err)
	}
	return nil
}
