package session

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/hallpass/hallpass/internal/vary"
)

// commit saves the request's changes and sets the cookie headers. It runs
// once, before the response header is written.
func (s *Session) commit(w http.ResponseWriter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.touched {
		return nil
	}
	h := w.Header()
	vary.Add(h, "Cookie") // once, though other layers may have named it
	if s.err != nil {
		return s.err
	}
	if s.storeDown != nil {
		// A Renew, SetUser or Destroy of this request found the store
		// unavailable: answer with that now rather than after another
		// call's deadline.
		return s.storeDown
	}
	m := s.m
	now := s.now // the time the record was checked at, if it was loaded
	if now.IsZero() {
		now = m.cfg.Now()
	}
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
		s.token, s.id, s.rec, s.set = [TokenSize]byte(tok), id, rec, nil
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
	if s.writeCookie && s.id != "" {
		c := m.cookie(m.keys.sign(s.token[:]))
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
//
// The state is also the context the handler's request carries: the
// request's context as it came in (s.ctx), plus the session (Value with
// ctxKey{}), without another allocation.
type state struct {
	w http.ResponseWriter
	s Session
}

// Deadline, Done and Err are those of the request's own context.
func (st *state) Deadline() (time.Time, bool) { return st.s.ctx.Deadline() }
func (st *state) Done() <-chan struct{}       { return st.s.ctx.Done() }
func (st *state) Err() error                  { return st.s.ctx.Err() }

// Value returns the session for ctxKey{}, and otherwise what the
// request's own context holds under key.
func (st *state) Value(key any) any {
	if key == (ctxKey{}) {
		return &st.s
	}
	return st.s.ctx.Value(key)
}

func (st *state) commit() {
	st.s.committed = true
	if err := st.s.commit(st.w); err != nil {
		st.s.failed = true
		h := st.w.Header()
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Location", "Set-Cookie", "ETag", "Last-Modified"} {
			h.Del(k)
		}
		h.Set("Cache-Control", "no-store")
		st.s.m.cfg.ErrorHandler(st.w, st.s.req, err)
	}
}

func (st *state) Header() http.Header { return st.w.Header() }

// ready commits the session before the first byte of the response, once,
// and reports whether the handler's output goes through (false once the
// session could not be saved: the error page has been written instead).
func (st *state) ready() bool {
	if !st.s.committed {
		st.commit()
	}
	return !st.s.failed
}

func (st *state) WriteHeader(code int) {
	if st.ready() {
		st.w.WriteHeader(code)
	}
}

func (st *state) Write(b []byte) (int, error) {
	if !st.ready() {
		return len(b), nil
	}
	return st.w.Write(b)
}

// WriteString is Write for a string: io.WriteString passes it down to
// net/http's writer without a copy.
func (st *state) WriteString(s string) (int, error) {
	if !st.ready() {
		return len(s), nil
	}
	return io.WriteString(st.w, s)
}

// Flush commits the session and flushes the underlying writer.
func (st *state) Flush() {
	if f, ok := st.w.(http.Flusher); st.ready() && ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (st *state) Unwrap() http.ResponseWriter { return st.w }
