package memstore

// Form reports whether the record under id is held decoded (hot) or
// compact (cold); neither when the store holds no record under id.
func (s *SessionStore) Form(id string) (hot, cold bool) {
	k := s.keyOf(id)
	sh := s.shardOf(k.h)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return findHot(sh, k.h, id) != nil, findCold(sh, &k) != nil
}

// NewCollidingSessionStore returns a SessionStore whose hashes of IDs and
// user IDs have only 3 bits, so that most IDs share a hash with others:
// the paths for colliding hashes (chains of hot entries, buckets of
// several cold ones, index entries of several users) all run.
func NewCollidingSessionStore(opts SessionOptions) *SessionStore {
	s := NewSessionStore(opts)
	s.mask = 7
	return s
}
