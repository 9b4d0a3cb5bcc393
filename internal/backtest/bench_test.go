package backtest

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/msgjson"
	"github.com/switchboard-dev/switchboard/router"
)

// sliceMessages replays messages held in memory, so the benchmark
// measures the engine, not the reading.
type sliceMessages []Message

func (s sliceMessages) Scan(ctx context.Context, f Filter, fn func(Message) error) error {
	for _, m := range s {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

const benchCurrent = testChannels + `rules:
  - name: invoices
    when: webhook_type == "invoice.created"
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }}: {{ money .invoice.total_amount_cents .invoice.currency }}"
  - name: wallets
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send: [{to: ops}]
`

const benchCandidate = testChannels + `rules:
  - name: invoices
    when: webhook_type == "invoice.created"
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }} for {{ .invoice.customer.external_id }}: {{ money .invoice.total_amount_cents .invoice.currency }}"
  - name: big-invoices
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 100
    throttle: {key: "{{ .invoice.customer.external_id }}", every: 1h}
    send: [{to: finance}]
`

// BenchmarkBacktest replays Lago's invoice.created fixture (18 KB)
// through two configurations that differ (one changed rule, one added
// with a throttle, one removed). It reports msgs/s (wall clock) and
// msgs/cpu-s: messages per second of the process's CPU time, which is
// the speed per core and holds on a busy machine, where the wall clock
// also counts the time other processes had the core.
func BenchmarkBacktest(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "lago", "testdata", "invoice.created.json"))
	if err != nil {
		b.Fatal(err)
	}
	msgs := make(sliceMessages, 1000)
	for i := range msgs {
		msgs[i] = Message{ID: "m", Source: "lago", ReceivedAt: t0.Add(time.Duration(i) * time.Second), Body: body}
	}
	cand, cur := load(b, benchCandidate), load(b, benchCurrent)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	n := 0
	for b.Loop() {
		rep, err := Run(context.Background(), msgs, Options{Candidate: cand, Current: cur})
		if err != nil || rep.Messages != len(msgs) {
			b.Fatal(err, rep.Messages)
		}
		n += len(msgs)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(n)/(cpuTime()-cpu).Seconds(), "msgs/cpu-s")
}

// cpuTime is the CPU time the process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeInvoice decodes the invoice fixture as the backtest of
// BenchmarkBacktest does (only what its two files read), and whole.
func BenchmarkDecodeInvoice(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "lago", "testdata", "invoice.created.json"))
	if err != nil {
		b.Fatal(err)
	}
	part := reads(Options{Candidate: load(b, benchCandidate), Current: load(b, benchCurrent)})
	for _, c := range []struct {
		name  string
		reads *router.Reads
	}{{"part", part}, {"whole", nil}} {
		b.Run(c.name, func(b *testing.B) {
			var d msgjson.Decoder
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, ok := d.Object(body, c.reads); !ok {
					b.Fatal("not decoded")
				}
			}
		})
	}
}
