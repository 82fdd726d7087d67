// Package seqid spells the sequential IDs that the account stores issue
// for users and API tokens: positive integers, in creation order, written
// in canonical decimal. The account contract keeps IDs opaque to callers;
// this package is only for the stores.
package seqid

import "strconv"

// Format returns the ID of n, which must be positive: its canonical
// decimal form.
func Format(n int64) string { return strconv.FormatInt(n, 10) }

// Parse returns the number whose ID is id. It accepts only what Format
// returns for a positive int64, so each number has one spelling: "01",
// "+1", " 1", "0" and "-1" are not IDs, and ok is false for them.
func Parse(id string) (n int64, ok bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 1 || Format(n) != id {
		return 0, false
	}
	return n, true
}
