package account_test

import (
	"errors"
	"fmt"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/password"
)

// Validate a registration form, collecting one message per bad field: a
// password policy's refusal is filed under "password".
func ExampleFieldErrors() {
	var errs account.FieldErrors
	errs.Add(account.ValidateUsername("a b"))
	errs.Add(account.ValidateEmail("not-an-email"))
	errs.Add(password.Policy{}.Check("password", "a b"))
	err := errs.Err()
	fmt.Println(errors.Is(err, account.ErrInvalid))
	fmt.Println(errs.For("username"))
	fmt.Println(errs.For("email"))
	fmt.Println(errs.For("password"))
	// Output:
	// true
	// A username may contain only letters, digits, '.', '_' and '-'.
	// Please enter a valid email address, like name@example.com.
	// This password is too common. Choose one that is harder to guess.
}
