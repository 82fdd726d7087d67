package session

import (
	"bytes"
	"testing"
)

// FuzzVerifyCookie checks that no cookie value makes verify panic, and
// that a value it accepts re-encodes to itself: the one spelling sign
// writes for its token.
func FuzzVerifyCookie(f *testing.F) {
	kr, err := newKeyring([][]byte{[]byte("0123456789abcdef0123456789abcdef")}, "hallpass session cookie v1")
	if err != nil {
		f.Fatal(err)
	}
	// Valid cookies, for the mutator to vary.
	for _, tok := range [][]byte{make([]byte, TokenSize), bytes.Repeat([]byte{0xff}, TokenSize), []byte("the thirty-two bytes of a token!")} {
		f.Add(kr.sign(tok))
	}
	f.Fuzz(func(t *testing.T, v string) {
		var tok [TokenSize]byte
		if !kr.verify(v, &tok) {
			return
		}
		if again := kr.sign(tok[:]); again != v {
			t.Errorf("verify accepted %q, which signs as %q: a token has two spellings", v, again)
		}
	})
}
