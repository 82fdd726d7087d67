package sqlitestore

import (
	"testing"

	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/identity/identitytest"
)

func TestIdentityStore(t *testing.T) {
	identitytest.Run(t, func(t *testing.T) identity.Store {
		db, _ := mustOpen(t, Options{SweepInterval: -1})
		return db.Identities()
	})
}
