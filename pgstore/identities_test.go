package pgstore_test

import (
	"testing"
	"time"

	"github.com/hallpass/hallpass/identity"
	"github.com/hallpass/hallpass/identity/identitytest"
)

func TestIdentityStore(t *testing.T) {
	testURL(t)
	identitytest.Run(t, func(t *testing.T) identity.Store { return mustOpen(t, time.Now).Identities() })
}
