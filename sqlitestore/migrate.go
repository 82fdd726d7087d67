package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hallpass/hallpass/internal/migrations"
)

// The schema is the sequence of SQL files in migrations/, named
// NNNN_description.sql with increasing versions from 0001 (gaps allowed,
// so that features developed side by side can reserve ranges). Open and
// New apply, in order, each one the database has not recorded in
// hallpass_schema_migrations, each in its own transaction. To change the
// schema, add the next file and bring migrations/baseline up to date
// (TestBaselineMatchesMigrations checks it); never edit or renumber a
// migration that has been released.
//
// A database without hallpass's tables gets the baseline instead, the
// schema of the latest migration in one file, so that hallpass never
// creates the unprefixed tables of its first releases (users, sessions),
// which an app's own tables may already be called.
//
//go:embed migrations/*.sql migrations/baseline/*.sql
var migrationFiles embed.FS

// schemaMigrations is the parsed contents of migrationFiles, in version
// order.
var schemaMigrations = migrations.MustParse(migrationFiles, "sqlitestore")

// schemaBaseline is the schema at the latest version, for new databases:
// the one file migrations/baseline/NNNN_schema.sql.
var schemaBaseline = func() *migrations.Migration {
	names, _ := fs.Glob(migrationFiles, "migrations/baseline/*_schema.sql")
	if len(names) != 1 {
		panic(fmt.Sprintf("sqlitestore: want one baseline schema, have %q", names))
	}
	base := path.Base(names[0])
	v, err := strconv.Atoi(strings.TrimSuffix(base, "_schema.sql"))
	if err != nil {
		panic(fmt.Sprintf("sqlitestore: baseline %s: name must be NNNN_schema.sql", base))
	}
	b, err := fs.ReadFile(migrationFiles, names[0])
	if err != nil {
		panic(err)
	}
	return &migrations.Migration{Version: v, Name: base, SQL: string(b)}
}()

// querier is what schemaVersion needs of a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// schemaVersion returns the highest migration version recorded in db, or 0.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM hallpass_schema_migrations`).Scan(&v)
	return v, err
}

// migrator applies migrations to one database.
type migrator struct {
	db *sql.DB
	// shared is set for an app's handle (New): its transactions do not
	// take the write lock at BEGIN, so each starts with a write.
	shared bool
	now    func() time.Time
}

// begin starts a transaction that holds the write lock from its start,
// so that it never fails halfway because another connection (or process)
// wrote between its reads and its writes.
func (m migrator) begin(ctx context.Context) (*sql.Tx, error) {
	return beginWrite(ctx, m.db, m.shared, "hallpass_schema_migrations")
}

// beginWrite starts a transaction on db that holds the write lock from
// its start. Open's writer takes it at BEGIN (_txlock=immediate); on an
// app's handle (shared), whose BEGIN is deferred, a first statement that
// deletes nothing from table takes it.
func beginWrite(ctx context.Context, db *sql.DB, shared bool, table string) (*sql.Tx, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil || !shared {
		return tx, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE 0`); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// migrate brings the schema of the database up to ms's last version: a
// database without hallpass's tables gets baseline at once when it is
// that version (nil: apply ms one by one). It refuses a database whose
// schema is newer than this program's, written by a later version of
// hallpass.
func (m migrator) migrate(ctx context.Context, ms []migrations.Migration, baseline *migrations.Migration) error {
	if _, err := m.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS hallpass_schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL -- Unix milliseconds
	) STRICT`); err != nil {
		return fmt.Errorf("sqlitestore: create hallpass_schema_migrations: %w", err)
	}
	if err := m.adoptLegacyVersions(ctx); err != nil {
		return err
	}
	v, err := schemaVersion(ctx, m.db)
	if err != nil {
		return fmt.Errorf("sqlitestore: read schema version: %w", err)
	}
	latest := migrations.Latest(ms)
	if v > latest {
		return fmt.Errorf("sqlitestore: database schema version %d is newer than this program's (%d); upgrade hallpass", v, latest)
	}
	if v == 0 && baseline != nil && baseline.Version == latest {
		versions := make([]int, len(ms))
		for i, mig := range ms {
			versions[i] = mig.Version
		}
		return m.apply(ctx, *baseline, versions)
	}
	for _, mig := range ms {
		if err := m.apply(ctx, mig, []int{mig.Version}); err != nil {
			return err
		}
	}
	return nil
}

// adoptLegacyVersions moves the versions that hallpass before migration
// 0005 recorded in schema_migrations into hallpass_schema_migrations, and
// drops that table. A schema_migrations of another tool (golang-migrate,
// Rails) has other columns and is left alone.
func (m migrator) adoptLegacyVersions(ctx context.Context) error {
	tx, err := m.begin(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: adopt schema_migrations: %w", err)
	}
	defer tx.Rollback()
	var cols string
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(group_concat(name, ','), '')
		FROM (SELECT name FROM pragma_table_info('schema_migrations') ORDER BY cid)`).Scan(&cols); err != nil {
		return fmt.Errorf("sqlitestore: adopt schema_migrations: %w", err)
	}
	if cols != "version,applied_at" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO hallpass_schema_migrations (version, applied_at)
		SELECT version, applied_at FROM schema_migrations`); err != nil {
		return fmt.Errorf("sqlitestore: adopt schema_migrations: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE schema_migrations`); err != nil {
		return fmt.Errorf("sqlitestore: adopt schema_migrations: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: adopt schema_migrations: %w", err)
	}
	return nil
}

// apply runs mig in one write transaction and records versions (mig's
// own, or every version the baseline stands for), unless another process
// applied it first: the last of versions is recorded already.
func (m migrator) apply(ctx context.Context, mig migrations.Migration, versions []int) error {
	tx, err := m.begin(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: migration %s: %w", mig.Name, err)
	}
	defer tx.Rollback()
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM hallpass_schema_migrations WHERE version = ?)`,
		versions[len(versions)-1]).Scan(&done); err != nil {
		return fmt.Errorf("sqlitestore: migration %s: read schema version: %w", mig.Name, err)
	}
	if done {
		return nil
	}
	if _, err := tx.ExecContext(ctx, mig.SQL); err != nil {
		return fmt.Errorf("sqlitestore: migration %s: %w", mig.Name, err)
	}
	at := m.now().UnixMilli()
	for _, version := range versions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hallpass_schema_migrations (version, applied_at) VALUES (?, ?)`,
			version, at); err != nil {
			return fmt.Errorf("sqlitestore: migration %s: record version: %w", mig.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: migration %s: commit: %w", mig.Name, err)
	}
	return nil
}
