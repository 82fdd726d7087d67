package password

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/scrypt"
)

// Limits on the parameters of stored hashes; see the package documentation.
const (
	maxArgon2Memory     = 1 << 20 // KiB: 1 GiB
	maxArgon2Time       = 100
	maxArgon2Work       = 4 << 20 // memory (KiB) times passes: 4 GiB processed
	maxArgon2Threads    = 255
	minArgon2Salt       = 8
	minArgon2Key        = 4
	maxArgon2SaltOrKey  = 1024
	maxPBKDF2Iterations = 10_000_000
	maxScryptMemory     = 1 << 30 // bytes: 128*N*r
	maxBcryptCost       = 16
	bcryptMaxPassword   = 72 // bytes
)

// werkzeugDefaultIterations is DEFAULT_PBKDF2_ITERATIONS of Werkzeug 3.1,
// used for pbkdf2 and pbkdf2:DIGEST hashes that leave the count out.
// Werkzeug itself always writes the count; older versions read the short
// form with their own defaults (260000 in 2.2, 600000 in 2.3 and 3.0).
const werkzeugDefaultIterations = 1_000_000

// argon2Func derives an argon2 key of variant "argon2id" or "argon2i", as
// argon2.IDKey or argon2.Key does.
type argon2Func func(variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// argon2Key is the argon2Func that computes in this goroutine.
func argon2Key(variant string, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if variant == "argon2i" {
		return argon2.Key(password, salt, time, memory, threads, keyLen)
	}
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

// parse reads encoded and returns a function that computes whether password
// matches it, deriving argon2 keys with the function it is given (other
// formats ignore it), and whether encoded is an argon2 hash. All errors are
// found here, before any expensive work.
func parse(encoded, password string) (check func(argon2Func) bool, isArgon2 bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2"):
		check, err = parseArgon2(encoded, password)
		return check, true, err
	case strings.HasPrefix(encoded, "argon2$"): // Django
		check, err = parseArgon2(encoded[len("argon2"):], password)
		return check, true, err
	}
	other, err := parseOther(encoded, password)
	if err != nil {
		return nil, false, err
	}
	return func(argon2Func) bool { return other() }, false, nil
}

// parseOther is parse for the formats other than argon2.
func parseOther(encoded, password string) (check func() bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$2"):
		return parseBcrypt(encoded, []byte(password))
	case strings.HasPrefix(encoded, "bcrypt_sha256$"): // Django
		sum := sha256.Sum256([]byte(password))
		return parseBcrypt(encoded[len("bcrypt_sha256$"):], []byte(hex.EncodeToString(sum[:])))
	case strings.HasPrefix(encoded, "bcrypt$"): // Django
		return parseBcrypt(encoded[len("bcrypt$"):], []byte(password))
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return parseDjangoPBKDF2(encoded, password, sha256.New)
	case strings.HasPrefix(encoded, "pbkdf2_sha1$"):
		return parseDjangoPBKDF2(encoded, password, sha1.New)
	}
	method, _, _ := strings.Cut(encoded, "$")
	name, _, _ := strings.Cut(method, ":")
	if name == "pbkdf2" || name == "scrypt" {
		return parseWerkzeug(encoded, password)
	}
	return nil, ErrUnknownFormat
}

// phc is a parsed argon2 PHC string.
type phc struct {
	variant      string
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parsePHC reads $argon2{id,i}$v=19$m=M,t=T,p=P$salt$key and checks its
// parameters against the limits.
func parsePHC(s string) (*phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return nil, ErrUnknownFormat
	}
	var out phc
	switch out.variant = parts[1]; out.variant {
	case "argon2id", "argon2i":
	case "argon2d":
		return nil, unknown("argon2d is not supported")
	default:
		return nil, ErrUnknownFormat
	}
	if len(parts) == 5 && strings.HasPrefix(parts[2], "m=") {
		return nil, unknown("argon2 version 16 is not supported")
	}
	if len(parts) != 6 {
		return nil, malformed("argon2: want 6 $-separated fields, have %d", len(parts))
	}
	version, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return nil, malformed("argon2: no version field")
	}
	if v, ok := parseUint(version, math.MaxUint32); !ok {
		return nil, malformed("argon2: bad version")
	} else if v != argon2.Version {
		return nil, unknown("argon2 version %d is not supported", v)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, malformed("argon2: want parameters m, t and p")
	}
	var mtp [3]uint64
	for i, prefix := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], prefix)
		if !ok {
			return nil, malformed("argon2: want parameters m, t and p in that order")
		}
		if mtp[i], ok = parseUint(v, math.MaxUint32); !ok {
			return nil, malformed("argon2: bad %s parameter", prefix[:1])
		}
	}
	var err error
	if out.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return nil, malformed("argon2: salt is not unpadded base64")
	}
	if out.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil {
		return nil, malformed("argon2: key is not unpadded base64")
	}
	if err := checkArgon2(uint32(mtp[0]), uint32(mtp[1]), uint32(mtp[2]), uint32(len(out.salt)), uint32(len(out.key))); err != nil {
		return nil, malformed("argon2: %w", err)
	}
	out.memory, out.time, out.threads = uint32(mtp[0]), uint32(mtp[1]), uint8(mtp[2])
	return &out, nil
}

// checkArgon2 checks argon2 parameters against the reference
// implementation's rules and this package's limits.
func checkArgon2(memory, time, threads, saltLen, keyLen uint32) error {
	switch {
	case time < 1:
		return errors.New("t must be at least 1")
	case time > maxArgon2Time:
		return errors.New("t is above the limit of 100")
	case threads < 1:
		return errors.New("p must be at least 1")
	case threads > maxArgon2Threads:
		return errors.New("p is above the limit of 255")
	case uint64(memory) < 8*uint64(threads):
		return errors.New("m must be at least 8 times p")
	case memory > maxArgon2Memory:
		return errors.New("m is above the limit of 1048576 KiB (1 GiB)")
	case uint64(memory)*uint64(time) > maxArgon2Work:
		return errors.New("m times t is above the limit of 4194304 (4 GiB processed)")
	case saltLen < minArgon2Salt || saltLen > maxArgon2SaltOrKey:
		return errors.New("salt length must be between 8 and 1024 bytes")
	case keyLen < minArgon2Key || keyLen > maxArgon2SaltOrKey:
		return errors.New("key length must be between 4 and 1024 bytes")
	}
	return nil
}

func parseArgon2(encoded, password string) (func(argon2Func) bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return nil, err
	}
	return func(derive argon2Func) bool {
		key := derive(p.variant, []byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(key, p.key) == 1
	}, nil
}

// parseBcrypt reads a $2a$, $2b$ or $2y$ hash. The three differ only in how
// other implementations handled bugs (with 8-bit characters in $2x$, with
// passwords of 256 bytes or more in $2a$), which cannot arise here: $2x$ is
// refused, and so is any password longer than bcrypt's 72 bytes, which
// bcrypt would otherwise silently truncate.
func parseBcrypt(encoded string, password []byte) (func() bool, error) {
	if len(encoded) < 4 || encoded[0] != '$' || encoded[1] != '2' || encoded[3] != '$' {
		return nil, unknown("bcrypt: only $2a$, $2b$ and $2y$ are supported")
	}
	switch encoded[2] {
	case 'a', 'b', 'y':
	default:
		return nil, unknown("bcrypt: only $2a$, $2b$ and $2y$ are supported")
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil || len(encoded) != 60 || encoded[6] != '$' ||
		strings.Trim(encoded[7:], bcryptAlphabet) != "" {
		return nil, malformed("bcrypt: want $2b$NN$ and 53 characters of salt and hash")
	}
	if cost > maxBcryptCost {
		return nil, malformed("bcrypt: cost %d is above the limit of %d", cost, maxBcryptCost)
	}
	if len(password) > bcryptMaxPassword {
		return nil, errBcryptLong
	}
	return func() bool {
		return bcrypt.CompareHashAndPassword([]byte(encoded), password) == nil
	}, nil
}

// bcryptAlphabet is bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseDjangoPBKDF2 reads Django's ALGORITHM$ITERATIONS$SALT$BASE64.
func parseDjangoPBKDF2(encoded, password string, h func() hash.Hash) (func() bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return nil, malformed("django pbkdf2: want 4 $-separated fields, have %d", len(parts))
	}
	iterations, err := parseIterations(parts[1])
	if err != nil {
		return nil, malformed("django pbkdf2: %w", err)
	}
	salt := parts[2]
	if salt == "" {
		return nil, malformed("django pbkdf2: empty salt")
	}
	want, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil || len(want) != h().Size() {
		return nil, malformed("django pbkdf2: hash is not %d bytes of base64", h().Size())
	}
	return pbkdf2Check(h, password, salt, iterations, want), nil
}

func pbkdf2Check(h func() hash.Hash, password, salt string, iterations int, want []byte) func() bool {
	return func() bool {
		// The salt is the string's own bytes, as Werkzeug and Django use it.
		key, err := pbkdf2.Key(h, password, []byte(salt), iterations, len(want))
		return err == nil && subtle.ConstantTimeCompare(key, want) == 1
	}
}

// werkzeugDigests are the hashlib names Werkzeug's pbkdf2 accepts that this
// package supports.
var werkzeugDigests = map[string]func() hash.Hash{
	"sha1":   sha1.New,
	"sha224": sha256.New224,
	"sha256": sha256.New,
	"sha384": sha512.New384,
	"sha512": sha512.New,
}

// parseWerkzeug reads METHOD$SALT$HEX as Werkzeug's check_password_hash
// does: the method is pbkdf2[:DIGEST[:ITERATIONS]] or scrypt[:N:r:p], the
// salt is everything up to the second $, used as its literal bytes.
func parseWerkzeug(encoded, password string) (func() bool, error) {
	method, rest, _ := strings.Cut(encoded, "$")
	salt, hexHash, ok := strings.Cut(rest, "$")
	if !ok {
		return nil, malformed("werkzeug: want METHOD$SALT$HASH")
	}
	if salt == "" {
		return nil, malformed("werkzeug: empty salt")
	}
	fields := strings.Split(method, ":")
	name, fields := fields[0], fields[1:]
	if name == "scrypt" {
		return parseWerkzeugScrypt(fields, password, salt, hexHash)
	}

	digest, iterations := "sha256", werkzeugDefaultIterations
	switch len(fields) {
	case 0:
	case 1, 2:
		digest = strings.ToLower(fields[0])
		if digest == "" {
			return nil, malformed("werkzeug pbkdf2: empty digest name")
		}
		if len(fields) == 2 {
			var err error
			if iterations, err = parseIterations(fields[1]); err != nil {
				return nil, malformed("werkzeug pbkdf2: %w", err)
			}
		}
	default:
		return nil, malformed("werkzeug pbkdf2: want pbkdf2:DIGEST:ITERATIONS")
	}
	h, ok := werkzeugDigests[digest]
	if !ok {
		return nil, unknown("werkzeug pbkdf2 with digest %q is not supported", digest)
	}
	want, err := decodeHex(hexHash, h().Size())
	if err != nil {
		return nil, malformed("werkzeug pbkdf2: %w", err)
	}
	return pbkdf2Check(h, password, salt, iterations, want), nil
}

// scryptKeyLen is the length of hashlib.scrypt's default output, which
// Werkzeug stores.
const scryptKeyLen = 64

func parseWerkzeugScrypt(fields []string, password, salt, hexHash string) (func() bool, error) {
	n, r, p := uint64(1<<15), uint64(8), uint64(1)
	switch len(fields) {
	case 0:
	case 3:
		var ok [3]bool
		n, ok[0] = parseUint(fields[0], math.MaxInt64)
		r, ok[1] = parseUint(fields[1], math.MaxInt64)
		p, ok[2] = parseUint(fields[2], math.MaxInt64)
		if ok != [3]bool{true, true, true} {
			return nil, malformed("werkzeug scrypt: bad N, r or p")
		}
	default:
		return nil, malformed("werkzeug scrypt: want scrypt:N:r:p")
	}
	if err := checkScrypt(n, r, p); err != nil {
		return nil, malformed("werkzeug scrypt: %w", err)
	}
	want, err := decodeHex(hexHash, scryptKeyLen)
	if err != nil {
		return nil, malformed("werkzeug scrypt: %w", err)
	}
	return func() bool {
		key, err := scrypt.Key([]byte(password), []byte(salt), int(n), int(r), int(p), scryptKeyLen)
		return err == nil && subtle.ConstantTimeCompare(key, want) == 1
	}, nil
}

// checkScrypt accepts exactly the parameters that Werkzeug's call
// hashlib.scrypt(..., maxmem=132*N*r*p) accepts (Python's and OpenSSL's
// checks), and then only those using at most 1 GiB.
func checkScrypt(n, r, p uint64) error {
	const intMax = math.MaxInt32 // hashlib.scrypt refuses a larger maxmem
	switch {
	case n < 2 || n&(n-1) != 0:
		return errors.New("parameter N must be a power of 2 greater than 1")
	case r < 1 || p < 1:
		return errors.New("r and p must be at least 1")
	case n > intMax || r > intMax || p > intMax || n*r > intMax || n*r*p > intMax/132:
		return errors.New("132*N*r*p is above hashlib.scrypt's maxmem limit of 2^31-1")
	}
	maxmem := 132 * n * r * p
	if 16*r <= 63 && n >= 1<<(16*r) {
		return errors.New("parameter N must be less than 2^(16*r)")
	}
	if 128*r*p+128*r*(n+2) > maxmem {
		return errors.New("memory needed is above Werkzeug's maxmem of 132*N*r*p")
	}
	if 128*n*r > maxScryptMemory {
		return errors.New("memory (128*N*r) is above the limit of 1 GiB")
	}
	return nil
}

// parseIterations reads a PBKDF2 iteration count within the limits.
func parseIterations(s string) (int, error) {
	n, ok := parseUint(s, math.MaxInt64)
	switch {
	case !ok:
		return 0, errors.New("bad iteration count")
	case n < 1:
		return 0, errors.New("iteration count must be at least 1")
	case n > maxPBKDF2Iterations:
		return 0, errors.New("iteration count is above the limit of 10000000")
	}
	return int(n), nil
}

// parseUint reads a decimal number of at most limit, digits only.
func parseUint(s string, limit uint64) (uint64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n <= limit
}

// decodeHex decodes a hex string of exactly size bytes.
func decodeHex(s string, size int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("hash is not %d bytes of hex", size)
	}
	return b, nil
}
