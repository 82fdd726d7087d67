package password

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// The helpers below build hashes in each format for the table tests; the
// vectors in testdata (see vectors_test.go) check the same formats against
// the libraries that define them.

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

func argon2Hash(variant, password string, m, t uint32, p uint8) string {
	salt := []byte("saltsaltsaltsalt")
	derive := argon2.IDKey
	if variant == "argon2i" {
		derive = argon2.Key
	}
	return encodePHC(variant, m, t, p, salt, derive([]byte(password), salt, t, m, p, 32))
}

func bcryptHash(t *testing.T, prefix, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// $2a$ (what x/crypto writes), $2b$ and $2y$ are the same algorithm.
	return prefix + string(h[4:])
}

func werkzeugPBKDF2(method string, h func() hash.Hash, iterations int, salt, password string) string {
	key, err := pbkdf2.Key(h, password, []byte(salt), iterations, h().Size())
	if err != nil {
		panic(err)
	}
	return method + "$" + salt + "$" + hex.EncodeToString(key)
}

func werkzeugScrypt(method string, n, r, p int, salt, password string) string {
	key, err := scrypt.Key([]byte(password), []byte(salt), n, r, p, 64)
	if err != nil {
		panic(err)
	}
	return method + "$" + salt + "$" + hex.EncodeToString(key)
}

func djangoPBKDF2(algorithm string, h func() hash.Hash, iterations int, salt, password string) string {
	key, err := pbkdf2.Key(h, password, []byte(salt), iterations, h().Size())
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s$%d$%s$%s", algorithm, iterations, salt, base64.StdEncoding.EncodeToString(key))
}

func TestVerifyFormats(t *testing.T) {
	const pw = "pässwörd 🔐"
	bcryptSHA256 := func() string {
		sum := sha256.Sum256([]byte(pw))
		return "bcrypt_sha256$" + bcryptHash(t, "$2b$", hex.EncodeToString(sum[:]))
	}()
	formats := []struct {
		name    string
		encoded string
	}{
		{"argon2id", argon2Hash("argon2id", pw, 64, 1, 1)},
		{"argon2id p=4", argon2Hash("argon2id", pw, 256, 2, 4)},
		{"argon2i", argon2Hash("argon2i", pw, 64, 1, 1)},
		{"bcrypt $2a$", bcryptHash(t, "$2a$", pw)},
		{"bcrypt $2b$", bcryptHash(t, "$2b$", pw)},
		{"bcrypt $2y$", bcryptHash(t, "$2y$", pw)},
		{"werkzeug pbkdf2:sha256", werkzeugPBKDF2("pbkdf2:sha256:1000", sha256.New, 1000, "Salt1234", pw)},
		{"werkzeug pbkdf2:sha512", werkzeugPBKDF2("pbkdf2:sha512:1000", sha512.New, 1000, "Salt1234", pw)},
		{"werkzeug pbkdf2:sha1", werkzeugPBKDF2("pbkdf2:sha1:1000", sha1.New, 1000, "Salt1234", pw)},
		{"werkzeug pbkdf2:sha384", werkzeugPBKDF2("pbkdf2:sha384:1000", sha512.New384, 1000, "Salt1234", pw)},
		{"werkzeug pbkdf2:sha224", werkzeugPBKDF2("pbkdf2:sha224:1000", sha256.New224, 1000, "Salt1234", pw)},
		{"werkzeug pbkdf2:SHA256 (hashlib ignores case)", werkzeugPBKDF2("pbkdf2:SHA256:1000", sha256.New, 1000, "Salt1234", pw)},
		{"werkzeug pbkdf2, literal non-ASCII salt", werkzeugPBKDF2("pbkdf2:sha256:1000", sha256.New, 1000, "sälz:+/=", pw)},
		{"werkzeug scrypt:1024:8:1", werkzeugScrypt("scrypt:1024:8:1", 1024, 8, 1, "Salt1234", pw)},
		{"werkzeug scrypt:16:2:3", werkzeugScrypt("scrypt:16:2:3", 16, 2, 3, "Salt1234", pw)},
		{"django pbkdf2_sha256", djangoPBKDF2("pbkdf2_sha256", sha256.New, 1000, "Salt1234", pw)},
		{"django pbkdf2_sha1", djangoPBKDF2("pbkdf2_sha1", sha1.New, 1000, "Salt1234", pw)},
		{"django argon2", "argon2" + argon2Hash("argon2id", pw, 64, 1, 1)},
		{"django bcrypt", "bcrypt$" + bcryptHash(t, "$2b$", pw)},
		{"django bcrypt_sha256", bcryptSHA256},
	}
	// The short forms with Werkzeug's default costs ("pbkdf2$...",
	// "scrypt$...") are slow, so only the vectors made by Werkzeug check them.
	ctx := context.Background()
	var h Hasher
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			for _, tc := range []struct {
				password string
				want     bool
			}{
				{pw, true},
				{pw + "x", false},
				{strings.ToUpper(pw), false},
				{"", false},
			} {
				got, err := h.Verify(ctx, tc.password, f.encoded)
				if err != nil || got != tc.want {
					t.Errorf("Verify(%q, %q) = %v, %v; want %v, nil", tc.password, f.encoded, got, err, tc.want)
				}
			}
		})
	}
}

func TestVerifyWerkzeugUppercaseHex(t *testing.T) {
	encoded := werkzeugPBKDF2("pbkdf2:sha256:1000", sha256.New, 1000, "salt", "pw")
	i := strings.LastIndex(encoded, "$")
	upper := encoded[:i] + strings.ToUpper(encoded[i:])
	if ok, err := (&Hasher{}).Verify(context.Background(), "pw", upper); !ok || err != nil {
		t.Errorf("Verify with upper-case hex = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyBcryptTooLong(t *testing.T) {
	p72 := strings.Repeat("a", 72)
	encoded := bcryptHash(t, "$2b$", p72)
	var h Hasher
	if ok, err := h.Verify(context.Background(), p72, encoded); !ok || err != nil {
		t.Errorf("Verify(72 bytes) = %v, %v; want true, nil", ok, err)
	}
	// x/crypto/bcrypt, like every bcrypt, reads only 72 bytes, so
	// p72+"b" would match: Verify must refuse rather than truncate.
	for _, pw := range []string{p72 + "b", strings.Repeat("ü", 37)} {
		ok, err := h.Verify(context.Background(), pw, encoded)
		if ok || !errors.Is(err, ErrTooLong) {
			t.Errorf("Verify(%d bytes, bcrypt) = %v, %v; want false, ErrTooLong", len(pw), ok, err)
		}
	}
	// Django's bcrypt_sha256 pre-hashes, so long passwords are fine there.
	sum := sha256.Sum256([]byte(p72 + "b"))
	encoded = "bcrypt_sha256$" + bcryptHash(t, "$2b$", hex.EncodeToString(sum[:]))
	if ok, err := h.Verify(context.Background(), p72+"b", encoded); !ok || err != nil {
		t.Errorf("Verify(73 bytes, bcrypt_sha256) = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyErrors(t *testing.T) {
	salt, key := b64([]byte("saltsaltsaltsalt")), b64(make([]byte, 32))
	hex32, hex64 := strings.Repeat("ab", 32), strings.Repeat("ab", 64)
	bcryptTail := "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW" // 53 characters
	django := strings.Repeat("A", 43) + "="
	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		// Not a format Verify reads.
		{"empty", "", ErrUnknownFormat},
		{"plain text", "hunter2", ErrUnknownFormat},
		{"disabled account marker", "!", ErrUnknownFormat},
		{"md5-crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", ErrUnknownFormat},
		{"sha512-crypt", "$6$salt$abc", ErrUnknownFormat},
		{"LDAP SSHA", "{SSHA}abcdef", ErrUnknownFormat},
		{"werkzeug plain", "plain$$hunter2", ErrUnknownFormat},
		{"werkzeug salted sha256 (removed in 3.0)", "sha256$salt$" + hex32, ErrUnknownFormat},
		{"django md5", "md5$salt$" + strings.Repeat("ab", 16), ErrUnknownFormat},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownFormat},
		{"argon2 version 16", "$argon2i$v=16$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownFormat},
		{"argon2 without version (16)", "$argon2i$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownFormat},
		{"bcrypt $2x$", "$2x$04$" + bcryptTail, ErrUnknownFormat},
		{"bcrypt $2$", "$2$04$" + bcryptTail, ErrUnknownFormat},
		{"werkzeug pbkdf2:md5", "pbkdf2:md5:1000$salt$" + strings.Repeat("ab", 16), ErrUnknownFormat},
		{"werkzeug pbkdf2:sha3_256", "pbkdf2:sha3_256:1000$salt$" + hex32, ErrUnknownFormat},
		{"django argon2d", "argon2$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key, ErrUnknownFormat},
		{"django bcrypt_sha256 $2x$", "bcrypt_sha256$$2x$04$" + bcryptTail, ErrUnknownFormat},

		// argon2
		{"argon2 too few fields", "$argon2id$v=19$m=64,t=1,p=1$" + salt, ErrMalformedHash},
		{"argon2 too many fields", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$", ErrMalformedHash},
		{"argon2 bad version", "$argon2id$v=x$m=64,t=1,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 no v=", "$argon2id$19$m=64,t=1,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 missing p", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 wrong order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 negative", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 overflow", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 t=0", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 p=0", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 m < 8p", "$argon2id$v=19$m=31,t=1,p=4$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 m above 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 t above 100", "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 m*t above 4 GiB", "$argon2id$v=19$m=1048576,t=5,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 p above 255", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key, ErrMalformedHash},
		{"argon2 salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!!!!!$" + key, ErrMalformedHash},
		{"argon2 padded base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key, ErrMalformedHash},
		{"argon2 short salt", "$argon2id$v=19$m=64,t=1,p=1$" + b64([]byte("short")) + "$" + key, ErrMalformedHash},
		{"argon2 empty key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$", ErrMalformedHash},

		// bcrypt
		{"bcrypt short", "$2b$04$" + bcryptTail[:52], ErrMalformedHash},
		{"bcrypt long", "$2b$04$" + bcryptTail + "W", ErrMalformedHash},
		{"bcrypt cost 3", "$2b$03$" + bcryptTail, ErrMalformedHash},
		{"bcrypt cost 17", "$2b$17$" + bcryptTail, ErrMalformedHash},
		{"bcrypt cost 31", "$2b$31$" + bcryptTail, ErrMalformedHash},
		{"bcrypt cost not a number", "$2b$xx$" + bcryptTail, ErrMalformedHash},
		{"bcrypt bad alphabet", "$2b$04$" + bcryptTail[:52] + "!", ErrMalformedHash},
		{"django bcrypt malformed", "bcrypt$$2b$04$" + bcryptTail[:20], ErrMalformedHash},

		// Werkzeug pbkdf2
		{"werkzeug no hash", "pbkdf2:sha256:1000$salt", ErrMalformedHash},
		{"werkzeug no salt or hash", "pbkdf2:sha256:1000", ErrMalformedHash},
		{"werkzeug empty salt", "pbkdf2:sha256:1000$$" + hex32, ErrMalformedHash},
		{"werkzeug iterations not a number", "pbkdf2:sha256:1e3$salt$" + hex32, ErrMalformedHash},
		{"werkzeug iterations with underscore", "pbkdf2:sha256:1_000$salt$" + hex32, ErrMalformedHash},
		{"werkzeug zero iterations", "pbkdf2:sha256:0$salt$" + hex32, ErrMalformedHash},
		{"werkzeug too many iterations", "pbkdf2:sha256:10000001$salt$" + hex32, ErrMalformedHash},
		{"werkzeug huge iterations", "pbkdf2:sha256:99999999999999999999999$salt$" + hex32, ErrMalformedHash},
		{"werkzeug too many arguments", "pbkdf2:sha256:1000:1$salt$" + hex32, ErrMalformedHash},
		{"werkzeug empty digest", "pbkdf2:$salt$" + hex32, ErrMalformedHash},
		{"werkzeug hash not hex", "pbkdf2:sha256:1000$salt$" + strings.Repeat("zz", 32), ErrMalformedHash},
		{"werkzeug hash wrong length", "pbkdf2:sha256:1000$salt$" + hex64, ErrMalformedHash},
		{"werkzeug sha512 hash too short", "pbkdf2:sha512:1000$salt$" + hex32, ErrMalformedHash},
		{"werkzeug $ in hash", "pbkdf2:sha256:1000$salt$" + hex32 + "$", ErrMalformedHash},

		// Werkzeug scrypt
		{"scrypt two arguments", "scrypt:16384:8$salt$" + hex64, ErrMalformedHash},
		{"scrypt not a number", "scrypt:x:8:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt N not a power of 2", "scrypt:1000:8:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt N = 1", "scrypt:1:8:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt r = 0", "scrypt:1024:0:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt p = 0", "scrypt:1024:8:0$salt$" + hex64, ErrMalformedHash},
		{"scrypt above werkzeug's maxmem", "scrypt:2:1:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt N >= 2^(16r)", "scrypt:65536:1:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt maxmem above 2^31", "scrypt:1048576:8:2$salt$" + hex64, ErrMalformedHash},
		{"scrypt huge", "scrypt:9223372036854775808:8:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt above 1 GiB", "scrypt:1048576:9:1$salt$" + hex64, ErrMalformedHash},
		{"scrypt hash too short", "scrypt:1024:8:1$salt$" + hex32, ErrMalformedHash},
		{"scrypt empty salt", "scrypt$$" + hex64, ErrMalformedHash},

		// Django pbkdf2
		{"django too few fields", "pbkdf2_sha256$1000$salt", ErrMalformedHash},
		{"django too many fields", "pbkdf2_sha256$1000$salt$" + django + "$", ErrMalformedHash},
		{"django iterations not a number", "pbkdf2_sha256$many$salt$" + django, ErrMalformedHash},
		{"django too many iterations", "pbkdf2_sha256$10000001$salt$" + django, ErrMalformedHash},
		{"django empty salt", "pbkdf2_sha256$1000$$" + django, ErrMalformedHash},
		{"django hash not base64", "pbkdf2_sha256$1000$salt$" + strings.Repeat("!", 44), ErrMalformedHash},
		{"django hash wrong length", "pbkdf2_sha256$1000$salt$" + base64.StdEncoding.EncodeToString(make([]byte, 20)), ErrMalformedHash},
		{"django sha1 hash wrong length", "pbkdf2_sha1$1000$salt$" + django, ErrMalformedHash},
	}
	h := &Hasher{}
	for _, tc := range tests {
		ok, err := h.Verify(context.Background(), "pw", tc.encoded)
		if ok || !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify(%q) = %v, %v; want false and an error wrapping %v", tc.name, tc.encoded, ok, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "saltsalt") {
			t.Errorf("%s: error %q quotes the stored hash", tc.name, err)
		}
	}
	if n := h.Stats().Computations; n != 0 {
		t.Errorf("%d computations ran for hashes that cannot be read, want 0", n)
	}
}

// FuzzVerify checks that no stored hash makes Verify panic, and that a hash
// Verify rejects as unreadable costs no computation.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
		"$2b$04$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"pbkdf2:sha256:1$salt$" + strings.Repeat("ab", 32),
		"scrypt:16:1:1$salt$" + strings.Repeat("ab", 64),
		"pbkdf2_sha256$1$salt$" + strings.Repeat("A", 43) + "=",
		"argon2$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
		"bcrypt_sha256$$2b$04$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		h := &Hasher{}
		ok, err := h.Verify(context.Background(), "pw", encoded)
		if ok {
			return // a fuzzer that finds a hash of "pw" is welcome to it
		}
		if errors.Is(err, ErrMalformedHash) || errors.Is(err, ErrUnknownFormat) {
			if n := h.Stats().Computations; n != 0 {
				t.Errorf("Verify(%q) = %v after %d computations, want none", encoded, err, n)
			}
		} else if err != nil {
			t.Errorf("Verify(%q): unexpected error %v", encoded, err)
		}
	})
}

// Legacy formats at their libraries' default costs, to compare with
// BenchmarkVerifyArgon2id: a user whose stored hash is one of these takes
// this long to log in until the hash is replaced.

func benchmarkVerify(b *testing.B, encoded string) {
	var h Hasher
	ctx := context.Background()
	for b.Loop() {
		if ok, err := h.Verify(ctx, "correct horse battery staple", encoded); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkVerifyWerkzeugPBKDF2Default(b *testing.B) {
	benchmarkVerify(b, werkzeugPBKDF2("pbkdf2:sha256:1000000", sha256.New, 1_000_000, "Salt1234", "correct horse battery staple"))
}

func BenchmarkVerifyWerkzeugScryptDefault(b *testing.B) {
	benchmarkVerify(b, werkzeugScrypt("scrypt:32768:8:1", 32768, 8, 1, "Salt1234", "correct horse battery staple"))
}

func BenchmarkVerifyBcryptCost10(b *testing.B) {
	encoded, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkVerify(b, string(encoded))
}

func TestCheckHash(t *testing.T) {
	tests := []struct {
		hash string
		want error
	}{
		{"pbkdf2:sha256:1$YH5SY4fFQET0wScn$d8cdddf08cbb624819c0b9ba0e03f5c9f490394a205e465cad856ccb8142bcc0", nil},
		{"$2b$04$abcdefghijklmnopqrstuu5r7O3B/PL4ZrI3BmxmVYQFzUiNrFPnC", nil},
		{"md5$abc$def", ErrUnknownFormat},
		{"pbkdf2:sha256:99999999999$salt$00", ErrMalformedHash},
		{"", ErrUnknownFormat},
	}
	for _, tt := range tests {
		err := CheckHash(tt.hash)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("CheckHash(%q) = %v, want %v", tt.hash, err, tt.want)
		}
	}
}
