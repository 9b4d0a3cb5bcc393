package store

import (
	"testing"
	"time"
)

// TestReaderReadsWithoutWriting: the reader pages through messages in
// time order, and its connections refuse writes, on both backends.
func TestReaderReadsWithoutWriting(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		s := openT(t, o)
		t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		const n = readerPage + 7 // more than one page
		for i := range n {
			m := message("lago", "")
			// Two messages per microsecond: the pages break ties by ID.
			m.ReceivedAt = t0.Add(time.Duration(n-1-i) / 2 * time.Microsecond)
			if _, err := s.Enqueue(ctxT(t), m, "test", nil); err != nil {
				t.Fatal(err)
			}
		}
		r, err := OpenReader(ctxT(t), o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var got []Message
		err = r.Messages(ctxT(t), MessageQuery{From: t0, To: t0.Add(time.Hour)}, func(m Message) error {
			got = append(got, m)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("read %d messages, want %d", len(got), n)
		}
		seen := map[string]bool{}
		for i, m := range got {
			if seen[m.ID] {
				t.Fatalf("message %s read twice", m.ID)
			}
			seen[m.ID] = true
			if i > 0 && (m.ReceivedAt.Before(got[i-1].ReceivedAt) ||
				m.ReceivedAt.Equal(got[i-1].ReceivedAt) && m.ID < got[i-1].ID) {
				t.Fatalf("out of order at %d", i)
			}
		}
		if _, err := r.db.ExecContext(ctxT(t), "DELETE FROM messages"); err == nil {
			t.Fatal("a write through the reader succeeded")
		}
		if c, err := r.Count(ctxT(t), "messages"); err != nil || c != n {
			t.Fatalf("count %d, %v", c, err)
		}
	})
}

func TestReaderNeedsAStore(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenReader(ctxT(t), Options{DataDir: dir}); err == nil {
		t.Fatal("opened a store that does not exist")
	}
}
