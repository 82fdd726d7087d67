package throttle_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hallpass/hallpass/throttle"
)

// BenchmarkReserveFail is one failed login's cost: Reserve, then Fail.
// Each iteration uses a new account and one of 1000 addresses, so the
// counter grows as under a spraying attack.
func BenchmarkReserveFail(b *testing.B) {
	l := throttle.New(nil, throttle.Config{PerIP: 1 << 30})
	i := 0
	for b.Loop() {
		acct, ip := "user"+strconv.Itoa(i), "192.0.2."+strconv.Itoa(i%250)
		reserveFail(l, acct, ip)
		i++
	}
}

// BenchmarkReserveFailDelayed is the same on one account deep into its
// delays, where Reserve reads the delay key too.
func BenchmarkReserveFailDelayed(b *testing.B) {
	l := throttle.New(nil, throttle.Config{PerAccount: 1 << 30, PerIP: 1 << 30, MaxDelay: time.Nanosecond})
	for b.Loop() {
		reserveFail(l, "ann", "192.0.2.1")
	}
}

func BenchmarkReserveFailParallel(b *testing.B) {
	l := throttle.New(nil, throttle.Config{PerIP: 1 << 30})
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			acct := "user" + strconv.Itoa(i%5000)
			reserveFail(l, acct, "192.0.2.1")
			i++
		}
	})
}

func reserveFail(l *throttle.Limiter, account, ip string) {
	if r, err := reserve(l, account, ip); err == nil {
		r.Fail(ctx)
	}
}

func BenchmarkClientIP(b *testing.B) {
	proxies, _ := throttle.ParseCIDRs("10.0.0.0/8")
	r := &http.Request{RemoteAddr: "10.0.0.1:443", Header: http.Header{
		"X-Forwarded-For": {"6.6.6.6, 203.0.113.5, 10.0.0.2"},
	}}
	for b.Loop() {
		throttle.ClientIP(r, proxies)
	}
}
