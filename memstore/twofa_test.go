package memstore_test

import (
	"testing"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/twofa"
	"github.com/hallpass/hallpass/twofa/twofatest"
)

func TestTwoFAStore(t *testing.T) {
	twofatest.Run(t, func(t *testing.T) twofa.Store { return memstore.NewTwoFAStore() })
}
