package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"sync"
)

// TokenSize is the number of random bytes in a session token (256 bits).
const TokenSize = 32

const macSize = sha256.Size

// cookieEncoding encodes cookie values: base64url without padding, decoded
// strictly, so that the spare bits of the last character must be zero and
// each token has exactly one valid spelling.
var cookieEncoding = base64.RawURLEncoding.Strict()

// cookieLen is the length of an encoded cookie value: base64url, without
// padding, of the token followed by its HMAC-SHA256 tag.
var cookieLen = cookieEncoding.EncodedLen(TokenSize + macSize)

// MinKeySize is the minimum length of a secret key.
const MinKeySize = 32

// keyring signs and verifies session tokens. Each configured secret key is
// turned into a cookie-specific subkey, HMAC(key, "hallpass session cookie
// v1"), so the same secret can serve other purposes (CSRF, remember-me)
// without one MAC ever being valid for another. The first key signs; every
// key verifies, so keys can be rotated by prepending a new one.
type keyring struct {
	pools []*sync.Pool // one pool of *macState per key, first signs
}

// macState is a reusable HMAC with room for its sum, so computing a tag
// allocates nothing.
type macState struct {
	h   hash.Hash
	sum [macSize]byte
}

func newKeyring(keys [][]byte, purpose string) (*keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("session: at least one secret key is required")
	}
	kr := &keyring{}
	for i, k := range keys {
		if len(k) < MinKeySize {
			return nil, fmt.Errorf("session: secret key %d is %d bytes, want at least %d", i+1, len(k), MinKeySize)
		}
		d := hmac.New(sha256.New, k)
		d.Write([]byte(purpose))
		sub := d.Sum(nil)
		kr.pools = append(kr.pools, &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, sub)} }})
	}
	return kr, nil
}

// check reports whether tag is the tag of msg under key i.
func (kr *keyring) check(i int, msg, tag []byte) bool {
	st := kr.pools[i].Get().(*macState)
	st.h.Reset()
	st.h.Write(msg)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), tag)
	kr.pools[i].Put(st)
	return ok
}

// sign returns the cookie value for token.
func (kr *keyring) sign(token []byte) string {
	st := kr.pools[0].Get().(*macState)
	st.h.Reset()
	st.h.Write(token)
	var buf [TokenSize + macSize]byte
	copy(buf[:], token)
	copy(buf[TokenSize:], st.h.Sum(st.sum[:0]))
	kr.pools[0].Put(st)
	return cookieEncoding.EncodeToString(buf[:])
}

// verify decodes a cookie value into dst and reports whether its tag is
// valid under any key. Garbage of any kind yields false, and so does any
// spelling of a valid value other than the one sign produced.
func (kr *keyring) verify(v string, dst *[TokenSize]byte) bool {
	if len(v) != cookieLen {
		return false
	}
	var src [128]byte // copied to the stack: no allocation for the conversion
	var buf [TokenSize + macSize]byte
	n, err := cookieEncoding.Decode(buf[:], src[:copy(src[:], v)])
	if err != nil || n != len(buf) {
		return false
	}
	for i := range kr.pools {
		if kr.check(i, buf[:TokenSize], buf[TokenSize:]) {
			copy(dst[:], buf[:TokenSize])
			return true
		}
	}
	return false
}

// newToken returns TokenSize bytes from crypto/rand.
func newToken() []byte {
	b := make([]byte, TokenSize)
	rand.Read(b) // never returns an error (crypto/rand crashes the program instead)
	return b
}

// IDOf returns the session ID under which the session with the given token
// is stored: the base64url SHA-256 digest of the token. A store holds only
// IDs, so a leaked store contains no usable cookies.
func IDOf(token []byte) string {
	sum := sha256.Sum256(token)
	var out [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}
