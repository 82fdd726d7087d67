package main

import "runtime/debug"

// formatVersion describes a build from its information: the module
// version ("devel" for a build from a checkout without a version), then
// the VCS revision (12 characters) and whether the tree had uncommitted
// changes, when the go command recorded them:
//
//	v1.4.0
//	v1.4.0 (rev 2a7d353abcde)
//	devel (rev 2a7d353abcde, modified)
//
// With no build information at all it returns "(devel)".
func formatVersion(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(devel)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		if v == "devel" {
			return "(devel)"
		}
		return v
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v += " (rev " + rev
	if modified {
		v += ", modified"
	}
	return v + ")"
}
