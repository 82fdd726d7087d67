package session

import (
	"sync"
	"testing"
)

type keyA struct{}
type keyB struct{}
type keyC struct{}

// TestRequestValues checks SetRequestValue and RequestValue: values by
// key, replaced in place, more keys than the session keeps in place, a
// nil session, and concurrent use.
func TestRequestValues(t *testing.T) {
	s := &Session{}
	if v := s.RequestValue(keyA{}); v != nil {
		t.Fatalf("RequestValue before any Set = %v, want nil", v)
	}
	steps := []struct {
		key, v any
	}{{keyA{}, 1}, {keyB{}, "b"}, {keyC{}, 3.5}, {"str", "s"}, {keyA{}, 2}, {keyC{}, 4.5}}
	want := map[any]any{}
	for _, st := range steps {
		s.SetRequestValue(st.key, st.v)
		want[st.key] = st.v
		for k, v := range want {
			if got := s.RequestValue(k); got != v {
				t.Fatalf("after Set(%T, %v): RequestValue(%T) = %v, want %v", st.key, st.v, k, got, v)
			}
		}
	}
	if n := len(*s.moreVal); n != 3 {
		t.Errorf("%d values beyond the one kept in place, want 3 (each key once)", n)
	}
	var none *Session
	none.SetRequestValue(keyA{}, 1)
	if v := none.RequestValue(keyA{}); v != nil {
		t.Errorf("RequestValue on a nil Session = %v", v)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.SetRequestValue(i, i)
			if got := s.RequestValue(i); got != i {
				t.Errorf("RequestValue(%d) = %v", i, got)
			}
		}()
	}
	wg.Wait()
}
