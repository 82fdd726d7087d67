package login

import (
	"bytes"
	"testing"
)

// FuzzParseRemember checks that no cookie value makes parseRemember
// panic, and that a value it accepts re-encodes to itself: the one
// spelling setRemember writes for its selector and validator.
func FuzzParseRemember(f *testing.F) {
	sel := rememberEncoding.EncodeToString(bytes.Repeat([]byte{0xfe}, 32))
	f.Add(sel + ":" + rememberEncoding.EncodeToString(bytes.Repeat([]byte{0x01}, 32)))
	f.Add(sel + ":" + rememberEncoding.EncodeToString(make([]byte, 32)))
	// base64 decoders skip line breaks: the spelling CI's fuzzing found.
	f.Add("0000000000000000000000000000000000000000000:00000\n\n\n\n\n\n\n0000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, v string) {
		sel, val, ok := parseRemember(v)
		if !ok {
			return
		}
		if len(val) != 32 {
			t.Errorf("parseRemember(%q): validator of %d bytes, want 32", v, len(val))
		}
		if again := sel + ":" + rememberEncoding.EncodeToString(val); again != v {
			t.Errorf("parseRemember accepted %q, which encodes as %q: a cookie has two spellings", v, again)
		}
	})
}
