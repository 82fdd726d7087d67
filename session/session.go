package session

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hallpass/hallpass/autherr"
)

// ErrNoSession is returned by the methods of a nil *Session: the handler
// is not behind Manager.Middleware, a mistake in the program's wiring. Its
// kind is autherr.Internal (500) and its code "middleware_missing"; its
// message says what is wrong, so the developer who sees the page knows the
// fix at once.
var ErrNoSession error = &autherr.Error{Kind: autherr.Internal, Code: "middleware_missing",
	Message: "The server is misconfigured: the session middleware is missing.",
	Err:     errors.New("session: no session in the request context (wrap the handler with Manager.Middleware)")}

// Keys that the package reserves inside a session's values. Application
// keys should not start with an underscore.
const (
	flashKey   = "_flashes"
	persistKey = "_persistent"
)

// Limits on what a session records about its client.
const (
	maxUserAgent = 512
	maxIP        = 64
)

// Session is one request's view of a browser's session. Reads are served
// from the record loaded on first use; writes are collected and applied to
// the stored record when the response is written, as a delta that keeps
// whatever other requests changed meanwhile. A Session is safe for use by
// the handler's goroutines, but only during the request.
type Session struct {
	m   *Manager
	ctx context.Context
	req *http.Request

	mu        sync.Mutex
	token     [TokenSize]byte // from a valid cookie, or issued by Renew, when id is set
	id        string          // IDOf(token); empty for no token
	err       error           // load failure; reported at commit
	storeDown error           // a store call of this request found the store unavailable; reported at commit
	now       time.Time       // when the record was loaded; the request's time
	rec       *Record         // the stored record; nil for a new session
	set       map[string][]byte
	del       map[string]struct{}

	reqVal  reqValue    // SetRequestValue's first, in place
	moreVal *[]reqValue // and any others (rare: kept out of the allocation every request makes)

	// The flags, together: the Session is part of the one allocation
	// every request makes (state), which is kept small.
	loaded       bool
	cookieRead   bool
	touched      bool // used at all: the response varies by cookie
	writeCookie  bool // the token or its lifetime changed
	expireCookie bool // the browser's cookie must go
	committed    bool // state: the commit ran
	failed       bool // state: the session could not be saved; the handler's output is dropped
}

// reqValue is a value kept with SetRequestValue.
type reqValue struct{ key, v any }

// SetRequestValue keeps v under key with the session for the rest of the
// request; it is never stored. It serves a layer that resolves something
// once per request and is reached through the request's context (the login
// manager's current user): keeping it here spares that layer a context of
// its own, and net/http the copy of the request that comes with one. key
// must be comparable, as for context.WithValue; setting it again replaces
// the value. On a nil Session it does nothing.
func (s *Session) SetRequestValue(key, v any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := &s.reqVal; e.key == nil || e.key == key {
		e.key, e.v = key, v
		return
	}
	if s.moreVal == nil {
		s.moreVal = new([]reqValue)
	}
	more := *s.moreVal
	for i := range more {
		if more[i].key == key {
			more[i].v = v
			return
		}
	}
	*s.moreVal = append(more, reqValue{key, v})
}

// RequestValue returns the value SetRequestValue kept under key during this
// request, or nil.
func (s *Session) RequestValue(key any) any {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reqVal.key == key {
		return s.reqVal.v
	}
	if s.moreVal == nil {
		return nil
	}
	for _, e := range *s.moreVal {
		if e.key == key {
			return e.v
		}
	}
	return nil
}

// ensure loads the record on first use. Callers hold s.mu.
func (s *Session) ensure() error {
	s.touched = true
	if s.loaded {
		return s.err
	}
	s.loaded = true
	s.readCookie()
	if s.id == "" {
		return nil
	}
	s.now = s.m.cfg.Now()
	rec, err := s.m.load(s.ctx, s.id, s.now)
	if err != nil {
		s.err = err
		return err
	}
	if rec == nil {
		// Unknown, expired or corrupt: start afresh with a new token, so a
		// token the server did not issue is never adopted (fixation).
		s.id = ""
		s.expireCookie = true
		return nil
	}
	s.rec = rec
	return nil
}

// readCookie takes the token from a valid cookie, once. The cookie is
// verified on first use, so a request that never touches its session pays
// nothing for it. Callers hold s.mu.
func (s *Session) readCookie() {
	if s.cookieRead {
		return
	}
	s.cookieRead = true
	if v, ok := cookieValue(s.req.Header, s.m.cfg.CookieName); ok {
		if id, ok := s.m.keys.verify(v, &s.token); ok {
			s.id = id
		}
	}
}

// cookieValue returns the value of the first cookie called name in the
// request's Cookie headers, as net/http reads it (surrounding double
// quotes removed), without allocating: this runs on every request that
// uses its session.
func cookieValue(h http.Header, name string) (string, bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// Load loads the session now, if it was not loaded yet, and returns the
// failure of the store, if any (wrapping ErrStoreUnavailable). Handlers
// rarely need it: reads of a session that failed to load find nothing, and
// the middleware answers 503 in place of the response. Call it to stop
// early, before doing work that depends on the session.
func (s *Session) Load() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensure()
}

// get returns the current encoded value of key. Callers hold s.mu.
func (s *Session) get(key string) ([]byte, bool) {
	if s.ensure() != nil {
		return nil, false
	}
	if v, ok := s.set[key]; ok {
		return v, true
	}
	if _, ok := s.del[key]; ok {
		return nil, false
	}
	if s.rec == nil {
		return nil, false
	}
	v, ok := s.rec.Values[key]
	return v, ok
}

// put records key = b as a change. Callers hold s.mu.
func (s *Session) put(key string, b []byte) error {
	if err := s.ensure(); err != nil {
		return err
	}
	if s.set == nil {
		s.set = make(map[string][]byte)
	}
	s.set[key] = b
	delete(s.del, key)
	return nil
}

// remove records the deletion of key. Callers hold s.mu.
func (s *Session) remove(key string) {
	if s.ensure() != nil {
		return
	}
	delete(s.set, key)
	if s.rec != nil {
		if _, ok := s.rec.Values[key]; ok {
			if s.del == nil {
				s.del = make(map[string]struct{})
			}
			s.del[key] = struct{}{}
		}
	}
}

// UserID returns the user the session belongs to, or "" for an anonymous
// session (or one that failed to load).
func (s *Session) UserID() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensure() != nil || s.rec == nil {
		return ""
	}
	return s.rec.UserID
}

// ID returns the session's ID (a digest of its token, safe to show and to
// pass to Manager.DestroyUserSession), or "" when the session is not stored
// yet.
func (s *Session) ID() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensure() != nil || s.rec == nil {
		return ""
	}
	return s.id
}

// IsNew reports whether the session has no stored record yet.
func (s *Session) IsNew() bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensure() != nil || s.rec == nil
}

// CreatedAt returns when the session was created; zero for a new session.
func (s *Session) CreatedAt() time.Time {
	if s == nil {
		return time.Time{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensure() != nil || s.rec == nil {
		return time.Time{}
	}
	return s.rec.CreatedAt
}
