package session

import (
	"context"
	"testing"
	"time"
)

// deadlineProbe is a Store whose Load records whether its context had a
// deadline.
type deadlineProbe struct {
	Store
	hadDeadline bool
}

func (p *deadlineProbe) Load(ctx context.Context, id string) (*Record, error) {
	_, p.hadDeadline = ctx.Deadline()
	return nil, ErrNotFound
}

type inProcessProbe struct{ *deadlineProbe }

func (inProcessProbe) InProcess() {}

// wrapped is a store wrapper (as metrics are) that can be seen through.
type wrapped struct{ Store }

func (w wrapped) Unwrap() Store { return w.Store }

func TestDeadlinePerCall(t *testing.T) {
	tests := []struct {
		name  string
		store func(*deadlineProbe) Store
		want  bool // a deadline on the call
	}{
		{"a store", func(p *deadlineProbe) Store { return p }, true},
		{"an in-process store", func(p *deadlineProbe) Store { return inProcessProbe{p} }, false},
		{"an in-process store behind a wrapper", func(p *deadlineProbe) Store { return wrapped{inProcessProbe{p}} }, false},
		{"a store behind a wrapper", func(p *deadlineProbe) Store { return wrapped{p} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &deadlineProbe{}
			ds := newDeadlineStore(tt.store(p), time.Second)
			ds.Load(context.Background(), "x")
			if p.hadDeadline != tt.want {
				t.Errorf("Load had a deadline: %v, want %v", p.hadDeadline, tt.want)
			}
		})
	}
}
