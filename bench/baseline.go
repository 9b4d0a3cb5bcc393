package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Baseline kinds.
const (
	baselineBare  = "bare"
	baselineFsync = "fsync"
	baselineRelay = "relay"
)

// maxBaselineBody is the baselines' body limit, Switchboard's default.
const maxBaselineBody = 1 << 20

// serveBaseline is the hidden `bench serve-baseline` mode: one baseline
// server in its own process, until SIGTERM or SIGINT.
func serveBaseline(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kind := fs.String("kind", baselineBare, "bare, fsync or relay")
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	dir := fs.String("dir", "", "directory of the fsync and relay log file")
	sinkURL := fs.String("sink", "", "where the relay delivers")
	workers := fs.Int("workers", 50, "relay delivery workers, each with its own keep-alive connection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("listen", "error", err)
		return 1
	}
	b, err := newBaseline(baselineOptions{Kind: *kind, Dir: *dir, SinkURL: *sinkURL, Workers: *workers})
	if err != nil {
		ln.Close()
		log.Error("baseline", "error", err)
		return 1
	}
	log.Info("baseline listening", "kind", *kind, "addr", ln.Addr().String())
	if err := b.serve(ctx, ln); err != nil {
		log.Error("baseline stopped", "error", err)
		return 1
	}
	return 0
}

// baselineOptions configure a baseline server.
type baselineOptions struct {
	Kind    string
	Dir     string
	SinkURL string
	Workers int
}

// baseline is the reference a Switchboard target is compared with: the
// least work that does the same job (bare: accept; fsync: accept durably;
// relay: accept durably and deliver).
type baseline struct {
	o       baselineOptions
	log     *groupLog
	deliver chan []byte
	client  *http.Client
}

func newBaseline(o baselineOptions) (*baseline, error) {
	b := &baseline{o: o}
	switch o.Kind {
	case baselineBare:
		return b, nil
	case baselineFsync, baselineRelay:
	default:
		return nil, fmt.Errorf("unknown baseline %q", o.Kind)
	}
	if o.Dir == "" {
		return nil, errors.New("-dir is required for " + o.Kind)
	}
	f, err := os.OpenFile(filepath.Join(o.Dir, "messages.log"), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	b.log = &groupLog{f: f, reqs: make(chan commitReq, 1024)}
	if o.Kind == baselineRelay {
		if o.SinkURL == "" {
			f.Close()
			return nil, errors.New("-sink is required for relay")
		}
		// The committer hands every committed message to the workers: a
		// handler waits for its commit only, and no goroutine is started
		// per message. Each worker keeps its own connection alive.
		b.deliver = make(chan []byte, maxGroup)
		b.log.deliver = b.deliver
		b.client = &http.Client{Transport: &http.Transport{
			MaxIdleConns: o.Workers, MaxIdleConnsPerHost: o.Workers, MaxConnsPerHost: o.Workers,
			ResponseHeaderTimeout: requestTimeout, DisableCompression: true,
		}}
	}
	return b, nil
}

// serve serves until ctx ends, then shuts down: the listener first, then
// the committer and the delivery workers.
func (b *baseline) serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/{source}", b.ingest)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ready\n"))
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var wg sync.WaitGroup
	if b.log != nil {
		wg.Go(func() { b.log.run(workCtx) })
	}
	for range b.o.Workers {
		if b.deliver == nil {
			break
		}
		wg.Go(func() { b.deliverLoop(workCtx) })
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
		<-served
	case err = <-served:
	}
	stopWork()
	wg.Wait()
	if b.log != nil {
		err = errors.Join(err, b.log.f.Close())
	}
	if b.client != nil {
		b.client.CloseIdleConnections()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ingest is the request path: read, decode, (commit,) answer 202; the
// relay's committer hands committed messages to the workers.
func (b *baseline) ingest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBaselineBody))
	if err != nil {
		http.Error(w, "read body", http.StatusRequestEntityTooLarge)
		return
	}
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, "not a JSON object", http.StatusBadRequest)
		return
	}
	if b.log != nil {
		if err := b.log.commit(r.Context(), r.Header.Get("X-Lago-Unique-Key"), body); err != nil {
			http.Error(w, "commit", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"queued"}` + "\n"))
}

// deliverLoop POSTs queued messages to the sink until ctx ends, retrying
// each a few times. One given up on shows as a delivery the sink misses.
func (b *baseline) deliverLoop(ctx context.Context) {
	for {
		var body []byte
		select {
		case body = <-b.deliver:
		case <-ctx.Done():
			return
		}
		for attempt := range 5 {
			if attempt > 0 {
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
			}
			if b.send(ctx, body) == nil {
				break
			}
		}
	}
}

func (b *baseline) send(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.o.SinkURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to sink: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post to sink: status %d", resp.StatusCode)
	}
	return nil
}

// maxLogSize is where the log file starts over, so that a long run does
// not fill the disk; truncating is cheap next to an fsync.
const maxLogSize = 256 << 20

// maxGroup bounds the messages of one commit.
const maxGroup = 1024

// groupLog appends messages to a file and makes them durable with group
// commit: one goroutine takes every message waiting, writes them, fsyncs
// once and answers them all; messages that arrive during the fsync form
// the next group.
type groupLog struct {
	f *os.File
	// deliver, when set, receives every committed message (the relay).
	deliver chan<- []byte
	reqs    chan commitReq
	size    int64
	buf     []byte
}

type commitReq struct {
	key  string
	body []byte
	done chan error
}

// commit returns once the message is on disk.
func (g *groupLog) commit(ctx context.Context, key string, body []byte) error {
	done := make(chan error, 1)
	select {
	case g.reqs <- commitReq{key: key, body: body, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *groupLog) run(ctx context.Context) {
	batch := make([]commitReq, 0, maxGroup)
	for {
		batch = batch[:0]
		select {
		case r := <-g.reqs:
			batch = append(batch, r)
		case <-ctx.Done():
			return
		}
	gather:
		for len(batch) < maxGroup {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		err := g.write(batch)
		for _, r := range batch {
			r.done <- err
		}
		if err != nil || g.deliver == nil {
			continue
		}
		for _, r := range batch {
			select {
			case g.deliver <- r.body:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (g *groupLog) write(batch []commitReq) error {
	g.buf = g.buf[:0]
	for _, r := range batch {
		g.buf = append(g.buf, r.key...)
		g.buf = append(g.buf, '\t')
		g.buf = strconv.AppendInt(g.buf, int64(len(r.body)), 10)
		g.buf = append(g.buf, '\n')
		g.buf = append(g.buf, r.body...)
		g.buf = append(g.buf, '\n')
	}
	if g.size+int64(len(g.buf)) > maxLogSize {
		if err := g.f.Truncate(0); err != nil {
			return err
		}
		if _, err := g.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		g.size = 0
	}
	if _, err := g.f.Write(g.buf); err != nil {
		return fmt.Errorf("write log: %w", err)
	}
	g.size += int64(len(g.buf))
	if err := g.f.Sync(); err != nil {
		return fmt.Errorf("fsync log: %w", err)
	}
	return nil
}
