package throttle_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/throttle/throttletest"
)

// A login handler reserves a place before checking the password, which
// counts the attempt at once, and settles the reservation after.
func Example() {
	clock := throttletest.NewClock() // time.Now in production
	limiter := throttle.New(nil, throttle.Config{Now: clock.Now})
	trustedProxies, _ := throttle.ParseCIDRs("10.0.0.0/8")

	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		user, ip := r.PostFormValue("username"), throttle.ClientIP(r, trustedProxies)
		res, err := limiter.Reserve(ctx, throttle.Attempt{Account: user, IP: ip})
		if err != nil {
			var te *throttle.ThrottledError
			if errors.As(err, &te) {
				w.Header().Set("Retry-After", strconv.Itoa(te.RetryAfterSeconds()))
				http.Error(w, te.Error(), http.StatusTooManyRequests)
				return
			}
			http.Error(w, "Login is unavailable right now.", http.StatusServiceUnavailable)
			return
		}
		if r.PostFormValue("password") != "correct horse" {
			res.Fail(ctx)
			http.Error(w, "Wrong username or password.", http.StatusUnauthorized)
			return
		}
		res.Succeed(ctx)
		fmt.Fprintln(w, "Welcome!")
	})

	try := func(password string) {
		r := httptest.NewRequest("POST", "/login", nil)
		r.PostForm = map[string][]string{"username": {"ann"}, "password": {password}}
		w := httptest.NewRecorder()
		login.ServeHTTP(w, r)
		fmt.Print(w.Code, " ", w.Header().Get("Retry-After"), " ", w.Body.String())
	}
	try("guess1")
	try("guess2")
	try("guess3")
	try("correct horse") // too soon after the third failure
	clock.Advance(time.Second)
	try("correct horse")
	// Output:
	// 401  Wrong username or password.
	// 401  Wrong username or password.
	// 401  Wrong username or password.
	// 429 1 Too many failed login attempts. Try again in 1 second.
	// 200  Welcome!
}

func ExampleLimiter_Delay() {
	l := throttle.New(nil, throttle.Config{})
	for n := 1; n <= 9; n++ {
		fmt.Printf("after failure %d: wait %v\n", n, l.Delay(n))
	}
	// Output:
	// after failure 1: wait 0s
	// after failure 2: wait 0s
	// after failure 3: wait 1s
	// after failure 4: wait 2s
	// after failure 5: wait 4s
	// after failure 6: wait 8s
	// after failure 7: wait 16s
	// after failure 8: wait 32s
	// after failure 9: wait 1m0s
}

func ExampleClientIP() {
	proxies, err := throttle.ParseCIDRs("10.0.0.0/8", "::1")
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.7:41000" // the load balancer
	// The client sent a forged entry; the load balancer appended the
	// real address.
	r.Header.Set("X-Forwarded-For", "1.1.1.1, 203.0.113.9")
	fmt.Println(throttle.ClientIP(r, proxies))

	r.RemoteAddr = "198.51.100.4:41000" // not a proxy: its header is ignored
	fmt.Println(throttle.ClientIP(r, proxies))
	// Output:
	// 203.0.113.9
	// 198.51.100.4
}

func ExampleThrottledError() {
	err := error(&throttle.ThrottledError{RetryAfter: 3*time.Minute + 20*time.Second, Reason: throttle.ReasonAccount})
	fmt.Println(errors.Is(err, throttle.ErrThrottled))
	fmt.Println(err)
	// Output:
	// true
	// Too many failed login attempts. Try again in 4 minutes.
}
