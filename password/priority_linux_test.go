package password

import (
	"context"
	"syscall"
	"testing"
)

// TestHashLowPriority checks that hashes compute on a thread of the
// lowest priority, and that the caller's thread keeps its own.
func TestHashLowPriority(t *testing.T) {
	nice := func() int {
		// The raw system call returns 20 - nice.
		p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err != nil {
			t.Fatal(err)
		}
		return 20 - p
	}
	before := nice()
	got := -100
	h := &Hasher{Params: fast}
	h.testHook = func() { got = nice() }
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	if got != hashNice {
		t.Errorf("the hash computed at nice %d, want %d", got, hashNice)
	}
	if after := nice(); after != before {
		t.Errorf("the calling goroutine's thread is at nice %d after Hash, want %d as before", after, before)
	}
}
