package store

import (
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// converseT stores one message with a delivery of rule in the conversation
// (convRule, key) — resolving it when resolves — and returns the delivery
// as Enqueue decided it.
func converseT(t *testing.T, s *Store, rule, convRule, key string, resolves bool, esc *EscalationSpec) RoutedDelivery {
	t.Helper()
	d := newDelivery(rule, "alerts")
	d.Conversation = &ConversationSpec{Rule: convRule, Key: key, Resolves: resolves, Escalate: esc,
		Ref: &notifiers.Conversation{Rule: convRule, Key: key}}
	ds := []RoutedDelivery{d}
	m := message("lago", "")
	ds[0].MessageID = m.ID
	if dup, err := s.Enqueue(ctxT(t), m, "test", ds); err != nil || dup {
		t.Fatalf("Enqueue = dup %v, %v", dup, err)
	}
	return ds[0]
}

// postT records that delivery d posted the first message of the
// conversation (rule, key) in channel alerts.
func postT(t *testing.T, s *Store, rule, key, deliveryID string) {
	t.Helper()
	if _, _, err := s.ConversationRef(ctxT(t), rule, key, "alerts", deliveryID); err != nil {
		t.Fatal(err)
	}
	if err := s.SavePosted(ctxT(t), rule, key, "alerts", deliveryID, notifiers.Posted{SlackChannel: "C1", SlackTS: "1.0001"}); err != nil {
		t.Fatal(err)
	}
}

func countPosts(t *testing.T, s *Store, key string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRowContext(ctxT(t), "SELECT count(*) FROM conversation_posts WHERE conv_key = $1", key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSweepConversations: the retention sweep deletes resolved
// conversations (and their posts) once they are older than the delivered
// retention, and never an open one or one whose escalation is still to
// fire, however old.
func TestSweepConversations(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		clock := testclock.New(t0)
		o.Now = clock.Now
		s := openT(t, o)
		const failed, paid = "payment-failed", "payment-succeeded"
		escalate := func(after time.Duration, unlessResolved bool) *EscalationSpec {
			return &EscalationSpec{After: after, UnlessResolved: unlessResolved, Channel: "finance",
				Parts: notifiers.Parts{Text: "still unpaid"}}
		}

		// inv_open: open, never resolved. inv_wait: open, escalates after
		// 20 days. inv_paid: resolved an hour later, with a thread.
		// inv_regardless: resolved, but escalates after 20 days regardless.
		// inv_early: a resolution with nothing to resolve (remembered).
		converseT(t, s, failed, failed, "inv_open", false, nil)
		converseT(t, s, failed, failed, "inv_wait", false, escalate(20*24*time.Hour, true))
		first := converseT(t, s, failed, failed, "inv_paid", false, nil)
		postT(t, s, failed, "inv_paid", first.ID)
		open := converseT(t, s, failed, failed, "inv_open2", false, nil)
		postT(t, s, failed, "inv_open2", open.ID)
		converseT(t, s, failed, failed, "inv_regardless", false, escalate(20*24*time.Hour, false))
		// A post whose conversation is gone.
		if _, _, err := s.ConversationRef(ctxT(t), failed, "inv_orphan", "alerts", "dlv_orphan"); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
		converseT(t, s, paid, failed, "inv_paid", true, nil)
		converseT(t, s, paid, failed, "inv_regardless", true, nil)
		if d := converseT(t, s, paid, failed, "inv_early", true, nil); d.Decided != StateSuppressed {
			t.Fatalf("resolution with nothing to resolve: %s %q", d.Decided, d.DecidedReason)
		}

		exists := func(key string) bool {
			t.Helper()
			_, ok, err := s.Conversation(ctxT(t), failed, key)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		want := func(when string, keys map[string]bool) {
			t.Helper()
			if _, err := s.Sweep(ctxT(t)); err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			for key, kept := range keys {
				if got := exists(key); got != kept {
					t.Errorf("%s: conversation %s kept = %v, want %v", when, key, got, kept)
				}
			}
		}

		// Within the 7-day retention: everything stays.
		clock.Set(t0.Add(6 * 24 * time.Hour))
		want("after 6 days", map[string]bool{"inv_open": true, "inv_wait": true, "inv_paid": true,
			"inv_open2": true, "inv_regardless": true, "inv_early": true})
		if n := countPosts(t, s, "inv_orphan"); n != 1 {
			t.Errorf("after 6 days: %d orphaned posts, want 1 (not yet old)", n)
		}

		// Past it: the resolved ones go with their posts; the open ones
		// and the escalation still to fire stay.
		clock.Set(t0.Add(10 * 24 * time.Hour))
		want("after 10 days", map[string]bool{"inv_open": true, "inv_wait": true, "inv_paid": false,
			"inv_open2": true, "inv_regardless": true, "inv_early": false})
		for key, n := range map[string]int{"inv_paid": 0, "inv_open2": 1, "inv_orphan": 0} {
			if got := countPosts(t, s, key); got != n {
				t.Errorf("after 10 days: %d posts of %s, want %d", got, key, n)
			}
		}

		// The escalations fire; the resolved one may go now, the open
		// ones stay, escalated or not.
		clock.Set(t0.Add(21 * 24 * time.Hour))
		if n, err := s.FireEscalations(ctxT(t), clock.Now(), 10); err != nil || n != 2 {
			t.Fatalf("FireEscalations = %d, %v; want 2", n, err)
		}
		want("after the escalations", map[string]bool{"inv_open": true, "inv_wait": true, "inv_open2": true,
			"inv_regardless": false})
		c, _, err := s.Conversation(ctxT(t), failed, "inv_wait")
		if err != nil || c.State != ConversationOpen || c.EscalatedAt == nil {
			t.Errorf("inv_wait: %+v, %v; want open and escalated", c, err)
		}

		// A later failure of a swept conversation starts a new one.
		if d := converseT(t, s, failed, failed, "inv_paid", false, nil); d.Decided == StateSuppressed {
			t.Errorf("failure after the sweep: suppressed (%s)", d.DecidedReason)
		}
		if c, ok, err := s.Conversation(ctxT(t), failed, "inv_paid"); err != nil || !ok || c.State != ConversationOpen || c.Notifications != 1 {
			t.Errorf("inv_paid after the sweep: %+v ok=%v err=%v; want a new open conversation", c, ok, err)
		}
	})
}
