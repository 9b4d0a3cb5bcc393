package digest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/testclock"
)

// latest returns the newest delivery of a rule.
func latest(t *testing.T, st *store.Store, rule string) store.StoredDelivery {
	t.Helper()
	list, err := st.List(context.Background(), store.Filter{Rule: rule, Limit: 1})
	if err != nil || len(list) != 1 {
		t.Fatalf("deliveries of %s: %v, %v", rule, list, err)
	}
	return list[0]
}

// Quiet hours in Paris with hold, across the spring-forward weekend: a
// Saturday-evening match waits until Monday 08:00 CEST, then is claimed
// like any other delivery.
func TestQuietHoursHoldAcrossDST(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 28, 19, 30, 0, 0, time.UTC)) // Sat 20:30 CET
	r := newReplica(t, store.Options{DataDir: t.TempDir()}, "a", clk)
	r.post(t, "PARIS-1", 100)
	d := latest(t, r.st, "paris-hold")
	monday := time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC) // 08:00 CEST
	if d.State != store.StateHeld || !d.NextAttemptAt.Equal(monday) {
		t.Fatalf("held delivery: state %q due %v, want held until %v", d.State, d.NextAttemptAt, monday)
	}
	if !strings.Contains(d.Reason, "quiet hours Sat-Sun, 20:00-08:00 (Europe/Paris): held until 2026-03-30T06:00:00Z") {
		t.Fatalf("reason %q", d.Reason)
	}
	ctx := context.Background()
	if got, _ := r.st.Claim(ctx, "a", monday.Add(-time.Second), time.Minute, 10); len(got) != 0 {
		t.Fatalf("claimed %d before the quiet hours ended", len(got))
	}
	got, err := r.st.Claim(ctx, "a", monday, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != d.ID {
		t.Fatalf("claim at the end of quiet hours: %v, %v", got, err)
	}

	// Monday 08:00 CEST is no longer quiet: sent at once.
	clk.Set(monday)
	r.post(t, "PARIS-2", 100)
	if d := latest(t, r.st, "paris-hold"); d.State != store.StatePending && d.State != store.StateInFlight {
		t.Fatalf("Monday morning: %q", d.State)
	}
}

// Quiet hours in New York with drop, on the night the clocks spring
// forward: 22:00-06:00 ends at 06:00 EDT, which is 10:00 UTC (it would be
// 11:00 UTC on a winter night).
func TestQuietHoursDropAcrossDST(t *testing.T) {
	clk := testclock.New(time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)) // 01:30 EST
	r := newReplica(t, store.Options{DataDir: t.TempDir()}, "a", clk)
	r.post(t, "NY-1", 100)
	if d := latest(t, r.st, "ny-drop"); d.State != store.StateDropped ||
		!strings.Contains(d.Reason, "quiet hours 22:00-06:00 (America/New_York): dropped") {
		t.Fatalf("01:30 EST: state %q reason %q", d.State, d.Reason)
	}
	clk.Set(time.Date(2026, 3, 8, 9, 59, 0, 0, time.UTC)) // 05:59 EDT
	r.post(t, "NY-2", 100)
	if d := latest(t, r.st, "ny-drop"); d.State != store.StateDropped {
		t.Fatalf("05:59 EDT: %q", d.State)
	}
	clk.Set(time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)) // 06:00 EDT
	r.post(t, "NY-3", 100)
	if d := latest(t, r.st, "ny-drop"); d.State == store.StateDropped {
		t.Fatalf("06:00 EDT is past the quiet hours, but the delivery was dropped")
	}
}

// A grouping rule on a quiet channel: the digest is due during the quiet
// hours, so it is held and goes out, as one digest, when they end.
func TestQuietHoursHoldDigest(t *testing.T) {
	clk := testclock.New(time.Date(2026, 11, 20, 20, 0, 0, 0, time.UTC)) // Fri 21:00 CET
	r := newReplica(t, store.Options{DataDir: t.TempDir()}, "a", clk)
	r.post(t, "DIGEST-1", 100)
	clk.Set(clk.Now().Add(10 * time.Hour))
	r.post(t, "DIGEST-2", 100)
	clk.Set(clk.Now().Add(time.Hour)) // Sat 08:00 CET: weekend, still quiet
	if n := r.flushDue(t); n != 0 {
		t.Fatalf("%d digests during quiet hours", n)
	}
	next, err := r.st.NextGroupDue(context.Background())
	monday := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC) // Mon 08:00 CET
	if err != nil || !next.Equal(monday) {
		t.Fatalf("digest postponed to %v, %v; want %v", next, err, monday)
	}
	clk.Set(monday)
	if n := r.flushDue(t); n != 1 {
		t.Fatalf("%d digests when the quiet hours ended, want 1", n)
	}
	got := digests(t, r.st, "paris-digest", "paris-finance")
	if len(got) != 1 || !strings.HasPrefix(got[0].Parts.Text, "*2 × paris-digest in the last 2 days*") {
		t.Fatalf("digest: %+v", got)
	}
}
