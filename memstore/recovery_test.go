package memstore_test

import (
	"testing"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/recovery/recoverytest"
)

func TestRecoveryStore(t *testing.T) {
	recoverytest.Run(t, func(t *testing.T) recovery.Store { return memstore.NewRecoveryStore() })
}

func TestAccountStoreByEmail(t *testing.T) {
	recoverytest.RunUsers(t, func(t *testing.T) recoverytest.UserStore { return memstore.NewAccountStore() })
}
