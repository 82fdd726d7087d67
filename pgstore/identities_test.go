package pgstore_test

import (
	"testing"
	"time"

	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/identity/identitytest"
	"github.com/hallpass/hallpass/internal/storetest"
)

func TestIdentityStore(t *testing.T) {
	testURL(t)
	identitytest.Run(t, func(t *testing.T) identity.Store { return mustOpen(t, time.Now).Identities() })
}

func TestDeleteUserLeavesNothing(t *testing.T) {
	testURL(t)
	db := mustOpen(t, time.Now)
	storetest.DeleteUserLeavesNothing(t, storetest.Stores{Accounts: db.Accounts(), TwoFA: db.TwoFA(),
		Passkeys: db.Passkeys(), Identities: db.Identities(), Recovery: db.Recovery()})
}
