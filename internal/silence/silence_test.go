package silence

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
	"github.com/switchboard-dev/switchboard/internal/testkit"
	"github.com/switchboard-dev/switchboard/internal/testpg"
)

var pg testpg.Shared

func TestMain(m *testing.M) { testkit.Main(m, &pg) }

func open(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func wallet(customer string) map[string]any {
	return map[string]any{"webhook_type": "wallet.depleted_ongoing_balance",
		"wallet": map[string]any{"external_customer_id": customer}}
}

func TestMatchAndExpiry(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	clk := testclock.New(t0)
	st := open(t, store.Options{DataDir: t.TempDir(), Now: clk.Now})
	ctx := context.Background()
	byRule, err := st.AddSilence(ctx, store.Silence{Rule: "wallet-depleted", Reason: "migration", EndsAt: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	byExpr, err := st.AddSilence(ctx, store.Silence{When: `wallet?.external_customer_id == "acme"`, Reason: "offboarding",
		EndsAt: t0.Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddSilence(ctx, store.Silence{When: `wallet.external_customer_id ==`, Reason: "broken", EndsAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	c := New(Options{Store: st, Now: clk.Now})
	if got := c.Match("wallet-depleted", wallet("globex"), t0); got != nil {
		t.Fatalf("matched %+v before the first refresh", got)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rule, customer string
		at             time.Time
		want           string
	}{
		{"wallet-depleted", "globex", t0, byRule.ID},
		{"other-rule", "globex", t0, ""},
		{"other-rule", "acme", t0, byExpr.ID},
		{"wallet-depleted", "acme", t0, byRule.ID}, // the oldest first
		// The rule's silence ends on its own at its end (exclusive).
		{"wallet-depleted", "globex", t0.Add(2*time.Hour - time.Nanosecond), byRule.ID},
		{"wallet-depleted", "globex", t0.Add(2 * time.Hour), ""},
		{"wallet-depleted", "acme", t0.Add(2 * time.Hour), byExpr.ID},
		{"other-rule", "acme", t0.Add(4 * time.Hour), ""},
	} {
		got := c.Match(tc.rule, wallet(tc.customer), tc.at)
		id := ""
		if got != nil {
			id = got.ID
		}
		if id != tc.want {
			t.Errorf("Match(%s, %s, +%v) = %q, want %q", tc.rule, tc.customer, tc.at.Sub(t0), id, tc.want)
		}
	}
	// An expression that errors on a message (a missing object without
	// ?.) is no match.
	noWallet := map[string]any{"webhook_type": "invoice.created"}
	if got := c.Match("other-rule", noWallet, t0); got != nil {
		t.Fatalf("matched %+v on a message without a wallet", got)
	}
	// Refreshing after the end drops it for good.
	clk.Set(t0.Add(5 * time.Hour))
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(*c.list.Load()); n != 0 {
		t.Fatalf("%d silences cached after all ended", n)
	}
}

// A silence added through another replica's store is in force here after
// the next refresh; expiring it there lifts it here.
func TestRefreshSeesOtherReplicas(t *testing.T) {
	dsn := pg.DSN(t)
	here := open(t, store.Options{DatabaseURL: dsn})
	there := open(t, store.Options{DatabaseURL: dsn})
	c := New(Options{Store: here, Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	s, err := there.AddSilence(context.Background(), store.Silence{Rule: "r", Reason: "deploy", EndsAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the cache to follow the store", 10*time.Second, func() bool { return c.Match("r", map[string]any{}, time.Now()) != nil })
	if _, err := there.ExpireSilence(context.Background(), s.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the cache to follow the store", 10*time.Second, func() bool { return c.Match("r", map[string]any{}, time.Now()) == nil })
}
