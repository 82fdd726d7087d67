package redisstore_test

import (
	"log"
	"os"

	"github.com/hallpass/hallpass/redisstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
)

// Sessions and login-throttling counters shared by every process that
// uses the same Redis (or Redis Cluster, with redis+cluster://).
func ExampleNew() {
	client, err := redisstore.ParseURL(os.Getenv("REDIS_URL")) // e.g. redis://localhost:6379/0
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	sessions, err := session.New(session.Config{
		Store: redisstore.New(client, redisstore.Options{}),
		Keys:  [][]byte{[]byte(os.Getenv("SECRET_KEY"))},
	})
	if err != nil {
		log.Fatal(err)
	}
	limiter := throttle.New(redisstore.NewCounter(client, redisstore.Options{}), throttle.Config{})
	_, _ = sessions, limiter
}
