package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkGroupCommitSweep measures durable ingest on SQLite for several
// batch windows and sizes, with 50 concurrent callers (the benchmark's 50
// connections), reporting messages/s and the p99 of one Enqueue. The
// defaults (BatchWait, BatchSize) were chosen from this sweep; see
// bench/README.md.
//
//	go test -run '^$' -bench GroupCommitSweep -benchtime 3s ./internal/store
func BenchmarkGroupCommitSweep(b *testing.B) {
	for _, wait := range []time.Duration{time.Nanosecond, 200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond} {
		for _, size := range []int{64, 256} {
			b.Run(fmt.Sprintf("wait=%s/size=%d", wait, size), func(b *testing.B) {
				s, err := Open(context.Background(), Options{DataDir: b.TempDir(), BatchWait: wait, BatchSize: size})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				const callers = 50
				var (
					mu   sync.Mutex
					lats []time.Duration
					next = make(chan struct{}, callers)
					wg   sync.WaitGroup
				)
				b.ResetTimer()
				start := time.Now()
				for range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx := context.Background()
						var mine []time.Duration
						for range next {
							m := message("lago", id("key"))
							d1, d2 := newDelivery("large-invoice", "finance"), newDelivery("large-invoice", "billing-alerts")
							d1.LeaseUntil, d2.LeaseUntil = time.Now().Add(time.Minute), time.Now().Add(time.Minute)
							t0 := time.Now()
							if _, err := s.Enqueue(ctx, m, "bench", []RoutedDelivery{d1, d2}); err != nil {
								b.Error(err)
								return
							}
							mine = append(mine, time.Since(t0))
						}
						mu.Lock()
						lats = append(lats, mine...)
						mu.Unlock()
					}()
				}
				for range b.N {
					next <- struct{}{}
				}
				close(next)
				wg.Wait()
				elapsed := time.Since(start)
				slices.Sort(lats)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
				if len(lats) > 0 {
					b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99_ms")
				}
			})
		}
	}
}
