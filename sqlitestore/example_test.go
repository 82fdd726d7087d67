package sqlitestore_test

import (
	"context"
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
