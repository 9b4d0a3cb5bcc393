package store

import (
	"errors"
	"testing"
	"time"
)

func TestSilences(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		now := clk.Now()
		if _, err := s.AddSilence(ctxT(t), Silence{Reason: "x", EndsAt: now.Add(time.Hour)}); err == nil {
			t.Fatal("a silence without rule or expression was accepted")
		}
		if _, err := s.AddSilence(ctxT(t), Silence{Rule: "r", EndsAt: now.Add(time.Hour)}); err == nil {
			t.Fatal("a silence without reason was accepted")
		}
		if _, err := s.AddSilence(ctxT(t), Silence{Rule: "r", Reason: "x", EndsAt: now}); err == nil {
			t.Fatal("a silence ending when it starts was accepted")
		}
		a, err := s.AddSilence(ctxT(t), Silence{Rule: "wallet-depleted", Reason: "migration", Author: "alice", EndsAt: now.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		later, err := s.AddSilence(ctxT(t), Silence{When: `wallet.external_customer_id == "acme"`, Reason: "offboarding",
			Author: "bob", StartsAt: now.Add(time.Hour), EndsAt: now.Add(3 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == "" || a.ID == later.ID || !a.CreatedAt.Equal(now.Truncate(time.Microsecond)) || a.State(now) != SilenceActive ||
			later.State(now) != SilencePending {
			t.Fatalf("added %+v and %+v", a, later)
		}
		active, err := s.ActiveSilences(ctxT(t), now)
		if err != nil || len(active) != 1 || active[0].ID != a.ID || active[0].Reason != "migration" || active[0].Author != "alice" {
			t.Fatalf("active now: %+v, %v", active, err)
		}
		if active, _ := s.ActiveSilences(ctxT(t), now.Add(90*time.Minute)); len(active) != 2 {
			t.Fatalf("active in 90 min: %d, want 2", len(active))
		}
		// Silences expire on their own.
		if active, _ := s.ActiveSilences(ctxT(t), now.Add(2*time.Hour)); len(active) != 1 || active[0].ID != later.ID {
			t.Fatalf("active at the first one's end: %+v", active)
		}
		list, err := s.Silences(ctxT(t), false)
		if err != nil || len(list) != 2 || list[0].ID != later.ID {
			t.Fatalf("Silences = %+v, %v (newest first)", list, err)
		}

		// Expired by hand: listed only with includeExpired, then swept.
		clk.Add(time.Minute)
		got, err := s.ExpireSilence(ctxT(t), a.ID, clk.Now())
		if err != nil || got.State(clk.Now()) != SilenceExpired {
			t.Fatalf("ExpireSilence = %+v, %v", got, err)
		}
		if _, err := s.ExpireSilence(ctxT(t), "sil-nope", clk.Now()); !errors.Is(err, ErrSilenceNotFound) {
			t.Fatalf("expire unknown: %v", err)
		}
		if list, _ := s.Silences(ctxT(t), false); len(list) != 1 {
			t.Fatalf("%d listed without expired, want 1", len(list))
		}
		if list, _ := s.Silences(ctxT(t), true); len(list) != 2 {
			t.Fatalf("%d listed with expired, want 2", len(list))
		}
		clk.Add(KeepSilences + 4*time.Hour)
		if _, err := s.Sweep(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if list, _ := s.Silences(ctxT(t), true); len(list) != 0 {
			t.Fatalf("%d silences left after the sweep", len(list))
		}
	})
}
