package memstore_test

import (
	"testing"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/passkey/passkeytest"
)

func TestPasskeyStore(t *testing.T) {
	passkeytest.Run(t, func(t *testing.T) passkey.Store { return memstore.NewPasskeyStore() })
}
