//go:build !linux

package password

// lowPriority runs f. Only on Linux does a thread have a priority of its
// own, so elsewhere hashing runs at the process's priority.
func lowPriority(f func()) { f() }
