package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/hallpass/hallpass/pgstore"
	"github.com/hallpass/hallpass/session"
)

// Sessions and accounts on PostgreSQL; Open runs the migrations (safely,
// when several processes start at once).
func ExampleOpen() {
	db, err := pgstore.Open(context.Background(), os.Getenv("DATABASE_URL"), pgstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	sessions, err := session.New(session.Config{Store: db.Sessions(), Keys: [][]byte{[]byte(os.Getenv("SECRET_KEY"))}})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = sessions, db.Accounts()
}
