package throttle_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/throttle"
)

// FuzzClientIP checks ClientIP on any peer address, X-Forwarded-For lines
// (separated by newlines in xff) and trusted proxy list: it never panics,
// returns "" only when the peer is not an address, and otherwise returns
// a valid address in canonical form that is the peer's or one of the
// header's entries, and the peer's whenever the peer is not trusted.
func FuzzClientIP(f *testing.F) {
	fallback, err := throttle.ParseCIDRs("10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remoteAddr, xff, trusted string) {
		proxies, err := throttle.ParseCIDRs(strings.Split(trusted, ",")...)
		if err != nil {
			proxies = fallback
		}
		for _, p := range proxies {
			if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
				t.Errorf("ParseCIDRs(%q) returned %v, want valid, masked prefixes without IPv4-mapped addresses", trusted, p)
			}
		}
		r := &http.Request{RemoteAddr: remoteAddr, Header: http.Header{}}
		for _, line := range strings.Split(xff, "\n") {
			r.Header.Add("X-Forwarded-For", line)
		}
		got := throttle.ClientIP(r, proxies)
		// ClientIP of a request without a header is the canonical form of
		// its RemoteAddr: the same parser reads X-Forwarded-For entries.
		canonical := func(s string) string { return throttle.ClientIP(&http.Request{RemoteAddr: s}, nil) }
		peer := canonical(remoteAddr)
		if got == "" || peer == "" {
			if got != peer {
				t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %q, but the peer is %q", remoteAddr, xff, got, peer)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.String() != got || a.Zone() != "" || a.Is4In6() {
			t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %q, not an address in canonical form", remoteAddr, xff, got)
		}
		peerAddr := netip.MustParseAddr(peer)
		trustedPeer := false
		for _, p := range proxies {
			trustedPeer = trustedPeer || p.Contains(peerAddr)
		}
		if !trustedPeer && got != peer {
			t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %q from an untrusted peer %q, want the peer", remoteAddr, xff, got, peer)
		}
		if got == peer {
			return
		}
		for _, line := range r.Header.Values("X-Forwarded-For") {
			for _, entry := range strings.Split(line, ",") {
				if canonical(strings.TrimSpace(entry)) == got {
					return
				}
			}
		}
		t.Errorf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %q, neither the peer nor an entry of the header", remoteAddr, xff, got)
	})
}
