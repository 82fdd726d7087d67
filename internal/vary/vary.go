// Package vary adds a field to a response's Vary header once.
package vary

import (
	"net/http"
	"strings"
)

// cookie is the Vary header of responses that vary by Cookie alone.
var cookie = []string{"Cookie"}

// Add adds value to h's Vary header unless a Vary line already names it
// (in any case, alone or in a comma-separated list) or is "*", so that
// layers that each depend on a request header can all declare it and the
// response still names it once.
//
// A response that names Cookie alone shares one slice with every other:
// full (its length is its capacity), so that adding a value copies it.
func Add(h http.Header, value string) {
	if value == "Cookie" && len(h["Vary"]) == 0 {
		h["Vary"] = cookie[:1:1]
		return
	}
	for _, line := range h.Values("Vary") {
		for v := range strings.SplitSeq(line, ",") {
			if v = strings.TrimSpace(v); v == "*" || strings.EqualFold(v, value) {
				return
			}
		}
	}
	h.Add("Vary", value)
}
