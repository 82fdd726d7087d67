package sessiontest_test

import (
	"testing"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/session/sessiontest"
)

// A store's whole conformance test: open a fresh store on the suite's
// clock, and let the suite check every promise of session.Store.
func ExampleRun() {
	_ = func(t *testing.T) {
		sessiontest.Run(t, func(t *testing.T, clock *sessiontest.Clock) session.Store {
			s := memstore.NewSessionStore(memstore.SessionOptions{Now: clock.Now})
			t.Cleanup(func() { s.Close() })
			return s
		})
	}
}
