package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-dev/switchboard/internal/maintenance"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/notifiers"
)

func TestMain(m *testing.M) { testkit.Main(m, nil) }

// run starts r and stops it, waiting for it, at the end of the test.
func run(t *testing.T, r *maintenance.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// enqueue stores one message with one delivery: pending, or dead with
// deadErr.
func enqueue(t *testing.T, st *store.Store, id, deadErr string) {
	t.Helper()
	m := store.Message{ID: "msg-" + id, Source: "lago", WebhookType: "invoice.created", RulesVersion: "v1", Body: []byte(`{}`)}
	d := store.RoutedDelivery{Notification: notifiers.Notification{ID: "dlv-" + id, MessageID: m.ID, Rule: "r", Channel: "c",
		Parts: notifiers.Parts{Text: "hi"}}, DeadError: deadErr}
	if dup, err := st.Enqueue(context.Background(), m, "", []store.RoutedDelivery{d}); err != nil || dup {
		t.Fatalf("Enqueue = %v, %v", dup, err)
	}
}

// The queue gauges follow the store.
func TestGauges(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m := metrics.New(prometheus.NewRegistry())
	run(t, maintenance.New(maintenance.Options{Store: st, Metrics: m, StatsInterval: 10 * time.Millisecond, SweepInterval: -1}))

	enqueue(t, st, "1", "")
	enqueue(t, st, "2", "")
	enqueue(t, st, "3", "template failed")
	clk.Add(time.Minute)
	testkit.Eventually(t, "two pending deliveries and a dead one in the gauges", 10*time.Second, func() bool {
		return testutil.ToFloat64(m.DeliveriesPending) == 2 &&
			testutil.ToFloat64(m.DeliveriesByState.WithLabelValues(store.StatePending)) == 2 &&
			testutil.ToFloat64(m.DeliveriesByState.WithLabelValues(store.StateDead)) == 1 &&
			testutil.ToFloat64(m.OldestPendingSeconds) == 60
	})
}

// The sweep runs at start and logs what it deleted.
func TestSweepAtStart(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir(), Now: clk.Now,
		Retention: store.Retention{Messages: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	// A message that matched no rule, older than its retention.
	if dup, err := st.Enqueue(context.Background(), store.Message{ID: "msg-bare", Source: "lago",
		WebhookType: "invoice.created", RulesVersion: "v1", Body: []byte(`{}`)}, "", nil); err != nil || dup {
		t.Fatalf("Enqueue = %v, %v", dup, err)
	}
	clk.Add(2 * time.Hour)

	var logs testkit.LogBuffer
	run(t, maintenance.New(maintenance.Options{Store: st, Logger: logs.Logger()}))
	testkit.Eventually(t, "the sweep's log line", 10*time.Second, func() bool {
		return logs.Contains(`"msg":"retention sweep","deleted":1`)
	})
}

// converse stores one message whose delivery takes part in the
// conversation (payment-failed, key): opening it, or resolving it.
func converse(t *testing.T, st *store.Store, key string, resolves bool) {
	t.Helper()
	rule := "payment-failed"
	if resolves {
		rule = "payment-succeeded"
	}
	m := store.Message{ID: "msg-" + rule + "-" + key, Source: "lago", WebhookType: "invoice.payment_failure", RulesVersion: "v1", Body: []byte(`{}`)}
	d := store.RoutedDelivery{Notification: notifiers.Notification{ID: "dlv-" + rule + "-" + key, MessageID: m.ID, Rule: rule, Channel: "c",
		Parts: notifiers.Parts{Text: "hi"}},
		Conversation: &store.ConversationSpec{Rule: "payment-failed", Key: key, Resolves: resolves}}
	if dup, err := st.Enqueue(context.Background(), m, "", []store.RoutedDelivery{d}); err != nil || dup {
		t.Fatalf("Enqueue = %v, %v", dup, err)
	}
}

// The sweep deletes a resolved conversation past retention and keeps an
// open one, however old.
func TestSweepConversations(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir(), Now: clk.Now,
		Retention: store.Retention{Delivered: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	converse(t, st, "inv_open", false)
	converse(t, st, "inv_paid", false)
	converse(t, st, "inv_paid", true)
	clk.Add(2 * time.Hour)

	run(t, maintenance.New(maintenance.Options{Store: st, SweepInterval: 10 * time.Millisecond}))
	testkit.Eventually(t, "the resolved conversation swept", 10*time.Second, func() bool {
		_, ok, err := st.Conversation(context.Background(), "payment-failed", "inv_paid")
		return err == nil && !ok
	})
	if c, ok, err := st.Conversation(context.Background(), "payment-failed", "inv_open"); err != nil || !ok || c.State != store.ConversationOpen {
		t.Errorf("open conversation after the sweep: %+v ok=%v err=%v", c, ok, err)
	}
}
