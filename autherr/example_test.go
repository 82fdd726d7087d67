package autherr_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/hallpass/hallpass/autherr"
)

// ErrStoreDown is a package's sentinel error: errors.Is finds it, and its
// kind travels with every error that wraps it.
var ErrStoreDown = autherr.New(autherr.Unavailable, "mystore: store unavailable")

func Example() {
	// A mechanism decides the kind and the message where it fails.
	err := fmt.Errorf("%w: load user: %w", ErrStoreDown, errors.New("dial tcp 10.0.0.1:5432: connection refused"))
	fmt.Println(errors.Is(err, ErrStoreDown), autherr.KindOf(err), autherr.MessageOf(err))

	throttled := &autherr.Error{Kind: autherr.Throttled, RetryAfter: 7 * time.Minute,
		Message: "Too many failed attempts. Try again in 7 minutes."}

	// The HTTP layer only looks the kind up.
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/login", nil)
	r.Header.Set("Accept", "application/json")
	autherr.WriteHTTP(w, r, throttled)
	fmt.Print(w.Code, " ", w.Header().Get("Retry-After"), " ", w.Body.String())
	// Output:
	// true unavailable The service is temporarily unavailable. Please try again in a moment.
	// 429 420 {"error":"throttled","message":"Too many failed attempts. Try again in 7 minutes."}
}
