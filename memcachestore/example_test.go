package memcachestore_test

import (
	"log"
	"os"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/hallpass/hallpass/memcachestore"
	"github.com/hallpass/hallpass/session"
)

// Sessions on Memcached. Read the package documentation first: an evicted
// per-user index means a user's sessions can no longer be listed or
// revoked by user.
func ExampleNew() {
	client := memcache.New("127.0.0.1:11211", "127.0.0.2:11211")
	client.MaxIdleConns = 64 // gomemcache keeps 2 by default: see Connections
	sessions, err := session.New(session.Config{
		Store: memcachestore.New(client, memcachestore.Options{}),
		Keys:  [][]byte{[]byte(os.Getenv("SECRET_KEY"))},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = sessions
}
