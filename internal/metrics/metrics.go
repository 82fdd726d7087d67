// Package metrics is the Prometheus side of the hallpass server: it turns
// the hooks of the session, login, password and web packages, and calls
// to the stores, into metrics, and serves them in the Prometheus text
// format. The library packages know nothing of Prometheus; only the
// server (cmd/hallpass) imports this package, when HALLPASS_METRICS_ADDR
// is set.
//
// A nil *Metrics is valid and does nothing: its hooks are nil, its store
// wrappers return the store unchanged.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hallpass/hallpass/login"
	"github.com/hallpass/hallpass/password"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/web"
)

// Metrics holds the server's metrics in a registry of its own. Create it
// with New.
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	logins          *prometheus.CounterVec
	sessionsCreated prometheus.Counter
	sessionsRevoked prometheus.Counter
	rememberUsed    prometheus.Counter
	rememberThefts  prometheus.Counter
	storeDuration   *prometheus.HistogramVec
	storeErrors     *prometheus.CounterVec
	hashWait        prometheus.Histogram
}

// New returns the metrics of a server of the given version, with the Go
// runtime and process metrics registered.
func New(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallpass_http_requests_total",
			Help: "HTTP requests answered, by route pattern (\"unmatched\" for none) and status.",
		}, []string{"route", "status"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hallpass_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallpass_logins_total",
			Help: "Password checks, by result: success, wrong_password (or unknown user, or disabled), throttled, locked (the account's failure limit), error (a store or the hasher failed).",
		}, []string{"result"}),
		sessionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hallpass_sessions_created_total",
			Help: "New sessions stored (not token renewals).",
		}),
		sessionsRevoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hallpass_sessions_revoked_total",
			Help: "Sessions ended before their expiry: logouts, revocations, password changes, disabled accounts.",
		}),
		rememberUsed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hallpass_remember_logins_total",
			Help: "Logins restored from a remember-me cookie.",
		}),
		rememberThefts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hallpass_remember_thefts_total",
			Help: "Stolen remember-me cookies detected (the user's sessions and remember tokens were revoked).",
		}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hallpass_store_call_duration_seconds",
			Help:    "Time of a store call, by store (sessions, accounts, throttle) and operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"store", "op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallpass_store_errors_total",
			Help: "Store calls that failed (not counting answers such as not found or conflict), by store and operation.",
		}, []string{"store", "op"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hallpass_password_hash_wait_seconds",
			Help:    "Time a password hash waited for a free hashing slot.",
			Buckets: []float64{0, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
	m.reg.MustRegister(m.requests, m.requestDuration, m.logins, m.sessionsCreated, m.sessionsRevoked,
		m.rememberUsed, m.rememberThefts, m.storeDuration, m.storeErrors, m.hashWait,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hallpass_build_info",
			Help:        "Always 1; the label is the server's version.",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }),
	)
	for _, r := range login.Results {
		m.logins.WithLabelValues(string(r)) // every result shows, from zero
	}
	return m
}

// Registry returns the registry the metrics are in, to add more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// RequestObserver returns the function for web.Config.Observe, or nil.
func (m *Metrics) RequestObserver() func(web.Request) {
	if m == nil {
		return nil
	}
	return func(q web.Request) {
		route := q.Route
		if route == "" {
			route = web.UnmatchedRoute
		}
		m.requests.WithLabelValues(route, strconv.Itoa(q.Status)).Inc()
		m.requestDuration.WithLabelValues(route).Observe(q.Duration.Seconds())
	}
}

// LoginHooks returns the hooks for login.Config.Hooks.
func (m *Metrics) LoginHooks() login.Hooks {
	if m == nil {
		return login.Hooks{}
	}
	return login.Hooks{
		Authenticated: func(_ context.Context, r login.Result) { m.logins.WithLabelValues(string(r)).Inc() },
		RememberUsed:  func(context.Context) { m.rememberUsed.Inc() },
		RememberTheft: func(context.Context) { m.rememberThefts.Inc() },
	}
}

// SessionHooks returns the hooks for session.Config.Hooks.
func (m *Metrics) SessionHooks() session.Hooks {
	if m == nil {
		return session.Hooks{}
	}
	return session.Hooks{
		Created: func(context.Context) { m.sessionsCreated.Inc() },
		Revoked: func(_ context.Context, n int) { m.sessionsRevoked.Add(float64(n)) },
	}
}

// Hasher instruments h: how long hashes wait for a slot, how many wait
// now (the queue's depth), and how many gave up. Call it before h is
// first used.
func (m *Metrics) Hasher(h *password.Hasher) {
	if m == nil {
		return
	}
	h.OnWait = func(d time.Duration) { m.hashWait.Observe(d.Seconds()) }
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hallpass_password_hash_queue_depth",
			Help: "Password hashes waiting for a free hashing slot now.",
		}, func() float64 { return float64(h.Stats().Waiting) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hallpass_password_hash_busy_total",
			Help: "Password hashes refused because no hashing slot freed up in time (answered 503).",
		}, func() float64 { return float64(h.Stats().Busy) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hallpass_password_hash_computations_total",
			Help: "Password hash computations run (hashes, verifications, dummy verifications).",
		}, func() float64 { return float64(h.Stats().Computations) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "hallpass_password_hash_worker_failures_total",
			Help: "Argon2 derivations that the hash worker processes failed, computed in the server process instead.",
		}, func() float64 { return float64(h.Stats().Argon2Failures) }),
	)
}
