package accounttest_test

import (
	"testing"

	"github.com/hallpass/hallpass/account/accounttest"
	"github.com/hallpass/hallpass/memstore"
)

// An account store's conformance test.
func ExampleRun() {
	_ = func(t *testing.T) {
		accounttest.Run(t, func(t *testing.T) accounttest.Stores {
			s := memstore.NewAccountStore()
			return accounttest.Stores{Users: s, Remember: s, Tokens: s}
		})
	}
}
