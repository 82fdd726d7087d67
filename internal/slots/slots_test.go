package slots

import (
	"fmt"
	"sync"
	"testing"
)

type entry struct{ key, value string }

// TestTable checks that an entry is found again by its key, that a key
// always maps to the same slot, that the slots spread over the table, and
// that concurrent use is safe (run with -race).
func TestTable(t *testing.T) {
	var tab Table[entry]
	if e := tab.Slot([]byte("a")).Load(); e != nil {
		t.Fatalf("empty table: slot of %q holds %v", "a", e)
	}
	tab.Slot([]byte("a")).Store(&entry{"a", "1"})
	if e := tab.Slot([]byte("a")).Load(); e == nil || e.key != "a" || e.value != "1" {
		t.Fatalf("slot of %q = %v after Store", "a", e)
	}
	used := map[int]bool{}
	for i := range 1000 {
		s := tab.Slot(fmt.Appendf(nil, "key %d", i))
		for j := range tab.slots {
			if &tab.slots[j] == s {
				used[j] = true
			}
		}
	}
	if len(used) < 900 {
		t.Errorf("1000 keys took %d slots of %d; want them spread", len(used), Size)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint("k", (w*2000+i)%3000)
				s := tab.Slot([]byte(k))
				if e := s.Load(); e != nil && e.key == k && e.value != k+"!" {
					t.Errorf("entry of %q holds %q", k, e.value)
				}
				s.Store(&entry{k, k + "!"})
			}
		})
	}
	wg.Wait()
}
