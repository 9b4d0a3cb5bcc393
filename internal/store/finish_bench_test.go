package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkFinish records the outcomes of batches of 64 leased deliveries
// (as the dispatcher's writer does under load), on both backends.
func BenchmarkFinish(b *testing.B) {
	const batch = 64
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
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
				lost, err := s.Finish(ctx, outs)
				if err != nil || len(lost) != 0 {
					b.Fatal(fmt.Sprint(lost), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch)/1000, "µs/outcome")
		})
	}
}
