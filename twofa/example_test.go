package twofa_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/twofa"
)

// A user enrols: the app shows the secret (and its QR code), the user
// types the code their app shows, and gets recovery codes. Later logins
// check a code once.
func Example() {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	svc, err := twofa.New(twofa.Config{
		Store:  memstore.NewTwoFAStore(),
		Keys:   [][]byte{[]byte("a secret key of 32 bytes or more!")},
		Issuer: "example.com",
		Now:    func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	e, _ := svc.NewEnrolment("ada")
	// Keep e.Secret in the session; show e.URL as a QR code (e.QR).
	code, _ := twofa.Code(e.Secret, now) // what the user's app shows
	recovery, err := svc.Enable(ctx, "user-1", e.Secret, code)
	fmt.Println(len(recovery), "recovery codes,", err)

	now = now.Add(twofa.Period)
	code, _ = twofa.Code(e.Secret, now)
	fmt.Println("login:", svc.Verify(ctx, "user-1", code))
	fmt.Println("same code again:", svc.Verify(ctx, "user-1", code))
	fmt.Println("recovery code:", svc.Verify(ctx, "user-1", recovery[0]))
	// Output:
	// 10 recovery codes, <nil>
	// login: <nil>
	// same code again: twofa: invalid code
	// recovery code: <nil>
}
