package hallpass_test

import (
	"encoding/json"
	"go/doc/comment"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeSection is the README section that teaches the library; its code
// is examples/notes's.
const readmeSection = "## Using hallpass in your app"

// TestREADMESnippets checks that every Go and HTML snippet of the
// README's library section appears verbatim (up to its indentation as a
// whole) in the source of examples/notes, so the README teaches code that
// compiles, runs and is tested, and cannot drift from it.
func TestREADMESnippets(t *testing.T) {
	snippets := readmeSnippets(t, readmeSection)
	if len(snippets) < 5 {
		t.Fatalf("the section has %d snippets, want the example's code in it", len(snippets))
	}
	var sources []string
	for _, pattern := range []string{"examples/notes/*.go", "examples/notes/templates/*.html"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sources = append(sources, string(b))
		}
	}
	for _, s := range snippets {
		if !inAny(s[2], sources) {
			t.Errorf("this %s snippet of the README is not in examples/notes (change both together):\n%s", s[1], s[2])
		}
	}
}

// readmeSnippets returns the Go and HTML snippets of the README section
// under heading (a "## " line), each as its language and its code.
func readmeSnippets(t *testing.T, heading string) [][]string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	section := readme[start+1:]
	if end := strings.Index(section[len(heading):], "\n## "); end >= 0 {
		section = section[:len(heading)+end]
	}
	return regexp.MustCompile("(?s)```(go|html)\n(.*?)```").FindAllStringSubmatch(section, -1)
}

// TestREADMEOwnUsers checks that the Go snippets of the README's section
// on an app's own users are cut from ExampleNew_ownUsers, which compiles
// and runs.
func TestREADMEOwnUsers(t *testing.T) {
	snippets := readmeSnippets(t, "## Your own users")
	if len(snippets) < 2 {
		t.Fatalf("the section has %d snippets, want the example's code in it", len(snippets))
	}
	src, err := os.ReadFile("ownusers_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snippets {
		if !inAny(s[2], []string{string(src)}) {
			t.Errorf("this %s snippet of the README is not in ownusers_example_test.go (change both together):\n%s", s[1], s[2])
		}
	}
}

// inAny reports whether snippet's lines appear, in a row and indented
// alike, in one of sources.
func inAny(snippet string, sources []string) bool {
	want := dedent(strings.Split(strings.TrimRight(snippet, "\n"), "\n"))
	for _, src := range sources {
		lines := strings.Split(src, "\n")
		for i := 0; i+len(want) <= len(lines); i++ {
			if strings.TrimSpace(lines[i]) != strings.TrimSpace(want[0]) {
				continue
			}
			if equal(dedent(lines[i:i+len(want)]), want) {
				return true
			}
		}
	}
	return false
}

// dedent removes the leading tabs or spaces that all non-blank lines
// share, and trailing space.
func dedent(lines []string) []string {
	prefix, set := "", false
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if !set {
			prefix, set = indent, true
		}
		for !strings.HasPrefix(indent, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(strings.TrimPrefix(l, prefix), " \t")
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDocProgramCompiles builds the complete program of the package
// documentation (go doc github.com/hallpass/hallpass) inside this module,
// so the first code a newcomer reads compiles.
func TestDocProgramCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "package ") {
			break
		}
		text = append(text, strings.TrimPrefix(strings.TrimPrefix(line, "//"), " "))
	}
	var program string
	for _, block := range new(comment.Parser).Parse(strings.Join(text, "\n")).Content {
		if code, ok := block.(*comment.Code); ok && strings.HasPrefix(code.Text, "package main") {
			program = code.Text
		}
	}
	if program == "" {
		t.Fatal("the package documentation has no complete program (a code block starting with package main)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	// The overlay puts the program in a directory of this module that
	// does not exist on disk, so it builds against this checkout.
	wd, _ := os.Getwd()
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(wd, "internal", "docprogram", "main.go"): file}})
	overlayFile := filepath.Join(dir, "overlay.json")
	os.WriteFile(overlayFile, overlay, 0o600)
	cmd := exec.Command("go", "build", "-overlay", overlayFile, "-o", filepath.Join(dir, "prog"), "./internal/docprogram")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the program in the package documentation does not build: %v\n%s\n%s", err, out, program)
	}
}
