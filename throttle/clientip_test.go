package throttle_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/throttle"
)

func TestClientIP(t *testing.T) {
	proxies, err := throttle.ParseCIDRs("10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "192.0.2.1:5678", nil, nil, "192.0.2.1"},
		{"direct ignores XFF without trusted proxies", "192.0.2.1:5678", []string{"203.0.113.5"}, nil, "192.0.2.1"},
		{"spoof: XFF from untrusted peer", "192.0.2.1:5678", []string{"203.0.113.5"}, proxies, "192.0.2.1"},
		{"behind one proxy", "10.0.0.1:443", []string{"203.0.113.5"}, proxies, "203.0.113.5"},
		{"spoof: client-sent XFF behind proxy", "10.0.0.1:443", []string{"6.6.6.6, 203.0.113.5"}, proxies, "203.0.113.5"},
		{"spoof: client claims a trusted address", "10.0.0.1:443", []string{"10.9.9.9, 203.0.113.5"}, proxies, "203.0.113.5"},
		{"chain of proxies", "10.0.0.1:443", []string{"203.0.113.5, 10.0.0.2, 10.0.0.3"}, proxies, "203.0.113.5"},
		{"several header lines", "10.0.0.1:443", []string{"6.6.6.6", "203.0.113.5, 10.0.0.2"}, proxies, "203.0.113.5"},
		{"client in earlier header line", "10.0.0.1:443", []string{"203.0.113.5", "10.0.0.2"}, proxies, "203.0.113.5"},
		{"no spaces", "10.0.0.1:443", []string{"6.6.6.6,203.0.113.5,10.0.0.2"}, proxies, "203.0.113.5"},
		{"garbage left of client", "10.0.0.1:443", []string{"<script>, 203.0.113.5"}, proxies, "203.0.113.5"},
		{"garbage in trusted position", "10.0.0.1:443", []string{"6.6.6.6, unknown"}, proxies, "10.0.0.1"},
		{"garbage after a trusted hop", "10.0.0.1:443", []string{"6.6.6.6, junk, 10.0.0.2"}, proxies, "10.0.0.2"},
		{"empty entry", "10.0.0.1:443", []string{"6.6.6.6,,"}, proxies, "10.0.0.1"},
		{"empty header", "10.0.0.1:443", []string{""}, proxies, "10.0.0.1"},
		{"trusted peer, no XFF", "10.0.0.1:443", nil, proxies, "10.0.0.1"},
		{"all trusted", "10.0.0.1:443", []string{"10.0.0.3, 10.0.0.2"}, proxies, "10.0.0.3"},
		{"huge garbage XFF", "10.0.0.1:443", []string{strings.Repeat("x,", 100000) + "203.0.113.5"}, proxies, "203.0.113.5"},
		{"entry with port", "10.0.0.1:443", []string{"203.0.113.5:1234"}, proxies, "203.0.113.5"},
		{"IPv6 entry with port", "10.0.0.1:443", []string{"[2001:DB8::5]:1234"}, proxies, "2001:db8::5"},
		{"IPv6 entry in brackets", "10.0.0.1:443", []string{"[2001:db8::5]"}, proxies, "2001:db8::5"},
		{"IPv6 peer normalised", "[2001:0DB8:0000::0001]:443", nil, nil, "2001:db8::1"},
		{"IPv6 trusted proxy", "[2001:db8:ffff::1]:443", []string{"2001:db8:1::7"}, proxies, "2001:db8:1::7"},
		{"IPv4-mapped peer", "[::ffff:192.0.2.1]:443", nil, nil, "192.0.2.1"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:443", []string{"203.0.113.5"}, proxies, "203.0.113.5"},
		{"IPv4-mapped XFF entry", "10.0.0.1:443", []string{"::ffff:203.0.113.5"}, proxies, "203.0.113.5"},
		{"zone dropped", "[fe80::1%eth0]:443", nil, nil, "fe80::1"},
		{"loopback proxy", "127.0.0.1:8080", []string{"203.0.113.5"}, proxies, "203.0.113.5"},
		{"RemoteAddr without port", "192.0.2.1", nil, nil, "192.0.2.1"},
		{"RemoteAddr unix socket", "@", []string{"203.0.113.5"}, proxies, ""},
		{"RemoteAddr empty", "", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := throttle.ClientIP(r, tt.trusted); got != tt.want {
				t.Errorf("ClientIP(RemoteAddr %q, XFF %.60q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"10.0.0.0/8", "10.0.0.0/8", false},
		{"10.1.2.3/8", "10.0.0.0/8", false},
		{" 192.0.2.1 ", "192.0.2.1/32", false},
		{"::1", "::1/128", false},
		{"2001:db8::/32", "2001:db8::/32", false},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", false},
		{"::ffff:0:0/64", "", true},
		{"10.0.0.0/33", "", true},
		{"fe80::1%eth0", "", true},
		{"example.com", "", true},
	}
	for _, tt := range tests {
		got, err := throttle.ParseCIDRs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseCIDRs(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && (len(got) != 1 || got[0].String() != tt.want) {
			t.Errorf("ParseCIDRs(%q) = %v, want [%s]", tt.in, got, tt.want)
		}
	}

	got, err := throttle.ParseCIDRs(strings.Split("10.0.0.0/8, ,127.0.0.1,", ",")...)
	if err != nil || len(got) != 2 {
		t.Errorf("ParseCIDRs of a comma-separated list = %v, %v, want 2 prefixes", got, err)
	}
}

func TestFromTrustedProxy(t *testing.T) {
	proxies, err := throttle.ParseCIDRs("10.0.0.0/8", "::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		remote  string
		trusted []netip.Prefix
		want    bool
	}{
		{"10.1.2.3:443", proxies, true},
		{"[::1]:443", proxies, true},
		{"[::ffff:10.0.0.1]:443", proxies, true},
		{"192.0.2.1:443", proxies, false},
		{"10.1.2.3:443", nil, false},
		{"@unix", proxies, false},
		{"", proxies, false},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
		if got := throttle.FromTrustedProxy(r, tc.trusted); got != tc.want {
			t.Errorf("FromTrustedProxy(RemoteAddr %q, %v) = %v, want %v", tc.remote, tc.trusted, got, tc.want)
		}
	}
}
