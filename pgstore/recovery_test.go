package pgstore_test

import (
	"testing"
	"time"

	"github.com/hallpass/hallpass/recovery"
	"github.com/hallpass/hallpass/recovery/recoverytest"
)

func TestRecoveryStore(t *testing.T) {
	testURL(t)
	recoverytest.Run(t, func(t *testing.T) recovery.Store { return mustOpen(t, time.Now).Recovery() })
}

func TestAccountStoreByEmail(t *testing.T) {
	testURL(t)
	recoverytest.RunUsers(t, func(t *testing.T) recoverytest.UserStore { return mustOpen(t, time.Now).Accounts() })
}
