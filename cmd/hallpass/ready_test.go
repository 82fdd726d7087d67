package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestReady checks that /readyz's check asks every store, at once, each
// within its deadline, and names a store that failed or did not answer.
func TestReady(t *testing.T) {
	ok := func(context.Context) error { return nil }
	refused := func(context.Context) error { return errors.New("connection refused") }
	hangs := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	for _, tc := range []struct {
		name   string
		checks map[string]func(context.Context) error
		want   string // "" for ready
		is     error
	}{
		{"all answer", map[string]func(context.Context) error{"sqlite": ok, "redis": ok}, "", nil},
		{"no stores", nil, "", nil},
		{"one refuses", map[string]func(context.Context) error{"sqlite": ok, "redis": refused}, "redis: connection refused", nil},
		{"one hangs", map[string]func(context.Context) error{"postgres": hangs, "redis": ok}, "postgres:", context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{checks: tc.checks, cfg: &config{StoreTimeout: 50 * time.Millisecond}}
			err := a.health(context.Background())
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("health() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("health() = %v, want an error containing %q", err, tc.want)
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Errorf("health() = %v, want it to wrap %v", err, tc.is)
			}
		})
	}
}
