package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startMetrics serves the app's Prometheus metrics at /metrics (and, with
// HALLPASS_PPROF, the profiler at /debug/pprof/) on HALLPASS_METRICS_ADDR,
// a listener apart from the public one, and returns a function that stops
// it. Without the setting it does nothing.
func startMetrics(a *app, logger *slog.Logger) (stop func(context.Context) error, err error) {
	if a.metrics == nil {
		return func(context.Context) error { return nil }, nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (HALLPASS_METRICS_ADDR): %w", a.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	if a.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      2 * time.Minute, // a CPU profile takes 30 s by default
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	logger.Info("serving metrics", "metrics", "http://"+ln.Addr().String()+"/metrics")
	return srv.Shutdown, nil
}
