package pgstore_test

import (
	"testing"
	"time"

	"github.com/hallpass/hallpass/twofa"
	"github.com/hallpass/hallpass/twofa/twofatest"
)

func TestTwoFAStore(t *testing.T) {
	testURL(t)
	twofatest.Run(t, func(t *testing.T) twofa.Store { return mustOpen(t, time.Now).TwoFA() })
}
