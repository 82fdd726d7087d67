package sqlitestore

import (
	"testing"

	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/passkey/passkeytest"
)

func TestPasskeyStore(t *testing.T) {
	passkeytest.Run(t, func(t *testing.T) passkey.Store {
		db, _ := mustOpen(t, Options{SweepInterval: -1})
		return db.Passkeys()
	})
}
