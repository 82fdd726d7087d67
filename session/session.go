package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hallpass/hallpass/internal/vary"
)

// ErrNoSession is returned by the methods of a nil *Session: the handler
// is not behind Manager.Middleware.
var ErrNoSession = errors.New("session: no session in the request context (is the handler behind Manager.Middleware?)")

// Keys that the package reserves inside a session's values. Application
// keys should not start with an underscore.
const (
	flashKey   = "_flashes"
	persistKey = "_persistent"
)

// varyCookie is the Vary header of responses that depend on the session.
var varyCookie = []string{"Cookie"}

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

	mu         sync.Mutex
	token      []byte // from a valid cookie, or issued by Renew; nil for none
	tokBuf     [TokenSize]byte
	id         string // IDOf(token), computed on load
	loaded     bool
	cookieRead bool
	err        error   // load failure; reported at commit
	rec        *Record // the stored record; nil for a new session
	set        map[string][]byte
	del        map[string]struct{}

	touched      bool // used at all: the response varies by cookie
	writeCookie  bool // the token or its lifetime changed
	expireCookie bool // the browser's cookie must go
}

// ensure loads the record on first use. Callers hold s.mu.
func (s *Session) ensure() error {
	s.touched = true
	if s.loaded {
		return s.err
	}
	s.loaded = true
	s.readCookie()
	if s.token == nil {
		return nil
	}
	s.id = IDOf(s.token)
	rec, err := s.m.load(s.ctx, s.id)
	if err != nil {
		s.err = err
		return err
	}
	if rec == nil {
		// Unknown, expired or corrupt: start afresh with a new token, so a
		// token the server did not issue is never adopted (fixation).
		s.token, s.id = nil, ""
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
	if v, ok := cookieValue(s.req.Header, s.m.cfg.CookieName); ok && s.m.keys.verify(v, &s.tokBuf) {
		s.token = s.tokBuf[:]
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

func encodeValue(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("session: encode value: %w", err)
	}
	return b, nil
}

// Get decodes the value of key into dst (a pointer, as for
// json.Unmarshal) and reports whether the key was present. A value that
// does not decode into dst is an error.
func (s *Session) Get(key string, dst any) (bool, error) {
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	b, ok := s.get(key)
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return true, fmt.Errorf("session: decode %q: %w", key, err)
	}
	return true, nil
}

// Put sets key to value, encoded as JSON. It fails only when value cannot
// be encoded or the session could not be loaded.
func (s *Session) Put(key string, value any) error {
	if s == nil {
		return ErrNoSession
	}
	b, err := encodeValue(value)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.put(key, b)
}

// Delete removes key. Removing a missing key does nothing.
func (s *Session) Delete(key string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.remove(key)
	s.mu.Unlock()
}

// Pop decodes the value of key into dst, removes the key, and reports
// whether it was present.
func (s *Session) Pop(key string, dst any) (bool, error) {
	if s == nil {
		return false, nil
	}
	s.mu.Lock()
	b, ok := s.get(key)
	if ok {
		s.remove(key)
	}
	s.mu.Unlock()
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return true, fmt.Errorf("session: decode %q: %w", key, err)
	}
	return true, nil
}

// Has reports whether key is present.
func (s *Session) Has(key string) bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.get(key)
	return ok
}

// Keys returns the keys present in the session, sorted.
func (s *Session) Keys() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensure() != nil {
		return nil
	}
	var keys []string
	if s.rec != nil {
		for k := range s.rec.Values {
			if _, gone := s.del[k]; !gone {
				if _, dup := s.set[k]; !dup {
					keys = append(keys, k)
				}
			}
		}
	}
	for k := range s.set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// GetString returns the string value of key, or "" when it is missing or
// not a string.
func (s *Session) GetString(key string) string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	b, ok := s.get(key)
	s.mu.Unlock()
	if !ok {
		return ""
	}
	if v, ok := plainString(b); ok {
		return v
	}
	var v string
	json.Unmarshal(b, &v)
	return v
}

// plainString decodes a JSON string without escapes, the common case,
// without the cost of encoding/json.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}

// GetInt returns the integer value of key, or 0 when it is missing or not
// an integer.
func (s *Session) GetInt(key string) int64 {
	var v int64
	s.Get(key, &v)
	return v
}

// GetBool returns the boolean value of key, or false when it is missing or
// not a boolean.
func (s *Session) GetBool(key string) bool {
	var v bool
	s.Get(key, &v)
	return v
}

// GetTime returns the time value of key, or the zero time when it is
// missing or not a time.
func (s *Session) GetTime(key string) time.Time {
	var v time.Time
	s.Get(key, &v)
	return v
}

// PopString returns the string value of key and removes the key.
func (s *Session) PopString(key string) string {
	var v string
	s.Pop(key, &v)
	return v
}

// Flash is a message shown once, on the next page the browser loads.
type Flash struct {
	Category string `json:"c,omitempty"` // e.g. "success", "error"; free-form
	Message  string `json:"m"`
}

// AddFlash queues a message for the next page, as Flask's flash does.
func (s *Session) AddFlash(category, message string) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []Flash
	if b, ok := s.get(flashKey); ok {
		json.Unmarshal(b, &list) // a damaged list is replaced
	}
	list = append(list, Flash{Category: category, Message: message})
	b, err := encodeValue(list)
	if err != nil {
		return err
	}
	return s.put(flashKey, b)
}

// Flashes returns the queued messages and removes them, so each is shown
// once.
func (s *Session) Flashes() []Flash {
	var list []Flash
	s.Pop(flashKey, &list)
	return list
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

// SetPersistent chooses, for this session, between a cookie that outlives
// the browser (true) and a browser-session cookie (false), overriding
// Config.Persistent.
func (s *Session) SetPersistent(persistent bool) error {
	if err := s.Put(persistKey, persistent); err != nil {
		return err
	}
	s.mu.Lock()
	s.writeCookie = true
	s.mu.Unlock()
	return nil
}

func (s *Session) persistent() bool {
	if b, ok := s.get(persistKey); ok {
		return string(b) == "true"
	}
	return s.m.cfg.Persistent
}

// Renew gives the session a new token, keeping its data, and ends the old
// token at once. Call it on login and on every change of privilege, so a
// token planted or observed before the change is worthless after it.
func (s *Session) Renew() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	userID := ""
	if err := s.ensure(); err != nil {
		return err
	}
	if s.rec != nil {
		userID = s.rec.UserID
	}
	return s.renew(userID)
}

// SetUser binds the session to userID (or, with "", makes it anonymous)
// and renews its token, as a login does. The session's data is kept.
func (s *Session) SetUser(userID string) error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensure(); err != nil {
		return err
	}
	return s.renew(userID)
}

// renew stores the current state under a new token for userID and deletes
// the old record. Callers hold s.mu and have loaded the session.
func (s *Session) renew(userID string) error {
	m := s.m
	now := m.cfg.Now()
	rec := &Record{UserID: userID, CreatedAt: now, LastSeen: now}
	if s.rec != nil {
		rec.Values = make(map[string][]byte, len(s.rec.Values)+len(s.set))
		for k, v := range s.rec.Values {
			if _, gone := s.del[k]; !gone {
				rec.Values[k] = v
			}
		}
		rec.CreatedAt = s.rec.CreatedAt
		rec.IP, rec.UserAgent = s.rec.IP, s.rec.UserAgent
	} else {
		rec.Values = make(map[string][]byte, len(s.set))
		rec.IP, rec.UserAgent = s.clientInfo()
	}
	for k, v := range s.set {
		rec.Values[k] = v
	}
	if userID != "" && (s.rec == nil || s.rec.UserID != userID) {
		// A login starts a new lifetime and records this client.
		rec.CreatedAt = now
		rec.IP, rec.UserAgent = s.clientInfo()
	}
	rec.Expiry = m.expiry(rec.CreatedAt, rec.LastSeen)
	tok := newToken()
	id := IDOf(tok)
	if err := m.calls.Create(s.ctx, id, rec); err != nil {
		return m.storeErr(s.ctx, "create", err)
	}
	if s.rec != nil {
		if err := m.calls.Delete(s.ctx, s.id); err != nil {
			// The new session exists but the old one may still work: fail
			// loudly rather than leave two live tokens behind silently.
			m.calls.Delete(s.ctx, id)
			return m.storeErr(s.ctx, "delete", err)
		}
	}
	m.storeOK()
	if userID != "" && (s.rec == nil || s.rec.UserID != userID) {
		m.created(s.ctx)
	}
	s.token, s.id, s.rec = tok, id, rec
	s.set, s.del = nil, nil
	s.writeCookie, s.expireCookie = true, false
	return nil
}

func (s *Session) clientInfo() (ip, ua string) {
	ip = s.m.cfg.ClientIP(s.req)
	ua = s.req.UserAgent()
	if len(ip) > maxIP {
		ip = ip[:maxIP]
	}
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return ip, ua
}

// Destroy deletes the session from the store at once and tells the browser
// to drop its cookie. Values put afterwards start a new session with a new
// token.
func (s *Session) Destroy() error {
	if s == nil {
		return ErrNoSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touched = true
	s.readCookie()
	s.loaded = true
	s.err = nil
	if s.token != nil {
		id := IDOf(s.token)
		if err := s.m.calls.Delete(s.ctx, id); err != nil {
			return s.m.storeErr(s.ctx, "delete", err)
		}
		s.m.storeOK()
		s.m.revoked(s.ctx, 1)
	}
	s.token, s.id, s.rec = nil, "", nil
	s.set, s.del = nil, nil
	s.writeCookie, s.expireCookie = false, true
	return nil
}

// commit saves the request's changes and sets the cookie headers. It runs
// once, before the response header is written.
func (s *Session) commit(w http.ResponseWriter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.touched {
		return nil
	}
	h := w.Header()
	if _, ok := h["Vary"]; ok {
		vary.Add(h, "Cookie") // once, though other layers may have named it
	} else {
		h["Vary"] = varyCookie[:1:1] // shared and full: an append copies it
	}
	if s.err != nil {
		return s.err
	}
	m := s.m
	now := m.cfg.Now()
	switch {
	case s.rec == nil && len(s.set) == 0:
		// Nothing to keep: no server-side session for this browser.
	case s.rec == nil:
		rec := &Record{Values: s.set, CreatedAt: now, LastSeen: now, Expiry: m.expiry(now, now)}
		rec.IP, rec.UserAgent = s.clientInfo()
		tok := newToken()
		id := IDOf(tok)
		if err := m.calls.Create(s.ctx, id, rec); err != nil {
			return m.storeErr(s.ctx, "create", err)
		}
		m.storeOK()
		s.token, s.id, s.rec, s.set = tok, id, rec, nil
		s.writeCookie = true
	default:
		if s.rec.UserID == "" && s.emptyAfterChanges() {
			// An anonymous session whose last value was removed (a flash
			// that was shown): drop it rather than keep an empty record.
			if err := m.calls.Delete(s.ctx, s.id); err != nil {
				return m.storeErr(s.ctx, "delete", err)
			}
			m.storeOK()
			s.writeCookie, s.expireCookie = false, true
			break
		}
		changed := len(s.set) > 0 || len(s.del) > 0
		touch := now.Sub(s.rec.LastSeen) >= m.cfg.TouchInterval
		if !changed && !touch {
			break // a read-only request: no store write
		}
		u := &Update{}
		if changed {
			u.Set = s.set
			for k := range s.del {
				u.Delete = append(u.Delete, k)
			}
		}
		if touch {
			u.LastSeen = now
			u.Expiry = m.expiry(s.rec.CreatedAt, now)
		}
		err := m.calls.Update(s.ctx, s.id, u)
		if errors.Is(err, ErrNotFound) {
			// Destroyed or expired by another request meanwhile: its
			// changes are dropped, never resurrected.
			m.storeOK()
			s.writeCookie, s.expireCookie = false, true
			break
		}
		if err != nil {
			return m.storeErr(s.ctx, "update", err)
		}
		m.storeOK()
	}
	if s.writeCookie && s.token != nil {
		c := m.cookie(m.keys.sign(s.token))
		if s.persistent() {
			c.Expires = s.rec.CreatedAt.Add(m.cfg.AbsoluteTimeout)
			c.MaxAge = int(c.Expires.Sub(now) / time.Second)
			if c.MaxAge <= 0 {
				c.MaxAge = -1
			}
		}
		http.SetCookie(w, c)
	} else if s.expireCookie {
		c := m.cookie("")
		c.MaxAge = -1
		http.SetCookie(w, c)
	}
	if (s.writeCookie || s.expireCookie) && h.Get("Cache-Control") == "" {
		// Keep a stricter policy (no-store) the handler already set.
		h.Set("Cache-Control", `no-cache="Set-Cookie"`)
	}
	return nil
}

// emptyAfterChanges reports whether the loaded values minus deletions plus
// sets leave nothing. Callers hold s.mu.
func (s *Session) emptyAfterChanges() bool {
	if len(s.set) > 0 || len(s.del) == 0 {
		return false
	}
	for k := range s.rec.Values {
		if _, gone := s.del[k]; !gone {
			return false
		}
	}
	return true
}

func (m *Manager) cookie(value string) *http.Cookie {
	return &http.Cookie{
		Name:     m.cfg.CookieName,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   m.cfg.Secure,
		SameSite: m.cfg.SameSite,
	}
}

// state is the per-request allocation: the Session and the ResponseWriter
// that commits it before the first byte of the response.
type state struct {
	w         http.ResponseWriter
	s         Session
	committed bool
	failed    bool // the session could not be saved; the handler's output is dropped
}

func (st *state) commit() {
	st.committed = true
	if err := st.s.commit(st.w); err != nil {
		st.failed = true
		h := st.w.Header()
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Location", "Set-Cookie", "ETag", "Last-Modified"} {
			h.Del(k)
		}
		h.Set("Cache-Control", "no-store")
		st.s.m.cfg.ErrorHandler(st.w, st.s.req, err)
	}
}

func (st *state) Header() http.Header { return st.w.Header() }

func (st *state) WriteHeader(code int) {
	if !st.committed {
		st.commit()
	}
	if !st.failed {
		st.w.WriteHeader(code)
	}
}

func (st *state) Write(b []byte) (int, error) {
	if !st.committed {
		st.commit()
	}
	if st.failed {
		return len(b), nil
	}
	return st.w.Write(b)
}

// Flush commits the session and flushes the underlying writer.
func (st *state) Flush() {
	if !st.committed {
		st.commit()
	}
	if f, ok := st.w.(http.Flusher); ok && !st.failed {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (st *state) Unwrap() http.ResponseWriter { return st.w }
