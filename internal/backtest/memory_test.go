package backtest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// generated yields n invoices one second apart, each body built afresh,
// so that an engine that kept messages would hold them all.
type generated int

func (g generated) Scan(ctx context.Context, f Filter, fn func(Message) error) error {
	for i := range int(g) {
		body := fmt.Appendf(nil, `{"webhook_type":"invoice.created","object_type":"invoice","invoice":{"lago_id":"inv-%07d","number":"INV-%07d","currency":"EUR","total_amount_cents":%d,"customer":{"external_id":"cust-%03d","name":"Customer %d"}}}`,
			i, i, 5000*(i%7), i%1000, i%1000)
		if err := fn(Message{ID: fmt.Sprintf("m-%07d", i), Source: "lago", ReceivedAt: t0.Add(time.Duration(i) * time.Second), Body: body}); err != nil {
			return err
		}
	}
	return nil
}

// peakHeap runs f while sampling the live heap, and returns the highest
// HeapAlloc seen above the heap before f.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	if peak < base {
		return 0
	}
	return peak - base
}

// TestBoundedMemory replays 200,000 messages (2 days and a bit, one a
// second, a thousand throttle keys and digest groups) and checks the heap
// never grows past a bound far below what keeping the messages would take
// (200,000 bodies alone are ~45 MB, decoded several times that).
func TestBoundedMemory(t *testing.T) {
	n := 200_000
	switch {
	case raceEnabled:
		n = 5_000
	case testing.Short():
		n = 20_000
	}
	rules := testChannels + `rules:
  - name: invoices
    when: webhook_type == "invoice.created"
    send:
      - to: ops
        message: "Invoice {{ .invoice.number }} for {{ .invoice.customer.name }}"
  - name: big-invoices
    when: webhook_type == "invoice.created" && invoice.total_amount_cents >= 10000
    throttle: {key: "{{ .invoice.customer.external_id }}", every: 1h}
    send: [{to: finance, message: "Big {{ .invoice.number }}"}]
  - name: digest
    when: webhook_type == "invoice.created"
    group: {by: "{{ .invoice.customer.external_id }}", wait: 10m, interval: 1h}
    send: [{to: finance, message: "{{ .invoice.number }}"}]
`
	cand, cur := load(t, rules), load(t, currentRules)
	var rep *Report
	var err error
	peak := peakHeap(func() {
		rep, err = Run(context.Background(), generated(n), Options{Candidate: cand, Current: cur})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Messages != n || rep.Totals.Changed != n {
		t.Fatalf("messages %d, changed %d", rep.Messages, rep.Totals.Changed)
	}
	const bound = 24 << 20
	t.Logf("%d messages: peak heap growth %.1f MiB", n, float64(peak)/(1<<20))
	if peak > bound {
		t.Errorf("heap grew by %.1f MiB replaying %d messages, bound %d MiB", float64(peak)/(1<<20), n, bound>>20)
	}
}
