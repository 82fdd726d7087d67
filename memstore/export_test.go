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
