package ingest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// discard takes every message as stored, as the store does for deliveries
// without alert-fatigue settings, and keeps nothing: the benchmark then
// measures the handler's own work and allocations (the store's are
// BenchmarkEnqueue's).
type discard struct{}

func (discard) Enqueue(_ context.Context, _ store.Message, _ string, ds []store.RoutedDelivery) (bool, error) {
	for i := range ds {
		ds[i].Decided = store.StateInFlight
	}
	return false, nil
}

func (discard) Submit([]store.StoredDelivery) {}

// sink is a ResponseWriter that keeps nothing.
type sink struct{ h http.Header }

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) Write(p []byte) (int, error) { return len(p), nil }
func (s *sink) WriteHeader(int)             {}

// SetReadDeadline lets http.ResponseController set deadlines, as on a
// server's connection.
func (s *sink) SetReadDeadline(time.Time) error { return nil }

// BenchmarkIngest serves the bench's load: an unsigned Lago source, a
// Lago invoice.created body (2.7 KB) with a unique key, one rule sending
// it as is to an HTTP channel. Run with -benchmem: allocs/op and B/op are
// the hot path's allocations per message.
func BenchmarkIngest(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "bench", "testdata", "invoice.created.json"))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	rules := `
sources:
  lago:
    lago: {}
channels:
  sink:
    http: {url: "http://127.0.0.1:1/in"}
rules:
  - name: invoice-created
    when: webhook_type == "invoice.created"
    send: [{to: sink}]
`
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(rules), 0o644); err != nil {
		b.Fatal(err)
	}
	rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: filepath.Join(dir, "rules.yaml"), TemplatesDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	h := New(Options{Rules: func() *router.Ruleset { return rs }, Store: discard{}, Dispatch: discard{}, Owner: "bench",
		Metrics: metrics.New(prometheus.NewRegistry())})
	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", h)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest(http.MethodPost, "http://switchboard/webhooks/lago", nil)
		if err != nil {
			b.Error(err)
			return
		}
		req.ContentLength = int64(len(body))
		w := &sink{h: http.Header{}}
		rd := bytes.NewReader(body)
		i := 0
		for pb.Next() {
			i++
			rd.Reset(body)
			req.Body = io.NopCloser(rd)
			req.Header.Set("X-Lago-Unique-Key", strconv.Itoa(i))
			clear(w.h)
			mux.ServeHTTP(w, req)
		}
	})
}
