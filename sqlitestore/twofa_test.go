package sqlitestore

import (
	"testing"

	"github.com/hallpass/hallpass/twofa"
	"github.com/hallpass/hallpass/twofa/twofatest"
)

func TestTwoFAStore(t *testing.T) {
	twofatest.Run(t, func(t *testing.T) twofa.Store {
		db, _ := mustOpen(t, Options{SweepInterval: -1})
		return db.TwoFA()
	})
}
