package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// SecretSize is the length in bytes of a synchronizer secret from
// [NewSecret]. [Valid] rejects secrets of any other length.
const SecretSize = 32

// maxTokenLen caps the length of a token string that [Unmask] will decode,
// so a client cannot make the server decode megabytes of base64. A masked
// SecretSize secret encodes to 86 characters.
const maxTokenLen = 256

var tokenEncoding = base64.RawURLEncoding.Strict()

// NewSecret returns a fresh random synchronizer secret of [SecretSize]
// bytes. The login manager stores one in each session and rotates it
// whenever the session is renewed (at login and logout).
func NewSecret() []byte {
	b := make([]byte, SecretSize)
	rand.Read(b) // never returns an error; it crashes the program if the OS RNG fails
	return b
}

// Mask returns a token for secret to put in a page: the unpadded base64url
// encoding of otp || (otp XOR secret), where otp is a fresh random pad of
// the secret's length. Every call returns a different string, so a token
// in a compressed response reveals nothing about the secret (BREACH), and
// any of them passes [Valid] for the same secret.
//
// secret should come from [NewSecret]; a token masked from a secret of
// another length never passes Valid.
func Mask(secret []byte) string {
	// The pad and its encoding are made on the stack for a secret of
	// SecretSize: the string is the call's one allocation.
	var pad [2 * SecretSize]byte
	var enc [(2*SecretSize*8 + 5) / 6]byte
	buf := pad[:]
	if len(secret) != SecretSize {
		buf = make([]byte, 2*len(secret))
	}
	otp, masked := buf[:len(secret)], buf[len(secret):]
	rand.Read(otp)
	subtle.XORBytes(masked, otp, secret)
	return string(tokenEncoding.AppendEncode(enc[:0], buf))
}

// Unmask reverses [Mask] and returns the secret a token carries. It
// returns [ErrMissingToken] for an empty token and [ErrInvalidToken] for
// anything that is not a well-formed masked token, including strings
// longer than a few hundred bytes, which it rejects before decoding.
// It never panics, whatever the input.
func Unmask(token string) ([]byte, error) {
	if token == "" {
		return nil, ErrMissingToken
	}
	// base64 decoders skip CR and LF; a token has none, so one with line
	// breaks is a second spelling and refused.
	if len(token) > maxTokenLen || strings.ContainsAny(token, "\r\n") {
		return nil, ErrInvalidToken
	}
	buf, err := tokenEncoding.DecodeString(token)
	if err != nil || len(buf) == 0 || len(buf)%2 != 0 {
		return nil, ErrInvalidToken
	}
	n := len(buf) / 2
	secret := make([]byte, n)
	subtle.XORBytes(secret, buf[:n], buf[n:])
	return secret, nil
}

// Valid reports whether token is a masked form of secret, comparing in
// constant time. It reports false when secret is not [SecretSize] bytes
// long and for any malformed, truncated or oversized token; it never
// panics.
func Valid(secret []byte, token string) bool {
	if len(secret) != SecretSize {
		return false
	}
	got, err := Unmask(token)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, secret) == 1
}
