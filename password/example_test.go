package password_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hallpass/hallpass/password"
)

func ExampleHasher_Hash() {
	var h password.Hasher // argon2id, m=19456 KiB, t=2, p=1
	ctx := context.Background()

	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		fmt.Println(err)
		return
	}
	// The salt (and so the hash) is random; the parameters are not.
	fmt.Println(strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$"))

	ok, err := h.Verify(ctx, "correct horse battery staple", encoded)
	fmt.Println(ok, err)
	ok, err = h.Verify(ctx, "Tr0ub4dor&3", encoded)
	fmt.Println(ok, err)
	fmt.Println(h.NeedsRehash(encoded))
	// Output:
	// true
	// true <nil>
	// false <nil>
	// false
}

func ExampleVerify() {
	ctx := context.Background()
	hashes := []string{
		// werkzeug.security.generate_password_hash (Flask), Werkzeug 2.2 and 3.1.
		"pbkdf2:sha256:1000$rLMPkKvmFg85Kqmw$a74d26c2be69baede3f81af92f9c5191546c35fef8e3586ef949acf782670687",
		"scrypt:1024:8:1$Zdlf9p9sfYG2OkwM$c5537707226993ceb343eb1767bccd726153214939112124fa80bdf310081e94c67eecfcba63009a98a0ce601236db33314c522ca0fbc5c110bd9d4007a31fd6",
		// Django's make_password.
		"pbkdf2_sha256$1000$9XouNkpJbCvDmv2lLMQi4u$5wnacpBmFn/0meXvBM1IWfM8rKvG5VGVdlmoFX4KMVg=",
		// Python's bcrypt.hashpw.
		"$2b$04$2mIVYBekUKs1CyqFiLJPSuKT0YyQqWGISWYp.Jyu6LGrMSVxmPKOO",
	}
	for _, stored := range hashes {
		ok, err := password.Verify(ctx, "correct horse battery staple", stored)
		wrong, _ := password.Verify(ctx, "correct horse battery stapler", stored)
		// Each legacy hash should be replaced by an argon2id one at login.
		fmt.Println(ok, wrong, err, password.NeedsRehash(stored))
	}

	// A format Verify does not know is an error, never just "wrong password".
	_, err := password.Verify(ctx, "hunter2", "sha256$salt$9ba1f63365a6caf66e46348f43cdef956015bea997adeb06e69007ee3ff517df")
	fmt.Println(errors.Is(err, password.ErrUnknownFormat))
	// Output:
	// true false <nil> true
	// true false <nil> true
	// true false <nil> true
	// true false <nil> true
	// true
}

func ExamplePolicy_Check() {
	var policy password.Policy // 8 to 128 characters, common passwords refused
	for _, pw := range []string{
		"hunter2",
		"Password1",
		"alice.smith",
		"correct horse battery staple",
		"日本語のパスワード",
	} {
		if err := policy.Check(pw, "alice.smith"); err != nil {
			fmt.Printf("%s: %v\n", pw, err)
			continue
		}
		fmt.Printf("%s: ok\n", pw)
	}
	// Output:
	// hunter2: Password must be at least 8 characters.
	// Password1: This password is too common. Choose one that is harder to guess.
	// alice.smith: Password must not be the same as your username.
	// correct horse battery staple: ok
	// 日本語のパスワード: ok
}

// A login handler makes an unknown username cost the same hashing work as a
// wrong password, so response times do not reveal which usernames exist.
func ExampleHasher_DummyVerify() {
	h := &password.Hasher{}
	ctx := context.Background()
	users := map[string]string{}
	users["alice"], _ = h.Hash(ctx, "correct horse battery staple")

	login := func(username, pw string) error {
		stored, found := users[username]
		if !found {
			if err := h.DummyVerify(ctx, pw); err != nil {
				return err // ErrBusy, ErrTooLong, ...
			}
			return errors.New("wrong username or password")
		}
		ok, err := h.Verify(ctx, pw, stored)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("wrong username or password")
		}
		return nil
	}

	before := h.Stats().Computations
	fmt.Println(login("alice", "guess"), h.Stats().Computations-before)
	fmt.Println(login("mallory", "guess"), h.Stats().Computations-before)
	// Output:
	// wrong username or password 1
	// wrong username or password 2
}
