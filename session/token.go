package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"

	"github.com/hallpass/hallpass/internal/slots"
)

// TokenSize is the number of random bytes in a session token (256 bits).
const TokenSize = 32

const macSize = sha256.Size

// cookieEncoding encodes cookie values: base64url without padding, decoded
// strictly, so that the spare bits of the last character must be zero and
// each token has exactly one valid spelling.
var cookieEncoding = base64.RawURLEncoding.Strict()

// cookieLen is the length of an encoded cookie value: base64url, without
// padding, of the token followed by its HMAC-SHA256 tag (86 characters).
const cookieLen = (8*(TokenSize+macSize) + 5) / 6

// MinKeySize is the minimum length of a secret key.
const MinKeySize = 32

// keyring signs and verifies session tokens. Each configured secret key is
// turned into a cookie-specific subkey, HMAC(key, "hallpass session cookie
// v1"), so the same secret can serve other purposes (CSRF, remember-me)
// without one MAC ever being valid for another. The first key signs; every
// key verifies, so keys can be rotated by prepending a new one.
//
// It remembers the values it verified or signed lately (see
// verifiedCookies), so that a browser's requests after its first skip the
// decoding, the HMAC and the hash of the session ID.
type keyring struct {
	pools []*sync.Pool // one pool of *macState per key, first signs
	known verifiedCookies
}

// verifiedCookies remembers cookie values that verified (or were signed)
// with their token and session ID, in a slots.Table (slots.Size slots,
// about 200 bytes per value held). A value means the same token and ID for
// as long as the keyring lives (its keys never change), so an entry is
// never stale: whether the session still exists is the store's to say, on
// every request, as without it.
//
// It tells a client nothing it could not learn otherwise: only values that
// verified enter, so a client cannot fill it with values of its choosing;
// the table's hash is seeded at random per process, so a client cannot aim
// at another's slot; and a hit compares the whole value in constant time.
// A client that presents many valid values of its own only evicts others',
// which then take the full check again.
type verifiedCookies struct {
	slots.Table[verifiedCookie]
}

// verifiedCookie is one remembered value.
type verifiedCookie struct {
	value [cookieLen]byte
	token [TokenSize]byte
	id    string
}

// get returns the entry of v, or nil.
func (c *verifiedCookies) get(v *[cookieLen]byte) *verifiedCookie {
	e := c.Slot(v[:]).Load()
	if e == nil || !sameValue(&e.value, v) {
		return nil
	}
	return e
}

// sameValue reports whether a and b are the same cookie value, in a time
// that does not depend on their contents: as subtle.ConstantTimeCompare,
// which goes a byte at a time, but eight bytes at a time (on the hot path
// of every request, it was a twentieth of a session's cost).
func sameValue(a, b *[cookieLen]byte) bool {
	var d uint64
	i := 0
	for ; i+8 <= cookieLen; i += 8 {
		d |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	for ; i < cookieLen; i++ {
		d |= uint64(a[i] ^ b[i])
	}
	return d == 0
}

// put remembers that v carries token, stored under id, in place of what
// its slot held.
func (c *verifiedCookies) put(v *[cookieLen]byte, token []byte, id string) {
	e := &verifiedCookie{value: *v, id: id}
	copy(e.token[:], token)
	c.Slot(v[:]).Store(e)
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

// sign returns the cookie value for token and remembers it, so that the
// browser's next request need not verify it.
func (kr *keyring) sign(token []byte) string {
	st := kr.pools[0].Get().(*macState)
	st.h.Reset()
	st.h.Write(token)
	var buf [TokenSize + macSize]byte
	copy(buf[:], token)
	copy(buf[TokenSize:], st.h.Sum(st.sum[:0]))
	kr.pools[0].Put(st)
	var v [cookieLen]byte
	cookieEncoding.Encode(v[:], buf[:])
	kr.known.put(&v, token, IDOf(token))
	return string(v[:])
}

// verify decodes a cookie value into dst and reports whether its tag is
// valid under any key. Garbage of any kind yields false, and so does any
// spelling of a valid value other than the one sign produced. id is the
// token's session ID, IDOf(dst).
func (kr *keyring) verify(v string, dst *[TokenSize]byte) (id string, ok bool) {
	if len(v) != cookieLen {
		return "", false
	}
	var src [cookieLen]byte // copied to the stack: no allocation for the conversion
	copy(src[:], v)
	if e := kr.known.get(&src); e != nil {
		*dst = e.token
		return e.id, true
	}
	var buf [TokenSize + macSize]byte
	n, err := cookieEncoding.Decode(buf[:], src[:])
	if err != nil || n != len(buf) {
		return "", false
	}
	for i := range kr.pools {
		if kr.check(i, buf[:TokenSize], buf[TokenSize:]) {
			copy(dst[:], buf[:TokenSize])
			id := IDOf(dst[:])
			kr.known.put(&src, dst[:], id)
			return id, true
		}
	}
	return "", false
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
