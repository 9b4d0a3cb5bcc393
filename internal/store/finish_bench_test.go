//go:build unix

package store

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFinish records the outcomes of batches of leased deliveries (as
// the dispatcher's writer does under load), on both backends, and reports
// the wall time and the process's CPU time per outcome: a transaction's
// fixed cost (commit, fsync) shared by fewer or more outcomes.
func BenchmarkFinish(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, batch := range []int{8, 32, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", backend, batch), func(b *testing.B) {
				o := Options{DataDir: b.TempDir()}
				if backend == "postgres" {
					o = Options{DatabaseURL: pg.DSN(b)}
				}
				s, err := Open(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				ctx := context.Background()
				var cpu time.Duration
				b.ResetTimer()
				for b.Loop() {
					b.StopTimer()
					outs := make([]Outcome, 0, batch)
					for range batch {
						d := newDelivery("r", "c")
						d.LeaseUntil = time.Now().Add(time.Minute)
						m := message("lago", "")
						d.MessageID = m.ID
						if _, err := s.Enqueue(ctx, m, "me", []RoutedDelivery{d}); err != nil {
							b.Fatal(err)
						}
						outs = append(outs, Outcome{ID: d.ID, Owner: "me", Result: ResultDelivered,
							Attempt: &Attempt{Owner: "me", StartedAt: time.Now(), Duration: time.Millisecond, Outcome: "success"}})
					}
					b.StartTimer()
					start := processCPU(b)
					lost, err := s.Finish(ctx, outs)
					cpu += processCPU(b) - start
					if err != nil || len(lost) != 0 {
						b.Fatal(fmt.Sprint(lost), err)
					}
				}
				n := float64(b.N * batch)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n/1000, "µs/outcome")
				b.ReportMetric(float64(cpu.Nanoseconds())/n/1000, "cpu-µs/outcome")
			})
		}
	}
}
