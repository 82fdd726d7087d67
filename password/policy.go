package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Default policy limits.
const (
	defaultMinLength = 8
	defaultMaxLength = MaxPasswordLength
	minMaxLength     = 64
)

// A Policy decides whether a new password is acceptable, following NIST SP
// 800-63B: a minimum and maximum length, no passwords from a list of common
// ones, and no composition rules (any Unicode character is allowed, spaces
// included, and nothing is trimmed).
//
// Lengths are counted in Unicode code points after NFC normalization, so an
// "é" counts as one character whether it was typed as one code point or as
// "e" plus a combining accent. The zero value is the default policy.
type Policy struct {
	// MinLength is the fewest characters a password may have. Zero (or
	// less) means 8. It is lowered to MaxLength if above it.
	MinLength int

	// MaxLength is the most characters a password may have. Zero means
	// 128. Values below 64 are raised to 64, so that passphrases fit, and
	// values above MaxPasswordLength (128) are lowered to it, since Hash
	// refuses longer passwords.
	MaxLength int

	// Blocklist holds the passwords rejected as too common. Nil means
	// CommonPasswords(); NewBlocklist() with no words turns the check off.
	Blocklist Blocklist
}

// limits returns the effective MinLength and MaxLength.
func (p Policy) limits() (shortest, longest int) {
	shortest, longest = p.MinLength, p.MaxLength
	if longest == 0 {
		longest = defaultMaxLength
	}
	longest = clamp(longest, minMaxLength, MaxPasswordLength)
	if shortest <= 0 {
		shortest = defaultMinLength
	}
	return clamp(shortest, 1, longest), longest
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// Check returns nil if password is acceptable for the user named username,
// and otherwise the first problem found, as an error wrapping one of
// ErrInvalidUTF8, ErrTooShort, ErrTooLong, ErrSameAsUsername or ErrCommon
// (checked in that order). The error's message is a sentence to show the
// person choosing the password, such as "Password must be at least 8
// characters."
//
// A password equal to the username, ignoring case, is refused; one that
// merely contains the username is allowed. An empty username is not
// compared. The blocklist is matched ignoring case.
func (p Policy) Check(password, username string) error {
	if !utf8.ValidString(password) {
		return errInvalidUTF8
	}
	shortest, longest := p.limits()
	if len(password) > maxPasswordBytes {
		return tooLong(longest)
	}
	nfc := norm.NFC.String(password)
	switch n := utf8.RuneCountInString(nfc); {
	case n < shortest:
		return tooShort(shortest)
	case n > longest:
		return tooLong(longest)
	}
	folded := strings.ToLower(nfc)
	if username != "" && folded == fold(username) {
		return errSameAsUser
	}
	list := p.Blocklist
	if list == nil {
		list = CommonPasswords()
	}
	if list.Contains(folded) {
		return errCommon
	}
	return nil
}

// fold returns s in the form Policy compares: NFC-normalized and lowercased.
func fold(s string) string {
	return strings.ToLower(norm.NFC.String(s))
}

// A Blocklist is a set of passwords that Policy.Check refuses as too common.
type Blocklist interface {
	// Contains reports whether password is on the list. Policy.Check
	// passes the password NFC-normalized and lowercased (strings.ToLower),
	// so a list should hold its entries in that form.
	Contains(password string) bool
}

// wordList is a Blocklist of sorted, folded, distinct words.
type wordList []string

func (w wordList) Contains(password string) bool {
	_, found := slices.BinarySearch(w, password)
	return found
}

// NewBlocklist returns a Blocklist of words, matched ignoring case (each word
// is NFC-normalized and lowercased). With no words it blocks nothing.
func NewBlocklist(words ...string) Blocklist {
	list := make(wordList, 0, len(words))
	for _, w := range words {
		list = append(list, fold(w))
	}
	slices.Sort(list)
	return slices.Compact(list)
}

//go:embed blocklist/common.txt.gz
var commonGz []byte

var commonPasswords = sync.OnceValue(func() Blocklist {
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		panic("password: embedded blocklist: " + err.Error())
	}
	var list wordList
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		list = append(list, sc.Text())
	}
	if err := sc.Err(); err != nil {
		panic("password: embedded blocklist: " + err.Error())
	}
	// The file is built lowercased and sorted; sorting again is cheap and
	// keeps the binary search right whatever the generator did.
	slices.Sort(list)
	return slices.Compact(list)
})

// CommonPasswords returns the built-in blocklist: 31,666 common passwords,
// lowercased, from Openwall's password.lst and the zxcvbn project's list
// drawn from Mark Burnett's 10-million-password corpus (sources and licenses
// in blocklist/README.md). The list is decompressed on first use, and the
// same Blocklist is returned every time.
func CommonPasswords() Blocklist {
	return commonPasswords()
}
