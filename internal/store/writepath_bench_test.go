//go:build unix

package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkWritePath is the store's share of the bench's load on SQLite:
// 16 concurrent callers per CPU each store a 2.7 KB message with one
// leased delivery, and an outcome writer records each delivery's success
// 20 ms later in batches, as the dispatcher does. It reports the process's
// CPU time per message and the messages stored per second.
func BenchmarkWritePath(b *testing.B) {
	s, err := Open(context.Background(), Options{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-0001","notes":"` + strings.Repeat("x", 2700) + `"}}`)
	var (
		mu   sync.Mutex
		outs []Outcome
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() { // the outcome writer
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			mu.Lock()
			batch := outs
			outs = nil
			mu.Unlock()
			if len(batch) == 0 {
				continue
			}
			if _, err := s.Finish(context.Background(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	b.SetParallelism(16)
	b.ResetTimer()
	start, cpu := time.Now(), processCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			m := message("lago", id("key"))
			m.Body = body
			d := newDelivery("invoice-created", "sink")
			d.LeaseUntil = time.Now().Add(time.Minute)
			if _, err := s.Enqueue(ctx, m, "bench", []RoutedDelivery{d}); err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			outs = append(outs, Outcome{ID: d.ID, Owner: "bench", Result: ResultDelivered,
				Attempt: &Attempt{Owner: "bench", StartedAt: time.Now(), Duration: time.Millisecond, Outcome: "success"}})
			mu.Unlock()
		}
	})
	close(stop)
	<-done
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N)/1e3, "cpu-µs/msg")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
