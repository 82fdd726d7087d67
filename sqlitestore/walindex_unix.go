//go:build unix

package sqlitestore

import (
	"os"
	"syscall"
)

// mapHeader maps the first bytes of the WAL index read-only and shared, so
// that reading the header is a copy from memory; nil if it cannot.
func mapHeader(f *os.File) []byte {
	fi, err := f.Stat()
	if err != nil || fi.Size() < 2*walHeaderSize {
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, 2*walHeaderSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return mem
}

func unmapHeader(mem []byte) { syscall.Munmap(mem) }
