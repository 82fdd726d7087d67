package vary

import (
	"net/http"
	"strings"
	"testing"
)

func TestAdd(t *testing.T) {
	tests := []struct {
		have []string
		want []string
	}{
		{nil, []string{"Cookie"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
		{[]string{"Accept-Encoding, cookie"}, []string{"Accept-Encoding, cookie"}},
		{[]string{"Cookie"}, []string{"Cookie"}},
		{[]string{"*"}, []string{"*"}},
	}
	for _, tt := range tests {
		h := http.Header{"Vary": tt.have}
		Add(h, "Cookie")
		if got := h.Values("Vary"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Add(%q, Cookie) = %q, want %q", tt.have, got, tt.want)
		}
	}
}

// TestAddSharesCookie checks that responses naming Cookie alone, which
// share one slice, never see a value another response adds.
func TestAddSharesCookie(t *testing.T) {
	a, b := http.Header{}, http.Header{}
	Add(a, "Cookie")
	Add(b, "Cookie")
	a.Add("Vary", "Accept-Encoding")
	Add(a, "Origin")
	b.Set("Vary", "Cookie, Accept")
	c := http.Header{}
	Add(c, "Cookie")
	if got := strings.Join(a.Values("Vary"), "|"); got != "Cookie|Accept-Encoding|Origin" {
		t.Errorf("first response: Vary %q", got)
	}
	if got := strings.Join(b.Values("Vary"), "|"); got != "Cookie, Accept" {
		t.Errorf("second response: Vary %q", got)
	}
	if got := strings.Join(c.Values("Vary"), "|"); got != "Cookie" {
		t.Errorf("a later response: Vary %q, want Cookie", got)
	}
}
