//go:build !unix

package sqlitestore

import "os"

// mapHeader returns nil: the header is read with a pread.
func mapHeader(f *os.File) []byte { return nil }

func unmapHeader(mem []byte) {}
