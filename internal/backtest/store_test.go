package backtest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testpg"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// fill stores the history (ten invoices, three wallets), each invoice
// with one delivered-looking delivery, as serve would.
func fill(t *testing.T, o store.Options) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var envs []envelope
	for i := range 10 {
		envs = append(envs, invoice(i))
	}
	for i := range 3 {
		envs = append(envs, wallet(i))
	}
	for _, e := range envs {
		var typ struct {
			WebhookType string `json:"webhook_type"`
		}
		_ = json.Unmarshal(e.Body, &typ)
		var ds []store.RoutedDelivery
		if typ.WebhookType == "invoice.created" {
			ds = append(ds, store.RoutedDelivery{Notification: notifiers.Notification{ID: "dlv-" + e.ID, Rule: "invoices", Channel: "ops",
				Parts: notifiers.Parts{Text: "Invoice"}}})
		}
		if _, err := s.Enqueue(ctx, store.Message{ID: e.ID, Source: e.Source, Key: e.ID, WebhookType: typ.WebhookType,
			RulesVersion: "v1", ReceivedAt: e.ReceivedAt, Body: e.Body}, "test", ds); err != nil {
			t.Fatal(err)
		}
	}
}

// rowCounts counts every table a backtest could touch, through a store
// opened for writing after the backtest.
func rowCounts(t *testing.T, o store.Options) map[string]int {
	t.Helper()
	r, err := store.OpenReader(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]int{}
	for _, table := range []string{"messages", "deliveries", "attempts", "throttles", "digest_groups", "schema_migrations"} {
		n, err := r.Count(context.Background(), table)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestStoredHistoryWritesNothing replays a real store, SQLite and
// PostgreSQL, opened read-only: the same report as from files, and every
// table's row count unchanged (throttle windows are simulated, not
// stored).
func TestStoredHistoryWritesNothing(t *testing.T) {
	backends := []struct {
		name string
		opts func(t *testing.T) store.Options
	}{
		{"sqlite", func(t *testing.T) store.Options { return store.Options{DataDir: t.TempDir()} }},
		{"postgres", func(t *testing.T) store.Options { return store.Options{DatabaseURL: testpg.Start(t)} }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			o := b.opts(t)
			fill(t, o)
			before := rowCounts(t, o)
			if before["messages"] != 13 || before["deliveries"] != 10 {
				t.Fatalf("filled store: %v", before)
			}
			r, err := store.OpenReader(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rep, err := Run(context.Background(), Stored{R: r}, Options{
				Candidate: load(t, candidateRules), Current: load(t, currentRules),
				Filter: Filter{From: t0, To: t0.Add(24 * time.Hour)},
			})
			if err != nil {
				t.Fatal(err)
			}
			want := Totals{Added: 8, Removed: 3, Changed: 10, BeforeSent: 13, AfterSent: 14, SentPerDay: 14, DeltaPerDay: 1}
			if rep.Totals != want || rep.Messages != 13 || rep.Days != 1 {
				t.Errorf("totals %+v (messages %d, days %g), want %+v", rep.Totals, rep.Messages, rep.Days, want)
			}
			if big := findRow(t, rep, "big-invoices", "finance"); big.After.Suppressed != 4 {
				t.Errorf("big-invoices %+v", big.After)
			}
			// Pages: a query per 500 rows; the type filter reaches SQL.
			rep, err = Run(context.Background(), Stored{R: r}, Options{Candidate: load(t, candidateRules),
				Filter: Filter{Type: "wallet.depleted_ongoing_balance"}})
			if err != nil || rep.Messages != 3 {
				t.Fatalf("type filter: %v, %d messages", err, rep.Messages)
			}
			un, err := Unmatched(context.Background(), Stored{R: r}, load(t, candidateRules), Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if un.Messages != 13 || un.Unmatched != 3 || len(un.Types) != 1 || un.Types[0].Type != "wallet.depleted_ongoing_balance" ||
				un.Types[0].Count != 3 || un.Types[0].ExampleID != "msg-wal-2" {
				t.Errorf("unmatched %+v", un)
			}
			if after := rowCounts(t, o); !equalCounts(before, after) {
				t.Errorf("row counts changed: before %v, after %v", before, after)
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
