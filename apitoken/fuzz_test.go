package apitoken_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/apitoken"
)

// FuzzWellFormed checks that a secret WellFormed accepts is the prefix and
// 256 bits, spelled exactly as base64url encodes them.
func FuzzWellFormed(f *testing.F) {
	f.Fuzz(func(t *testing.T, secret string) {
		if !apitoken.WellFormed(secret) {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(secret, apitoken.Prefix))
		if !strings.HasPrefix(secret, apitoken.Prefix) || err != nil || len(b) != 32 {
			t.Fatalf("WellFormed(%q) = true for a secret that is not the prefix and 32 bytes of base64url", secret)
		}
		if again := apitoken.Prefix + base64.RawURLEncoding.EncodeToString(b); again != secret {
			t.Errorf("WellFormed(%q) = true, but its bytes encode as %q: a token has two spellings", secret, again)
		}
	})
}
