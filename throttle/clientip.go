package throttle

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r, for counting
// failures per client. trusted lists the networks of the reverse proxies
// in front of the server; see [ParseCIDRs].
//
// The address is r.RemoteAddr's, unless that peer is a trusted proxy.
// Then ClientIP walks the X-Forwarded-For header from right to left,
// skipping trusted proxies, and returns the first address that is not
// one: the rightmost address no trusted proxy vouches for, which the
// client cannot forge by sending its own X-Forwarded-For. X-Forwarded-For
// from an untrusted peer is ignored. If the walk meets an entry that is
// not an address, it stops and returns the last trusted hop rather than
// look further left at what the client wrote; if every entry is trusted,
// it returns the leftmost.
//
// Entries may carry a port ("1.2.3.4:80", "[2001:db8::1]:80"). The result
// is in canonical form: IPv6 compressed and lower case without a zone,
// and IPv4-mapped IPv6 addresses as plain IPv4. ClientIP returns "" when
// RemoteAddr is not an IP address (a Unix socket, for instance).
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return ""
	}
	client := peer
	if !isTrusted(peer, trusted) {
		return client.String()
	}
	lines := r.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		if strings.TrimSpace(rest) == "" {
			continue
		}
		for done := false; !done; {
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			} else {
				entry, done = rest, true
			}
			a := parseAddr(strings.TrimSpace(entry))
			if !a.IsValid() {
				return client.String()
			}
			client = a
			if !isTrusted(a, trusted) {
				return client.String()
			}
		}
	}
	return client.String()
}

// parseAddr parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port" into a
// canonical address, or returns the zero Addr.
func parseAddr(s string) netip.Addr {
	if s == "" || len(s) > 100 {
		return netip.Addr{}
	}
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a = ap.Addr()
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, _ = netip.ParseAddr(s[1 : len(s)-1])
	} else {
		a, _ = netip.ParseAddr(s)
	}
	if !a.IsValid() {
		return a
	}
	return a.Unmap().WithZone("")
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseCIDRs parses the networks of trusted proxies for [ClientIP]:
// prefixes such as "10.0.0.0/8" or "fd00::/8", and single addresses such
// as "127.0.0.1" or "::1". Surrounding space is trimmed and empty strings
// are skipped, so ParseCIDRs(strings.Split(env, ",")...) accepts a
// comma-separated list. IPv4-mapped IPv6 networks are converted to IPv4,
// as ClientIP compares addresses in that form.
func ParseCIDRs(cidrs ...string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			if p, err = netip.ParsePrefix(s); err != nil {
				return nil, fmt.Errorf("throttle: trusted proxy %q: %w", s, err)
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("throttle: trusted proxy %q: %w", s, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("throttle: trusted proxy %q: zones are not supported", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return nil, fmt.Errorf("throttle: trusted proxy %q: IPv4-mapped prefix shorter than /96", s)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// FromTrustedProxy reports whether r came straight from one of the
// trusted proxies (its RemoteAddr is in trusted), so that headers only a
// proxy should set, such as X-Request-ID, may be believed.
func FromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	peer := parseAddr(r.RemoteAddr)
	return peer.IsValid() && isTrusted(peer, trusted)
}
