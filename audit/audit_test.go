package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/hallpass/hallpass/audit"
)

func TestRecord(t *testing.T) {
	var buf bytes.Buffer
	a := audit.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	a.Record(context.Background(), audit.Event{Name: audit.LoginFailure, Username: "ada", IP: "192.0.2.1", Reason: "wrong_password"})
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not one JSON record: %q", buf.String())
	}
	want := map[string]any{"msg": "login.failure", "level": "WARN", "audit": true, "username": "ada", "ip": "192.0.2.1", "reason": "wrong_password"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("record[%q] = %v, want %v", k, got[k], v)
		}
	}
	for _, k := range []string{"user_id", "session", "count"} {
		if _, ok := got[k]; ok {
			t.Errorf("empty field %q was logged", k)
		}
	}
}

func TestNilLoggerDiscards(t *testing.T) {
	var a *audit.Logger
	a.Record(context.Background(), audit.Event{Name: audit.Logout}) // must not panic
	if audit.New(nil) != nil {
		t.Error("New(nil) should be a nil Logger")
	}
}

func ExampleLogger_Record() {
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})
	audit.New(slog.New(h)).Record(context.Background(), audit.Event{Name: audit.LoginSuccess, UserID: "42", IP: "192.0.2.1"})
	// Output: level=INFO msg=login.success audit=true user_id=42 ip=192.0.2.1
}
