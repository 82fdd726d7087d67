package passkey_test

import (
	"context"
	"fmt"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/passkey"
)

// A ceremony starts on the server: the options go to the browser's
// navigator.credentials.create, the state stays in the session until the
// browser's answer comes back to FinishRegistration.
func Example() {
	svc, err := passkey.New(passkey.Config{Store: memstore.NewPasskeyStore(), BaseURL: "https://login.example.com"})
	if err != nil {
		panic(err)
	}
	c, err := svc.BeginRegistration(context.Background(), &account.User{ID: "user-1", Username: "ada"})
	fmt.Println(err, len(c.Options) > 0, len(c.State) > 0)
	// session.Put("passkey_reg", c.State); send c.Options to the browser;
	// then svc.FinishRegistration(ctx, user, state, "Laptop", r).
	// Output: <nil> true true
}
