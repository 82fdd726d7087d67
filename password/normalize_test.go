package password

import (
	"context"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Grüße written two ways: ü and ß composed (NFC), and u followed by a
// combining diaeresis (NFD), as some keyboards and platforms send it.
const (
	grusseNFC = "Gr\u00fc\u00dfe-passw0rd"
	grusseNFD = "Gru\u0308\u00dfe-passw0rd"
)

// rawHash returns an argon2id hash of pw's bytes as given, as another
// system that does not normalize would have stored it.
func rawHash(pw string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, fast.Iterations, fast.Memory, 1, 32)
	return encodePHC("argon2id", fast.Memory, fast.Iterations, 1, salt, key)
}

func TestVerifyNormalizesUnicode(t *testing.T) {
	if grusseNFC == grusseNFD || norm.NFC.String(grusseNFD) != grusseNFC {
		t.Fatal("test strings are not two forms of one password")
	}
	ctx := context.Background()
	h := &Hasher{Params: fast}
	fromNFC, err := h.Hash(ctx, grusseNFC)
	if err != nil {
		t.Fatal(err)
	}
	fromNFD, err := h.Hash(ctx, grusseNFD)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		password   string
		stored     string
		wantOK     bool
		wantRehash bool
	}{
		{"NFC typed, NFC hashed", grusseNFC, fromNFC, true, false},
		{"NFD typed, NFC hashed", grusseNFD, fromNFC, true, false},
		{"NFC typed, hashed from NFD input", grusseNFC, fromNFD, true, false},
		{"NFD typed, hashed from NFD input", grusseNFD, fromNFD, true, false},
		{"NFD typed, imported raw NFD hash", grusseNFD, rawHash(grusseNFD), true, true},
		{"NFC typed, imported raw NFC hash", grusseNFC, rawHash(grusseNFC), true, false},
		{"wrong password, NFD", "Gru\u0308sse-passw0rd", fromNFC, false, false},
		{"wrong password against a raw hash", grusseNFC + "x", rawHash(grusseNFD), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, tt.password, tt.stored)
			if ok != tt.wantOK || err != nil {
				t.Errorf("Verify(%q) = %v, %v; want %v, nil", tt.password, ok, err, tt.wantOK)
			}
			ok, rehash, err := h.VerifyRehash(ctx, tt.password, tt.stored)
			if ok != tt.wantOK || rehash != tt.wantRehash || err != nil {
				t.Errorf("VerifyRehash(%q) = %v, %v, %v; want %v, %v, nil", tt.password, ok, rehash, err, tt.wantOK, tt.wantRehash)
			}
		})
	}
	// A rehash after a raw match stores the NFC form: both spellings verify.
	rehashed, err := h.Hash(ctx, grusseNFD)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{grusseNFC, grusseNFD} {
		if ok, rehash, err := h.VerifyRehash(ctx, pw, rehashed); !ok || rehash || err != nil {
			t.Errorf("VerifyRehash(%q, rehashed) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
	}
}

// A failed Verify of an unnormalized password tries two forms; DummyVerify
// must do the same work, or an unknown username would answer faster.
func TestDummyVerifySameWorkUnnormalized(t *testing.T) {
	ctx := context.Background()
	h := &Hasher{Params: fast}
	stored, err := h.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{grusseNFC, grusseNFD} {
		before := h.Stats().Computations
		if ok, err := h.Verify(ctx, pw, stored); ok || err != nil {
			t.Fatalf("Verify(%q) = %v, %v; want false, nil", pw, ok, err)
		}
		mid := h.Stats().Computations
		if err := h.DummyVerify(ctx, pw); err != nil {
			t.Fatal(err)
		}
		after := h.Stats().Computations
		if mid-before != after-mid {
			t.Errorf("password %q: Verify ran %d computations, DummyVerify %d; want equal", pw, mid-before, after-mid)
		}
	}
}
