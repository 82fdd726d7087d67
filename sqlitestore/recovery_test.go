package sqlitestore

import (
	"testing"

	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/recovery/recoverytest"
)

func TestRecoveryStore(t *testing.T) {
	recoverytest.Run(t, func(t *testing.T) recovery.Store {
		db, _ := mustOpen(t, Options{SweepInterval: -1})
		return db.Recovery()
	})
}

func TestAccountStoreByEmail(t *testing.T) {
	recoverytest.RunUsers(t, func(t *testing.T) recoverytest.UserStore {
		db, _ := mustOpen(t, Options{SweepInterval: -1})
		return db.Accounts()
	})
}
