package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/memstore"
)

// The memory stores need nothing installed: good for tests and for a
// single process that may forget its sessions on restart.
func ExampleNewAccountStore() {
	users := memstore.NewAccountStore()
	ctx := context.Background()
	users.CreateUser(ctx, &account.User{Username: "Ada", Email: "ada@example.com"})
	u, _ := users.UserByUsername(ctx, "ADA") // usernames are unique ignoring case
	fmt.Println(u.ID, u.Username)
	err := users.CreateUser(ctx, &account.User{Username: "ada", Email: "other@example.com"})
	fmt.Println(errors.Is(err, account.ErrUsernameTaken))
	// Output:
	// 1 Ada
	// true
}
