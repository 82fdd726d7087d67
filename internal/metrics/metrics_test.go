package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hallpass/hallpass/account"
	"github.com/hallpass/hallpass/memstore"
	"github.com/hallpass/hallpass/session"
	"github.com/hallpass/hallpass/throttle"
	"github.com/hallpass/hallpass/web"
)

// Session stores with each combination of the optional interfaces.
type (
	plainStore   struct{ session.Store }
	indexedStore struct {
		session.Store
		session.UserIndex
	}
	sweptStore struct {
		session.Store
		session.Sweeper
	}
)

// Account stores with and without the optional interfaces.
type (
	plainAccounts    struct{ AccountStores }
	importerAccounts struct {
		AccountStores
		account.Importer
	}
)

func capabilities(v any) string {
	_, ix := v.(session.UserIndex)
	_, sw := v.(session.Sweeper)
	_, im := v.(account.Importer)
	_, de := v.(account.Deleter)
	return fmt.Sprintf("UserIndex=%v Sweeper=%v Importer=%v Deleter=%v", ix, sw, im, de)
}

// TestWrappersKeepCapabilities checks that an instrumented store has
// exactly the optional interfaces of the store it wraps.
func TestWrappersKeepCapabilities(t *testing.T) {
	m := New("test")
	mem := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	accounts := memstore.NewAccountStore()
	for _, tc := range []struct {
		name  string
		store any
		wrap  func(any) any
	}{
		{"session store with both", mem, func(s any) any { return m.SessionStore(s.(session.Store)) }},
		{"plain session store", plainStore{mem}, func(s any) any { return m.SessionStore(s.(session.Store)) }},
		{"session store with UserIndex", indexedStore{mem, mem}, func(s any) any { return m.SessionStore(s.(session.Store)) }},
		{"session store with Sweeper", sweptStore{mem, mem}, func(s any) any { return m.SessionStore(s.(session.Store)) }},
		{"account store with Importer", accounts, func(s any) any { return m.AccountStores(s.(AccountStores)) }},
		{"plain account store", plainAccounts{accounts}, func(s any) any { return m.AccountStores(s.(AccountStores)) }},
		{"account store with Importer only", importerAccounts{accounts, accounts}, func(s any) any { return m.AccountStores(s.(AccountStores)) }},
	} {
		if got, want := capabilities(tc.wrap(tc.store)), capabilities(tc.store); got != want {
			t.Errorf("%s: wrapped store has %s, want %s", tc.name, got, want)
		}
	}
	var nilMetrics *Metrics
	if got := nilMetrics.SessionStore(mem); got != session.Store(mem) {
		t.Errorf("a nil *Metrics wrapped the store: %T", got)
	}
}

// failingStore answers Load with err.
type failingStore struct {
	session.Store
	err error
}

func (f failingStore) Load(context.Context, string) (*session.Record, error) { return nil, f.err }

// failingCounter fails every call.
type failingCounter struct{ throttle.Counter }

func (failingCounter) Incr(context.Context, string, time.Duration) (int, time.Time, error) {
	return 0, time.Time{}, errors.New("dial tcp: connection refused")
}

func TestStoreCalls(t *testing.T) {
	m := New("test")
	mem := memstore.NewSessionStore(memstore.SessionOptions{SweepInterval: -1})
	t.Cleanup(func() { mem.Close() })
	ctx := context.Background()
	for _, tc := range []struct {
		err        error
		wantErrors float64
	}{
		{nil, 0},
		{session.ErrNotFound, 0},
		{fmt.Errorf("load: %w", session.ErrNotFound), 0},
		{context.Canceled, 0},
		{errors.New("dial tcp: connection refused"), 1},
		{context.DeadlineExceeded, 1},
		{session.ErrCorrupt, 1},
	} {
		m := New("test")
		st := m.SessionStore(failingStore{mem, tc.err})
		st.Load(ctx, "id")
		if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("sessions", "load")); got != tc.wantErrors {
			t.Errorf("Load returning %v: %v errors counted, want %v", tc.err, got, tc.wantErrors)
		}
		if got := testutil.CollectAndCount(m.storeDuration, "hallpass_store_call_duration_seconds"); got != 1 {
			t.Errorf("Load returning %v: %d duration series, want 1", tc.err, got)
		}
	}

	c := m.Counter(failingCounter{})
	c.Incr(ctx, "k", time.Minute)
	c.Incr(ctx, "k", time.Minute)
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("throttle", "incr")); got != 2 {
		t.Errorf("throttle incr errors = %v, want 2", got)
	}
	accounts := m.AccountStores(memstore.NewAccountStore())
	if _, err := accounts.UserByUsername(ctx, "nobody"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("UserByUsername(nobody) = %v, want ErrNotFound passed through", err)
	}
	if got := testutil.ToFloat64(m.storeErrors.WithLabelValues("accounts", "user_by_username")); got != 0 {
		t.Errorf("a not-found answer counted as %v errors, want 0", got)
	}
}

func TestRequestObserver(t *testing.T) {
	m := New("v1.2.3")
	observe := m.RequestObserver()
	observe(web.Request{Method: "POST", Route: "POST /login", Status: 401, Duration: time.Millisecond})
	observe(web.Request{Method: "POST", Route: "POST /login", Status: 401, Duration: time.Millisecond})
	observe(web.Request{Method: "GET", Route: "", Status: 404, Duration: time.Millisecond})
	for _, tc := range []struct {
		route, status string
		want          float64
	}{{"POST /login", "401", 2}, {"unmatched", "404", 1}, {"POST /login", "200", 0}} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(tc.route, tc.status)); got != tc.want {
			t.Errorf("requests{route=%q,status=%s} = %v, want %v", tc.route, tc.status, got, tc.want)
		}
	}
	var nilMetrics *Metrics
	if nilMetrics.RequestObserver() != nil {
		t.Error("a nil *Metrics returned an observer")
	}

	// The exposition has the runtime metrics and the build info.
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Result().Body)
	for _, want := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", `hallpass_build_info{version="v1.2.3"} 1`, `hallpass_logins_total{result="locked"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
