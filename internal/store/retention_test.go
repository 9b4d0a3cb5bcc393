package store

import (
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testclock"
)

// TestMessageRetention: messages outlive their deliveries' retention for
// as long as retention.messages says, then go.
func TestMessageRetention(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		clock := testclock.New(t0)
		o.Now = clock.Now
		s := openT(t, o)
		s.SetMessageRetention(30 * 24 * time.Hour)
		m := message("lago", "")
		m.ReceivedAt = t0
		if _, err := s.Enqueue(ctxT(t), m, "test", nil); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			n, err := s.MessageReader().Count(ctxT(t), "messages")
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		clock.Set(t0.Add(8 * 24 * time.Hour)) // past the 7-day default
		if _, err := s.Sweep(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Fatalf("%d messages after 8 days with 30d retention, want 1", n)
		}
		clock.Set(t0.Add(31 * 24 * time.Hour))
		if _, err := s.Sweep(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 0 {
			t.Fatalf("%d messages after 31 days, want 0", n)
		}
	})
}
