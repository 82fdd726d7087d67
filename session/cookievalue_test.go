package session

import (
	"net/http"
	"testing"
)

// TestCookieValue checks how the session cookie is found in the Cookie
// headers: the first pair called name, trimmed of spaces, quotes removed;
// never a pair whose name only contains or starts with it.
func TestCookieValue(t *testing.T) {
	const name = "sid"
	for _, tt := range []struct {
		header []string
		want   string
		ok     bool
	}{
		{nil, "", false},
		{[]string{""}, "", false},
		{[]string{"sid=abc"}, "abc", true},
		{[]string{"a=1; sid=abc; b=2"}, "abc", true},
		{[]string{"a=1;sid=abc"}, "abc", true},
		{[]string{"  sid=abc  "}, "abc", true},
		{[]string{"\u00a0sid=abc\u00a0"}, "abc", true},
		{[]string{"sid= abc"}, " abc", true},
		{[]string{`sid="abc"`}, "abc", true},
		{[]string{`sid="`}, `"`, true},
		{[]string{"sid="}, "", true},
		{[]string{"sid"}, "", false},
		{[]string{"sid =abc"}, "", false},
		{[]string{"xsid=1; sidx=2; sid=3"}, "3", true},
		{[]string{"a=sid=1; sid=2"}, "2", true},
		{[]string{"a=x sid=1; sid=2"}, "2", true},
		{[]string{"sid=1; sid=2"}, "1", true},
		{[]string{"a=1", "sid=2"}, "2", true},
		{[]string{"sidsid=1;sid"}, "", false},
		{[]string{"sisid=1; ssid=2"}, "", false},
	} {
		h := http.Header{"Cookie": tt.header}
		v, ok := cookieValue(h, name)
		if v != tt.want || ok != tt.ok {
			t.Errorf("cookieValue(%q) = %q, %v; want %q, %v", tt.header, v, ok, tt.want, tt.ok)
		}
	}
}
