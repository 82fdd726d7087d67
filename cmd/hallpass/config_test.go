package main

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:hunter2@db:5432/hallpass", "postgres://app:xxxxx@db:5432/hallpass"},
		{"redis://:s3cret@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"redis://cache:6379/0", "redis://cache:6379/0"},
		{"memcached://a:11211,b:11211", "memcached://a:11211,b:11211"},
	}
	for _, tt := range tests {
		got := redactURL(tt.in)
		if got != tt.want || strings.Contains(got, "hunter2") || strings.Contains(got, "s3cret") {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
