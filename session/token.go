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

// cookieLen is the length of an encoded cookie value: base64url, without
// padding, of the token followed by its HMAC-SHA256 tag.
var cookieLen = base64.RawURLEncoding.EncodedLen(TokenSize + macSize)

// MinKeySize is the minimum length of a secret key.
const MinKeySize = 32

// keyring signs and verifies session tokens. Each configured secret key is
// turned into a cookie-specific subkey, HMAC(key, "hallpass session cookie
// v1"), so the same secret can serve other purposes (CSRF, remember-me)
// without one MAC ever being valid for another. The first key signs; every
// key verifies, so keys can be rotated by prepending a new one.
type keyring struct {
	pools []*sync.Pool // one pool of HMAC states per key, first signs
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
		kr.pools = append(kr.pools, &sync.Pool{New: func() any { return hmac.New(sha256.New, sub) }})
	}
	return kr, nil
}

// mac appends the tag of msg under key i to dst.
func (kr *keyring) mac(i int, dst, msg []byte) []byte {
	h := kr.pools[i].Get().(hash.Hash)
	h.Reset()
	h.Write(msg)
	dst = h.Sum(dst)
	kr.pools[i].Put(h)
	return dst
}

// sign returns the cookie value for token.
func (kr *keyring) sign(token []byte) string {
	var buf [TokenSize + macSize]byte
	b := append(buf[:0], token...)
	b = kr.mac(0, b, token)
	return base64.RawURLEncoding.EncodeToString(b)
}

// verify decodes a cookie value and returns its token when the tag is
// valid under any key. Garbage of any kind yields ok == false.
func (kr *keyring) verify(v string) (token []byte, ok bool) {
	if len(v) != cookieLen {
		return nil, false
	}
	var src [128]byte // copied to the stack: no allocation for the conversion
	var buf [TokenSize + macSize]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], src[:copy(src[:], v)])
	if err != nil || n != len(buf) {
		return nil, false
	}
	tok, tag := buf[:TokenSize], buf[TokenSize:]
	var sum [macSize]byte
	for i := range kr.pools {
		if hmac.Equal(kr.mac(i, sum[:0], tok), tag) {
			return append([]byte(nil), tok...), true
		}
	}
	return nil, false
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
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
