package pgstore_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

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

// An app that already has a pool on its database keeps hallpass's tables
// (all named hallpass_*) next to its own: New takes the pool.
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	db, err := pgstore.New(ctx, pool, pgstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close() // leaves the pool open
	_, _ = db.Sessions(), db.Accounts()
}
