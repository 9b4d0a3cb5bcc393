package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// sink is the local HTTP receiver every target delivers to. It answers
// 200 to any request and counts them, with the time of the latest.
type sink struct {
	srv   *http.Server
	ln    net.Listener
	base  time.Time
	count atomic.Int64
	bytes atomic.Int64
	// last is the time of the latest delivery, in nanoseconds after base.
	last   atomic.Int64
	served chan struct{}
	// down makes every answer a 503: a receiver that is down.
	down bool
}

// startSink starts a sink; down makes it answer 503 to everything (it
// still counts the requests: they are attempts).
func startSink(down bool) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln, base: time.Now(), served: make(chan struct{}), down: down}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.receive),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *sink) receive(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	s.bytes.Add(n)
	now := int64(time.Since(s.base))
	for {
		prev := s.last.Load()
		if prev >= now || s.last.CompareAndSwap(prev, now) {
			break
		}
	}
	s.count.Add(1)
	if s.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// URL is where targets deliver.
func (s *sink) URL() string { return "http://" + s.ln.Addr().String() + "/deliveries" }

// Count is the number of deliveries received so far.
func (s *sink) Count() int64 { return s.count.Load() }

// LastAt is the time of the latest delivery (the zero time before any).
func (s *sink) LastAt() time.Time {
	if s.count.Load() == 0 {
		return time.Time{}
	}
	return s.base.Add(time.Duration(s.last.Load()))
}

// waitFor polls until the sink has received n deliveries or timeout
// passes, and reports whether it got them all.
func (s *sink) waitFor(ctx context.Context, n int64, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.Count() < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Close stops the sink and waits for its server goroutine.
func (s *sink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.served
	return err
}
