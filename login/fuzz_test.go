package login_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/login"
)

// FuzzSafeNext checks that whatever SafeNext returns is "" or a path on
// this site, unchanged, that SafeNext maps to itself, and that a browser
// resolving it against a page of the site stays on the site.
func FuzzSafeNext(f *testing.F) {
	base, err := url.Parse("https://site.example/account/page?x=1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := login.SafeNext(next)
		if got == "" {
			return
		}
		if got != next {
			t.Fatalf("SafeNext(%q) = %q, want the input or \"\"", next, got)
		}
		if again := login.SafeNext(got); again != got {
			t.Errorf("SafeNext(SafeNext(%q)) = %q, want %q", next, again, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\x00\t\r\n") {
			t.Errorf("SafeNext(%q) = %q, not a local path", next, got)
		}
		u, err := base.Parse(got)
		if err != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
			t.Errorf("SafeNext(%q) = %q resolves to %v (%v), off the site %s", next, got, u, err, base.Host)
		}
	})
}
