package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLogSettings checks HALLPASS_LOG_FORMAT and HALLPASS_ACCESS_LOG: JSON
// lines, one access line per request carrying the request ID the response
// sent, and none when turned off.
func TestLogSettings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		json      bool
		accessLog bool
	}{
		{"defaults", map[string]string{}, false, true},
		{"json", map[string]string{"HALLPASS_LOG_FORMAT": "json"}, true, true},
		{"access log off", map[string]string{"HALLPASS_LOG_FORMAT": "json", "HALLPASS_ACCESS_LOG": "false"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _, logs := serveInProcess(t, tc.env)
			resp, err := http.Get(base + "/login?next=/dashboard&secret=s3cr3t")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			id := resp.Header.Get("X-Request-ID")
			if id == "" {
				t.Fatal("no X-Request-ID on the response")
			}
			// A form without a CSRF token is logged at info level while
			// it is served: once its line is in, so is the line of the
			// request before.
			marker, err := http.PostForm(base+"/login", nil)
			if err != nil {
				t.Fatal(err)
			}
			marker.Body.Close()
			for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "request failed"); {
				if time.Now().After(deadline) {
					t.Fatalf("the CSRF failure was not logged:\n%s", logs)
				}
				time.Sleep(10 * time.Millisecond)
			}

			var access []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var rec map[string]any
				isJSON := json.Unmarshal([]byte(line), &rec) == nil
				if isJSON != tc.json {
					t.Errorf("log line %q: JSON = %v, want %v", line, isJSON, tc.json)
				}
				if strings.Contains(line, "msg=request ") || rec["msg"] == "request" {
					access = append(access, line)
				}
			}
			if !tc.accessLog {
				if len(access) != 0 {
					t.Errorf("HALLPASS_ACCESS_LOG=false, but access lines were logged: %q", access)
				}
				return
			}
			if len(access) == 0 {
				t.Fatalf("no access log line:\n%s", logs)
			}
			first := access[0]
			for _, want := range []string{id, "GET /login", "200"} {
				if !strings.Contains(first, want) {
					t.Errorf("access line %q lacks %q", first, want)
				}
			}
			if strings.Contains(logs.String(), "s3cr3t") {
				t.Errorf("the query string was logged:\n%s", logs)
			}
		})
	}
}

func TestLogSettingsInvalid(t *testing.T) {
	for _, tc := range []struct{ env, value, want string }{
		{"HALLPASS_LOG_FORMAT", "xml", "want text or json"},
		{"HALLPASS_ACCESS_LOG", "maybe", "want true or false"},
		{"HALLPASS_METRICS_ADDR", "9090", "want host:port"},
	} {
		_, _, err := parseConfig("serve", "hallpass serve", nil, func(k string) string {
			if k == tc.env {
				return tc.value
			}
			return ""
		}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.env) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: error %v, want one naming the variable and saying %q", tc.env, tc.value, err, tc.want)
		}
	}
}
