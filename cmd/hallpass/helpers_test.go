package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testKeys is a fixed secret shared by the processes of a test.
const testKeys = "test-secret-key-0123456789abcdef0123456789"

// buildBinary builds cmd/hallpass once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hallpass-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hallpass")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is a running hallpass serve process.
type proc struct {
	URL  string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listenRE = regexp.MustCompile(`listen=(\S+)`)

// startProcess runs "hallpass serve" with env (on a free port) and waits
// until it listens. The process is stopped with SIGTERM at cleanup, and
// must exit cleanly.
func startProcess(t *testing.T, env ...string) *proc {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append([]string{"HALLPASS_ADDR=127.0.0.1:0", "HALLPASS_DATA=" + t.TempDir(),
		"HALLPASS_SECRET_KEYS=" + testKeys, "HALLPASS_LOG_LEVEL=info"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &lockedBuffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			if m := listenRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // drains in-flight requests, then exits 0
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hallpass exited with %v after SIGTERM; logs:\n%s", err, p.logs)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Errorf("hallpass did not stop within 30s of SIGTERM")
		}
	})
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("hallpass did not start; logs:\n%s", p.logs)
	}
	return p
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects. Cookies are kept per host, so the test moves them between
// processes explicitly.
type browser struct {
	t   *testing.T
	c   *http.Client
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, jar: jar, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	Code   int
	Body   string
	Header http.Header
}

// do sends a request; body is form values (url.Values), a JSON value, or nil.
func (b *browser) do(method, rawURL string, body any, hdr ...string) response {
	b.t.Helper()
	var r io.Reader
	ct := ""
	switch v := body.(type) {
	case nil:
	case url.Values:
		r, ct = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(v)
		r, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(context.Background(), method, rawURL, r)
	if err != nil {
		b.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(data), resp.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// form GETs page, takes its CSRF token, and POSTs form to action.
func (b *browser) form(base, page, action string, form url.Values) response {
	b.t.Helper()
	r := b.do("GET", base+page, nil)
	m := csrfRE.FindStringSubmatch(r.Body)
	if m == nil {
		b.t.Fatalf("GET %s: no csrf_token in the page (status %d)", page, r.Code)
	}
	form.Set("csrf_token", htmlUnescape(m[1]))
	return b.do("POST", base+action, form)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&#61;", "=", "&amp;", "&", "&#34;", `"`, "&#39;", "'").Replace(s)
}

// copyCookies gives the browser, at to, the cookies it holds for from: the
// same browser talking to another process behind a load balancer.
func (b *browser) copyCookies(from, to string) {
	fu, _ := url.Parse(from)
	tu, _ := url.Parse(to)
	b.jar.SetCookies(tu, b.jar.Cookies(fu))
}
