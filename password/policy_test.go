package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPolicyCheck(t *testing.T) {
	noList := NewBlocklist()
	tests := []struct {
		name     string
		policy   Policy
		password string
		username string
		wantErr  error
		wantMsg  string // checked when set
	}{
		{"good", Policy{}, "q7#Lm2!x", "alice", nil, ""},
		{"passphrase with spaces", Policy{}, "correct horse battery staple", "alice", nil, ""},
		{"only spaces is allowed", Policy{}, "          ", "", nil, ""},
		{"empty", Policy{}, "", "alice", ErrTooShort, "Password must be at least 8 characters."},
		{"7 characters", Policy{}, "q7#Lm2!", "alice", ErrTooShort, "Password must be at least 8 characters."},
		{"3 wide characters", Policy{}, "日本語", "", ErrTooShort, ""},
		{"9 wide characters", Policy{}, "日本語のパスワード", "", nil, ""},
		{"emoji count once each", Policy{}, "🔐🔐🔐🔐🔐🔐🔐", "", ErrTooShort, ""},
		{"NFD counted after NFC", Policy{}, strings.Repeat("e\u0301", 7), "", ErrTooShort, ""},
		{"NFC 8", Policy{}, strings.Repeat("é", 8), "", nil, ""},
		{"128 characters", Policy{}, strings.Repeat("ab", 64), "", nil, ""},
		{"129 characters", Policy{}, strings.Repeat("ab", 64) + "c", "", ErrTooLong, "Password must be at most 128 characters."},
		{"very long", Policy{}, strings.Repeat("x", 1<<20), "", ErrTooLong, ""},
		{"invalid UTF-8", Policy{}, "q7#Lm2!x\xff", "", ErrInvalidUTF8, "Password contains characters that could not be read. Please type it again."},
		{"common", Policy{}, "password", "", ErrCommon, "This password is too common. Choose one that is harder to guess."},
		{"common, other case", Policy{}, "PassWord1", "", ErrCommon, ""},
		{"common, long", Policy{}, "iloveyou", "", ErrCommon, ""},
		{"common digits", Policy{}, "12345678", "", ErrCommon, ""},
		{"same as username", Policy{}, "alice.smith", "alice.smith", ErrSameAsUsername, "Password must not be the same as your username."},
		{"same as username, other case", Policy{}, "Alice.Smith", "ALICE.smith", ErrSameAsUsername, ""},
		{"contains username is allowed", Policy{}, "alice.smith rides a bike", "alice.smith", nil, ""},
		{"no username", Policy{}, "q7#Lm2!x", "", nil, ""},
		{"short beats same as username", Policy{}, "bob", "bob", ErrTooShort, ""},
		{"MinLength 12", Policy{MinLength: 12}, "q7#Lm2!xq7#", "", ErrTooShort, "Password must be at least 12 characters."},
		{"MinLength 1", Policy{MinLength: 1, Blocklist: noList}, "x", "", nil, ""},
		{"MinLength 1, empty", Policy{MinLength: 1}, "", "", ErrTooShort, "Password must be at least 1 character."},
		{"negative MinLength means 8", Policy{MinLength: -1}, "q7#Lm2!", "", ErrTooShort, "Password must be at least 8 characters."},
		{"MinLength above MaxLength", Policy{MinLength: 500}, strings.Repeat("ab", 64), "", nil, ""},
		{"MaxLength 64", Policy{MaxLength: 64}, strings.Repeat("ab", 32) + "c", "", ErrTooLong, "Password must be at most 64 characters."},
		{"MaxLength 10 is raised to 64", Policy{MaxLength: 10}, strings.Repeat("ab", 32), "", nil, ""},
		{"MaxLength 1000 is lowered to 128", Policy{MaxLength: 1000}, strings.Repeat("ab", 64) + "c", "", ErrTooLong, "Password must be at most 128 characters."},
		{"blocklist off", Policy{Blocklist: noList}, "password", "", nil, ""},
		{"own blocklist", Policy{Blocklist: NewBlocklist("Hunter2hunter2")}, "HUNTER2HUNTER2", "", ErrCommon, ""},
		{"own blocklist replaces the default", Policy{Blocklist: NewBlocklist("Hunter2hunter2")}, "password", "", nil, ""},
	}
	for _, tc := range tests {
		err := tc.policy.Check(tc.password, tc.username)
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("%s: %+v.Check(%.40q, %q) = %v, want %v", tc.name, tc.policy, tc.password, tc.username, err, tc.wantErr)
			continue
		}
		if tc.wantMsg != "" && err.Error() != tc.wantMsg {
			t.Errorf("%s: Check(%.40q) message = %q, want %q", tc.name, tc.password, err.Error(), tc.wantMsg)
		}
	}
}

func TestCommonPasswords(t *testing.T) {
	list := CommonPasswords().(wordList)
	if len(list) < 10000 {
		t.Errorf("CommonPasswords has %d entries, want at least 10000", len(list))
	}
	for i, w := range list {
		if w == "" || w != fold(w) || !utf8.ValidString(w) {
			t.Errorf("entry %d %q is not lowercased, NFC text", i, w)
		}
		if i > 0 && list[i-1] >= w {
			t.Fatalf("entries %q, %q are not sorted and distinct", list[i-1], w)
		}
	}
	for _, pw := range []string{"123456", "password", "qwerty", "letmein", "trustno1", "iloveyou", "monkey"} {
		if !list.Contains(pw) {
			t.Errorf("CommonPasswords().Contains(%q) = false, want true", pw)
		}
	}
	for _, pw := range []string{"correct horse battery staple", "q7#Lm2!x", ""} {
		if list.Contains(pw) {
			t.Errorf("CommonPasswords().Contains(%q) = true, want false", pw)
		}
	}
	if CommonPasswords() == nil {
		t.Error("CommonPasswords() = nil")
	}
}

// TestBlocklistFile checks the embedded file is as gen_blocklist.py writes
// it, so the sort at load time is only a safety net.
func TestBlocklistFile(t *testing.T) {
	zr, err := gzip.NewReader(bytes.NewReader(commonGz))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	var prev string
	n := 0
	for sc.Scan() {
		w := sc.Text()
		if n > 0 && w <= prev {
			t.Fatalf("line %d %q is not after %q", n+1, w, prev)
		}
		prev = w
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 31666 {
		t.Errorf("blocklist has %d lines, want 31666 (as blocklist/README.md says)", n)
	}
	if len(commonGz) > 128<<10 {
		t.Errorf("blocklist is %d bytes compressed, want it to stay under 128 KiB", len(commonGz))
	}
}

func TestNewBlocklist(t *testing.T) {
	list := NewBlocklist("Foo", "foo", "BAR", "e\u0301t\u00e9")
	if got := len(list.(wordList)); got != 3 {
		t.Errorf("NewBlocklist of 4 words, 2 equal ignoring case: %d entries, want 3", got)
	}
	for _, w := range []string{"foo", "bar", "été"} {
		if !list.Contains(w) {
			t.Errorf("Contains(%q) = false, want true", w)
		}
	}
	if NewBlocklist().Contains("") {
		t.Error("empty Blocklist contains the empty string")
	}
}
