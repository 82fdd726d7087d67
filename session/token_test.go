package session

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/hallpass/hallpass/internal/slots"
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
		id, ok := kr.verify(v, &tok)
		if !ok {
			return
		}
		if id != IDOf(tok[:]) {
			t.Errorf("verify(%q) = ID %q, want IDOf(token) %q", v, id, IDOf(tok[:]))
		}
		if again := kr.sign(tok[:]); again != v {
			t.Errorf("verify accepted %q, which signs as %q: a token has two spellings", v, again)
		}
	})
}

// TestVerifiedCookies checks the keyring's memory of verified values: a
// value verifies the same, token and ID, whether remembered or not; a
// value one character off never does, remembered neighbour or not; a
// keyring with other keys remembers nothing of another's; and values
// verified by many goroutines at once, far more than there are slots,
// each yield their own token and ID.
func TestVerifiedCookies(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	kr, err := newKeyring([][]byte{key}, "hallpass session cookie v1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := newKeyring([][]byte{bytes.Repeat([]byte("k"), 32)}, "hallpass session cookie v1")
	if err != nil {
		t.Fatal(err)
	}
	tok := newToken()
	v := kr.sign(tok)
	for i := range 3 { // remembered by sign, then by verify
		var got [TokenSize]byte
		id, ok := kr.verify(v, &got)
		if !ok || !bytes.Equal(got[:], tok) || id != IDOf(tok) {
			t.Fatalf("verify #%d = %x, %q, %v; want %x, %q, true", i+1, got, id, ok, tok, IDOf(tok))
		}
		kr.known = verifiedCookies{} // forget: the next round verifies in full
	}
	kr.sign(tok)
	for i := range v {
		for _, c := range []byte{'A', '-', '_', '0'} {
			if v[i] == c {
				continue
			}
			bad := v[:i] + string(c) + v[i+1:]
			var got [TokenSize]byte
			if _, ok := kr.verify(bad, &got); ok {
				t.Fatalf("verify accepted %q, one character off a remembered value", bad)
			}
		}
	}
	var got [TokenSize]byte
	if _, ok := other.verify(v, &got); ok {
		t.Fatal("a keyring with another key accepted the value")
	}

	const workers, each = 8, 2 * slots.Size / 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks := make([][]byte, each)
			vals := make([]string, each)
			for i := range toks {
				toks[i] = newToken()
				vals[i] = kr.sign(toks[i])
			}
			for round := range 2 {
				for i, v := range vals {
					var got [TokenSize]byte
					id, ok := kr.verify(v, &got)
					if !ok || !bytes.Equal(got[:], toks[i]) || id != IDOf(toks[i]) {
						errs <- fmt.Errorf("round %d: verify of value %d = %x, %q, %v; want its own token and ID", round, i, got, id, ok)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSameValue checks the remembered value's comparison against
// bytes.Equal: equal values, and a value that differs from another in one
// bit, at each byte (the eight-byte words and the tail after them) and at
// each bit of the first, the last and a middle byte.
func TestSameValue(t *testing.T) {
	var a [cookieLen]byte
	copy(a[:], "the cookie value the keyring signed for some token, eighty-six characters long......")
	b := a
	if !sameValue(&a, &b) {
		t.Fatal("equal values compare unequal")
	}
	for i := range cookieLen {
		bits := []byte{0x01}
		if i == 0 || i == cookieLen/2 || i == cookieLen-1 {
			bits = []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80}
		}
		for _, bit := range bits {
			b := a
			b[i] ^= bit
			if got, want := sameValue(&a, &b), bytes.Equal(a[:], b[:]); got != want {
				t.Fatalf("byte %d, bit %#x: sameValue = %v, bytes.Equal = %v", i, bit, got, want)
			}
		}
	}
}

// BenchmarkVerifyCookie is the cost of reading a session cookie: a value
// the keyring remembers, and one it verifies in full (decoding, the
// HMAC-SHA256 check and the SHA-256 of the ID).
//
//	go test -run '^$' -bench VerifyCookie -benchmem ./session/
func BenchmarkVerifyCookie(b *testing.B) {
	kr, err := newKeyring([][]byte{[]byte("0123456789abcdef0123456789abcdef")}, "hallpass session cookie v1")
	if err != nil {
		b.Fatal(err)
	}
	v := kr.sign(newToken())
	for _, bb := range []struct {
		name   string
		forget bool
	}{{"remembered", false}, {"full", true}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			var tok [TokenSize]byte
			for b.Loop() {
				if bb.forget {
					kr.known.Slot(cookieArray(v)[:]).Store(nil)
				}
				if _, ok := kr.verify(v, &tok); !ok {
					b.Fatal("verify failed")
				}
			}
		})
	}
}

// cookieArray returns v, a cookie value, as the array verify copies it to.
func cookieArray(v string) *[cookieLen]byte {
	var a [cookieLen]byte
	copy(a[:], v)
	return &a
}
