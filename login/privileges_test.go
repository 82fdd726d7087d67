package login_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/hallpass/hallpass/account"
)

// Grüße with a composed ü (NFC) and with u + combining diaeresis (NFD).
const (
	grusseNFC = "Gr\u00fc\u00dfe und Ku\u00dfe"
	grusseNFD = "Gru\u0308\u00dfe und Ku\u00dfe"
)

// rawArgon2id hashes pw's bytes as given with the env's cheap parameters,
// as a system that does not normalize passwords would have stored it.
func rawArgon2id(pw string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, cheap.Iterations, cheap.Memory, cheap.Parallelism, 32)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", cheap.Memory, cheap.Iterations, cheap.Parallelism, b64(salt), b64(key))
}

// A password typed in NFD logs in to an account whose password was set in
// NFC, and the reverse; an imported hash of unnormalized bytes still
// verifies and is replaced by an NFC argon2id hash at that login.
func TestLoginUnicodeNormalization(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", grusseNFC)
	e.addUser("bob", grusseNFD)
	imported := &account.User{Username: "cyd", Email: "cyd@example.com", PasswordHash: rawArgon2id(grusseNFD)}
	if err := e.accounts.CreateUser(context.Background(), imported); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ user, pw string }{
		{"ada", grusseNFC}, {"ada", grusseNFD},
		{"bob", grusseNFC}, {"bob", grusseNFD},
		{"cyd", grusseNFD}, // the imported hash matches the raw bytes: rehashed
		{"cyd", grusseNFC}, // which now verifies the NFC spelling too
	} {
		form := "NFC"
		if tt.pw == grusseNFD {
			form = "NFD"
		}
		if r := e.browser().login(tt.user, tt.pw, false); r.code != http.StatusSeeOther {
			t.Errorf("login %s with the password typed in %s: %d %q, want 303", tt.user, form, r.code, r.body)
		}
	}
	got, err := e.accounts.UserByID(context.Background(), imported.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash == imported.PasswordHash || !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
		t.Errorf("imported hash after an unnormalized login = %q, want a new argon2id hash", got.PasswordHash)
	}
	if ok, err := e.hasher.Verify(context.Background(), grusseNFC, got.PasswordHash); !ok || err != nil {
		t.Errorf("rehashed hash does not verify the NFC password: %v, %v", ok, err)
	}
}
