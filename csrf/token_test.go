package csrf

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if len(a) != SecretSize {
		t.Fatalf("len(NewSecret()) = %d, want %d", len(a), SecretSize)
	}
	if bytes.Equal(a, b) {
		t.Errorf("two NewSecret() calls returned the same secret %x", a)
	}
}

func TestMaskDiffersEachTime(t *testing.T) {
	secret := NewSecret()
	a, b := Mask(secret), Mask(secret)
	if a == b {
		t.Fatalf("Mask returned %q twice for the same secret, want different tokens", a)
	}
	for _, tok := range []string{a, b} {
		if !Valid(secret, tok) {
			t.Errorf("Valid(secret, %q) = false, want true", tok)
		}
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("Mask = %q, want unpadded base64url", tok)
		}
	}
}

func TestValid(t *testing.T) {
	secret := NewSecret()
	other := NewSecret()
	good := Mask(secret)
	raw, _ := base64.RawURLEncoding.DecodeString(good)

	tests := []struct {
		name   string
		secret []byte
		token  string
		want   bool
	}{
		{"masked token", secret, good, true},
		{"second mask of same secret", secret, Mask(secret), true},
		{"token of another session", secret, Mask(other), false},
		{"empty token", secret, "", false},
		{"nil secret and empty token", nil, "", false},
		{"nil secret", nil, Mask(nil), false},
		{"short secret", secret[:16], Mask(secret[:16]), false},
		{"garbage", secret, "not a token!", false},
		{"truncated by one char", secret, good[:len(good)-1], false},
		{"truncated to half", secret, good[:len(good)/2], false},
		{"odd decoded length", secret, base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), false},
		{"padded encoding", secret, base64.URLEncoding.EncodeToString(raw), false},
		{"unmasked secret", secret, base64.RawURLEncoding.EncodeToString(secret), false},
		{"huge", secret, strings.Repeat(good, 1<<14), false},
		{"one byte flipped", secret, flipChar(good, 10), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid(tt.secret, tt.token); got != tt.want {
				t.Errorf("Valid(secret, %.40q) = %v, want %v", tt.token, got, tt.want)
			}
		})
	}
}

func TestUnmask(t *testing.T) {
	// SecretSize is masked on the stack, other lengths on the heap.
	for _, n := range []int{1, SecretSize - 1, SecretSize, SecretSize + 1, 90} {
		secret := make([]byte, n)
		rand.Read(secret)
		got, err := Unmask(Mask(secret))
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Unmask(Mask(%d-byte secret)) = %x, %v, want %x, nil", n, got, err, secret)
		}
	}

	tests := []struct {
		token string
		want  error
	}{
		{"", ErrMissingToken},
		{"%%%", ErrInvalidToken},
		{"AA", ErrInvalidToken}, // one byte: odd length
		{strings.Repeat("A", maxTokenLen+4), ErrInvalidToken},
	}
	for _, tt := range tests {
		if _, err := Unmask(tt.token); !errors.Is(err, tt.want) {
			t.Errorf("Unmask(%.20q) error = %v, want %v", tt.token, err, tt.want)
		}
	}
}

func FuzzValid(f *testing.F) {
	secret := bytes.Repeat([]byte{7}, SecretSize)
	f.Add(Mask(secret))
	f.Add("")
	f.Add("AAAA")
	f.Add("-_-_")
	f.Add("AA\nAA")
	f.Fuzz(func(t *testing.T, token string) {
		if buf, err := Unmask(token); err == nil {
			// Unmask accepts only the spelling Mask writes: the bytes it
			// decoded re-encode to token.
			masked := make([]byte, 2*len(buf))
			if _, err := tokenEncoding.Decode(masked, []byte(token)); err != nil || tokenEncoding.EncodeToString(masked) != token {
				t.Errorf("Unmask accepted %q, which is not the one spelling of its bytes", token)
			}
		}
		if Valid(secret, token) {
			got, err := Unmask(token)
			if err != nil || !bytes.Equal(got, secret) {
				t.Errorf("Valid(secret, %q) = true but Unmask = %x, %v", token, got, err)
			}
		}
	})
}

// flipChar returns s with the character at i replaced by another valid
// base64url character.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
