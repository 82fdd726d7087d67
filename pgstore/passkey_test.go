package pgstore_test

import (
	"testing"
	"time"

	"github.com/hallpass/hallpass/passkey"
	"github.com/hallpass/hallpass/passkey/passkeytest"
)

func TestPasskeyStore(t *testing.T) {
	testURL(t)
	passkeytest.Run(t, func(t *testing.T) passkey.Store { return mustOpen(t, time.Now).Passkeys() })
}
