package sqlitestore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/sqlitestore"
)

// One SQLite file holds sessions and accounts; migrations run at Open.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "hallpass")
	defer os.RemoveAll(dir)
	db, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "hallpass.db"), sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	sessions, err := session.New(session.Config{Store: db.Sessions(), Keys: [][]byte{[]byte("a secret key of at least 32 bytes!")}})
	fmt.Println(err == nil && sessions != nil, db.Accounts() != nil)
	// Output: true true
}

// An app that has its own database (and its own users table) keeps
// hallpass's tables in it: New takes the app's *sql.DB.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "app")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	appDB, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer appDB.Close()
	appDB.ExecContext(ctx, `CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, pw_hash TEXT NOT NULL)`)

	db, err := sqlitestore.New(ctx, appDB, sqlitestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close() // leaves appDB open
	var tables []string
	rows, _ := appDB.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	rows.Close()
	fmt.Println(tables)
	// Output: [hallpass_api_tokens hallpass_email_tokens hallpass_identities hallpass_passkeys hallpass_recovery_codes hallpass_remember_tokens hallpass_schema_migrations hallpass_sessions hallpass_totp hallpass_users hallpass_verified_emails users]
}
