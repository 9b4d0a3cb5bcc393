package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// BenchmarkMessageStorage stores 10,000 messages — Lago's catalog
// examples in turn, every type alike — without deliveries in SQLite, and
// reports the database's size per 100,000 messages (after a checkpoint),
// what retention.messages costs on disk.
func BenchmarkMessageStorage(b *testing.B) {
	cat, err := lago.Load()
	if err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	for _, typ := range cat.Types() {
		if ex, ok := cat.Example(typ.WebhookType); ok {
			bodies = append(bodies, ex)
		}
	}
	const n = 10_000
	for b.Loop() {
		dir := b.TempDir()
		s, err := Open(context.Background(), Options{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		base := fileSize(b, dir)
		raw := 0
		for i := range n {
			body := bodies[i%len(bodies)]
			raw += len(body)
			m := Message{ID: fmt.Sprintf("m-%06d", i), Source: "lago", Key: fmt.Sprintf("k-%06d", i),
				WebhookType: "x", RulesVersion: "v1", Body: body}
			if _, err := s.Enqueue(context.Background(), m, "bench", nil); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		size := fileSize(b, dir) - base
		s.Close()
		b.ReportMetric(float64(size)*100_000/n/(1<<20), "MiB/100k")
		b.ReportMetric(float64(raw)*100_000/n/(1<<20), "raw-MiB/100k")
	}
}

func fileSize(b *testing.B, dir string) int64 {
	var total int64
	for _, name := range []string{FileName, FileName + "-wal"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil {
			total += st.Size()
		}
	}
	return total
}
