package account_test

import (
	"errors"
	"fmt"

	"github.com/hallpass/hallpass/account"
)

// Validate a registration form, collecting one message per bad field.
func ExampleFieldErrors() {
	var errs account.FieldErrors
	errs.Add(account.ValidateUsername("a b"))
	errs.Add(account.ValidateEmail("not-an-email"))
	err := errs.Err()
	fmt.Println(errors.Is(err, account.ErrInvalid))
	fmt.Println(errs.For("username"))
	fmt.Println(errs.For("email"))
	// Output:
	// true
	// A username may contain only letters, digits, '.', '_' and '-'.
	// Please enter a valid email address, like name@example.com.
}
