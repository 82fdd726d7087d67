package hallpass_test

import (
	"os/exec"
	"strings"
	"testing"
)

// An application that imports hallpass's packages must not download the
// browser-test tooling: chromedp and its protocol bindings belong to the
// e2e module alone, not to this module's graph.
func TestModuleGraphIsLean(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, out)
	}
	mods := strings.Fields(string(out))
	if len(mods) < 5 {
		t.Fatalf("go list -m all listed %d words, want the module graph:\n%s", len(mods), out)
	}
	for _, m := range mods {
		for _, banned := range []string{"github.com/chromedp/", "github.com/gobwas/ws", "github.com/zitadel/"} {
			if strings.HasPrefix(m, banned) {
				t.Errorf("hallpass's module graph holds %s: browser-test and test-provider dependencies belong in e2e/go.mod", m)
			}
		}
	}
}
