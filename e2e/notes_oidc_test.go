package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The notes example, started with its -oidc-* flags, signs a person in
// through the provider onto their notes.
func TestE2ENotesOIDCFlags(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "notes")
	build := exec.Command("go", "build", "-o", bin, "./examples/notes")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/notes: %v\n%s", err, out)
	}
	addr := freePort(t)
	base := "http://" + addr
	op := startOP(t, base+"/login/oidc/sso/callback")
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "-addr", addr, "-data", filepath.Join(dir, "data"),
		"-oidc-issuer", op.URL, "-oidc-client-id", opClientID, "-oidc-label", "Test OP")
	cmd.Env = append(os.Environ(), "NOTES_OIDC_CLIENT_SECRET="+opClientSecret)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("notes logs:\n%s", logs)
		}
	})
	app := &oidcServer{server: &server{URL: base}, op: op, provider: "sso"}
	b := newBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		// Wait until it listens and the provider's button is ready.
		if resp, err := b.c.Get(base + "/login"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(logs.String(), "oidc: provider ready") {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("notes did not start with its provider ready:\n%s", logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	_, page := b.get(base + "/login")
	if !strings.Contains(page, "Sign in with Test OP") {
		t.Fatalf("the notes login page has no provider button:\n%s", page)
	}
	resp, body := b.signIn(app, "carol", "")
	wantStatus(t, "sign-in on notes", resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/notes" {
		t.Errorf("sign-in redirected to %q, want /notes", loc)
	}
	if _, body := b.get(base + "/notes"); !strings.Contains(body, "carol") {
		t.Errorf("the notes page does not greet carol:\n%s", body)
	}
}
