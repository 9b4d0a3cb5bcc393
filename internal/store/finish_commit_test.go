package store

import (
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// queued waits until n messages wait for the group-commit writer.
func queued(t *testing.T, s *Store, n int) {
	t.Helper()
	testkit.Eventually(t, "messages waiting for the writer", 10*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) == n
	})
}

// TestOutcomesRideIngestCommit: outcomes recorded while messages wait for
// the group commit go into the same transaction (one commit, one fsync);
// when that transaction fails because of the messages, the outcomes are
// still recorded, in a transaction of their own, and the messages are
// refused.
func TestOutcomesRideIngestCommit(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		o.BatchWait = 300 * time.Millisecond
		s := openT(t, o)
		lease := func() RoutedDelivery {
			d := newDelivery("r", "c")
			d.LeaseUntil = time.Now().Add(time.Minute)
			return d
		}
		d1, d2 := lease(), lease()
		enqueue(t, s, "a", d1)
		enqueue(t, s, "a", d2)

		// One transaction for a message and an outcome.
		before := s.writes.Load()
		stored := make(chan error, 1)
		go func() {
			_, err := s.Enqueue(ctxT(t), message("lago", ""), "a", []RoutedDelivery{lease()})
			stored <- err
		}()
		queued(t, s, 1)
		lost, err := s.Finish(ctxT(t), []Outcome{{ID: d1.ID, Owner: "a", Result: ResultDelivered,
			Attempt: &Attempt{Owner: "a", StartedAt: time.Now(), Outcome: "success"}}})
		if err != nil || len(lost) != 0 {
			t.Fatalf("Finish = lost %v, %v", lost, err)
		}
		if err := <-stored; err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if n := s.writes.Load() - before; n != 1 {
			t.Errorf("%d transactions for a message and an outcome waiting together, want 1", n)
		}
		wantState(t, s, d1.ID, StateDelivered)

		// A message that cannot be stored (its delivery's ID is taken)
		// does not take the outcome waiting with it down.
		before = s.writes.Load()
		bad := newDelivery("r", "c")
		bad.ID = d1.ID
		go func() {
			_, err := s.Enqueue(ctxT(t), message("lago", ""), "a", []RoutedDelivery{bad})
			stored <- err
		}()
		queued(t, s, 1)
		lost, err = s.Finish(ctxT(t), []Outcome{{ID: d2.ID, Owner: "a", Result: ResultDelivered,
			Attempt: &Attempt{Owner: "a", StartedAt: time.Now(), Outcome: "success"}}})
		if err != nil || len(lost) != 0 {
			t.Fatalf("Finish beside a failing message = lost %v, %v", lost, err)
		}
		if err := <-stored; err == nil {
			t.Fatal("a message whose delivery ID is taken was stored")
		}
		wantState(t, s, d2.ID, StateDelivered)
		if n := s.writes.Load() - before; n != 1 {
			t.Errorf("%d transactions committed, want 1 (the outcome alone)", n)
		}
	})
}
