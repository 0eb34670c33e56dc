package main

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofServer serves Go's runtime profiles (/debug/pprof/...) on its own listener for
// operators and bench/. It has no authentication: bind it to loopback. Main owns it: the
// serving goroutine ends when close is called.
type pprofServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// listenPprof opens addr and starts serving the profiles.
func listenPprof(addr string) (*pprofServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	p := &pprofServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, done: make(chan struct{})}
	go func() { defer close(p.done); _ = p.srv.Serve(ln) }()
	return p, nil
}

// close stops the server; in-flight profile requests get until ctx ends.
func (p *pprofServer) close(ctx context.Context) error {
	err := p.srv.Shutdown(ctx)
	<-p.done
	return err
}
