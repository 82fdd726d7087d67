package sqlitestore

import (
	"testing"

	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/identity/identitytest"
	"github.com/hallpass/hallpass/internal/storetest"
)

func TestIdentityStore(t *testing.T) {
	identitytest.Run(t, func(t *testing.T) identity.Store {
		db, _ := mustOpen(t, Options{SweepInterval: -1})
		return db.Identities()
	})
}

func TestDeleteUserLeavesNothing(t *testing.T) {
	db, _ := mustOpen(t, Options{SweepInterval: -1})
	storetest.DeleteUserLeavesNothing(t, storetest.Stores{Accounts: db.Accounts(), TwoFA: db.TwoFA(),
		Passkeys: db.Passkeys(), Identities: db.Identities(), Recovery: db.Recovery()})
}
