package session

import "errors"

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
		return s.storeErr("create", err)
	}
	if s.rec != nil {
		if err := m.calls.Delete(s.ctx, s.id); err != nil {
			// The new session exists but the old one may still work: fail
			// loudly rather than leave two live tokens behind silently.
			m.calls.Delete(s.ctx, id)
			return s.storeErr("delete", err)
		}
	}
	m.storeOK()
	s.storeDown = nil // answered after all: the commit may save
	if userID != "" && (s.rec == nil || s.rec.UserID != userID) {
		m.created(s.ctx)
	}
	s.token, s.id, s.rec = [TokenSize]byte(tok), id, rec
	s.set, s.del = nil, nil
	s.writeCookie, s.expireCookie = true, false
	return nil
}

// storeErr is Manager.storeErr for a call this session made, and
// remembers a store found unavailable, so that the commit does not wait on
// it a second time in the same request for the same answer. Callers hold
// s.mu.
func (s *Session) storeErr(op string, err error) error {
	err = s.m.storeErr(s.ctx, op, err)
	if errors.Is(err, ErrStoreUnavailable) {
		s.storeDown = err
	}
	return err
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
	if s.id != "" {
		if err := s.m.calls.Delete(s.ctx, s.id); err != nil {
			return s.storeErr("delete", err)
		}
		s.m.storeOK()
		s.storeDown = nil
		s.m.revoked(s.ctx, 1)
	}
	s.id, s.rec = "", nil
	s.set, s.del = nil, nil
	s.writeCookie, s.expireCookie = false, true
	return nil
}
