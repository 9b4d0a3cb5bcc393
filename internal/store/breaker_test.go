package store

import (
	"errors"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// TestBreakerLifecycle opens a breaker on its fifth failure, parks the
// channel's pending deliveries, lets exactly one probe through per
// interval (backing off), and closes on a success, making the parked
// deliveries due again. Two Store handles on one database stand for two
// replicas: whichever records the failure or success, both see one state,
// and only one of them is told that the breaker opened or closed.
func TestBreakerLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, base Options) {
		clock := newClock()
		base.Now = clock.Now
		a, b := openT(t, base), openT(t, base)
		ctx := ctxT(t)
		p := BreakerPolicy{Failures: 5, Probe: 30 * time.Second, MaxProbe: 5 * time.Minute}

		m := message("lago", "")
		var news []RoutedDelivery
		for range 3 {
			news = append(news, newDelivery("r", "crm"))
		}
		other := newDelivery("r", "slack")
		news = append(news, other)
		if _, err := a.Enqueue(ctx, m, "", news); err != nil {
			t.Fatal(err)
		}

		for i := 1; i <= 5; i++ {
			s := a
			if i%2 == 0 {
				s = b
			}
			br, opened, err := s.BreakerFailure(ctx, "crm", "503", false, p)
			if err != nil {
				t.Fatal(err)
			}
			if opened != (i == 5) || br.Failures != i {
				t.Fatalf("failure %d: opened %v failures %d", i, opened, br.Failures)
			}
		}
		// A sixth failure (a send that was already under way) opens
		// nothing again.
		if _, opened, err := b.BreakerFailure(ctx, "crm", "503", false, p); err != nil || opened {
			t.Fatalf("sixth failure: opened %v, %v", opened, err)
		}
		all, err := b.Breakers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		br := all["crm"]
		if !br.IsOpen() || br.Opens != 1 || !br.ProbeAt.Equal(clock.Now().Add(30*time.Second)) || br.LastError != "503" {
			t.Fatalf("breaker %+v", br)
		}
		// Parked: nothing of crm is claimable; slack is.
		got, err := a.Claim(ctx, "x", clock.Now(), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != other.ID {
			t.Fatalf("claimed %v, want only %s", ids(got), other.ID)
		}
		if n, err := a.ParkedCount(ctx, "crm"); err != nil || n != 3 {
			t.Fatalf("ParkedCount = %d, %v", n, err)
		}

		// No probe before its time.
		if _, ok, err := a.ClaimProbe(ctx, "x", "crm", time.Minute); err != nil || ok {
			t.Fatalf("early probe: %v %v", ok, err)
		}
		clock.Add(30 * time.Second)
		d, ok, err := a.ClaimProbe(ctx, "x", "crm", time.Minute)
		if err != nil || !ok || d.Channel != "crm" || d.State != StateInFlight {
			t.Fatalf("probe: %+v %v %v", d, ok, err)
		}
		// The other replica gets no second probe in the same interval.
		if _, ok, err := b.ClaimProbe(ctx, "y", "crm", time.Minute); err != nil || ok {
			t.Fatalf("second probe: %v %v", ok, err)
		}
		// The probe fails: the interval doubles.
		if _, _, err := a.BreakerFailure(ctx, "crm", "503", true, p); err != nil {
			t.Fatal(err)
		}
		// The probe goes back parked, without an attempt.
		if n, err := a.Defer(ctx, "x", Parked, []string{d.ID}); err != nil || n != 1 {
			t.Fatalf("Defer = %d, %v", n, err)
		}
		if got, _, _ := a.Get(ctx, d.ID); got.State != StatePending || !got.NextAttemptAt.Equal(Parked) || got.Attempts != 0 {
			t.Fatalf("deferred probe %+v", got)
		}
		all, _ = a.Breakers(ctx)
		if br := all["crm"]; br.ProbeEvery != time.Minute || !br.ProbeAt.Equal(clock.Now().Add(time.Minute)) {
			t.Fatalf("after a failed probe: %+v", br)
		}

		// A success closes it, once, and makes the parked deliveries due.
		clock.Add(12 * time.Minute)
		was, _, closed, err := b.BreakerSuccess(ctx, "crm")
		if err != nil || !closed || !was.OpenedAt.Equal(clock.Now().Add(-12*time.Minute-30*time.Second)) {
			t.Fatalf("BreakerSuccess = %+v %v %v", was, closed, err)
		}
		if _, _, closed, err := a.BreakerSuccess(ctx, "crm"); err != nil || closed {
			t.Fatalf("second success closed again: %v %v", closed, err)
		}
		got, err = a.Claim(ctx, "x", clock.Now(), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var crm []StoredDelivery
		for _, d := range got {
			if d.Channel == "crm" {
				crm = append(crm, d)
			}
		}
		if len(crm) != 3 {
			t.Fatalf("after closing claimed %d of crm, want the 3 parked", len(crm))
		}
		for _, d := range crm {
			if d.Attempts != 0 {
				t.Errorf("delivery %s has %d attempts: parking must not count one", d.ID, d.Attempts)
			}
		}
	})
}

func TestPauseAndSummary(t *testing.T) {
	eachBackend(t, func(t *testing.T, base Options) {
		clock := newClock()
		base.Now = clock.Now
		s := openT(t, base)
		ctx := ctxT(t)
		until := clock.Now().Add(time.Minute)
		if err := s.PauseChannel(ctx, "slack", until); err != nil {
			t.Fatal(err)
		}
		// An earlier end never shortens a pause.
		if err := s.PauseChannel(ctx, "slack", clock.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		all, _ := s.Breakers(ctx)
		if br := all["slack"]; !br.PausedUntil.Equal(until) || br.IsOpen() || !br.Paused(clock.Now()) {
			t.Fatalf("paused breaker %+v", br)
		}

		p := BreakerPolicy{Failures: 1, Probe: time.Second}
		if _, opened, err := s.BreakerFailure(ctx, "crm", "x", false, p); err != nil || !opened {
			t.Fatal(opened, err)
		}
		if ok, err := s.ClaimSummary(ctx, "crm", time.Minute); err != nil || ok {
			t.Fatalf("summary right after opening: %v %v", ok, err)
		}
		clock.Add(time.Minute)
		if ok, err := s.ClaimSummary(ctx, "crm", time.Minute); err != nil || !ok {
			t.Fatalf("summary after a minute: %v %v", ok, err)
		}
		if ok, err := s.ClaimSummary(ctx, "crm", time.Minute); err != nil || ok {
			t.Fatalf("second summary in the same minute: %v %v", ok, err)
		}
	})
}

func TestReplayMatching(t *testing.T) {
	eachBackend(t, func(t *testing.T, base Options) {
		clock := newClock()
		base.Now = clock.Now
		s := openT(t, base)
		ctx := ctxT(t)
		dead := func(rule, channel string) RoutedDelivery {
			nd := newDelivery(rule, channel)
			nd.DeadError = "boom"
			return nd
		}
		old := dead("r1", "crm")
		if _, err := s.Enqueue(ctx, message("lago", ""), "", []RoutedDelivery{old}); err != nil {
			t.Fatal(err)
		}
		clock.Add(3 * time.Hour)
		a, b, c := dead("r1", "crm"), dead("r2", "crm"), dead("r1", "slack")
		if _, err := s.Enqueue(ctx, message("lago", ""), "", []RoutedDelivery{a, b, c}); err != nil {
			t.Fatal(err)
		}
		res, err := s.ReplayMatching(ctx, ReplayFilter{Channel: "crm", Rule: "r1", Since: clock.Now().Add(-2 * time.Hour)})
		if err != nil || res.Replayed != 1 {
			t.Fatalf("ReplayMatching = %+v, %v", res, err)
		}
		for id, want := range map[string]string{old.ID: StateDead, a.ID: StatePending, b.ID: StateDead, c.ID: StateDead} {
			d, _, _ := s.Get(ctx, id)
			if d.State != want {
				t.Errorf("%s is %s, want %s", id, d.State, want)
			}
		}
		// Rendered again: new parts; a failure leaves it dead.
		res, err = s.ReplayMatching(ctx, ReplayFilter{Channel: "crm", Rerender: func(d StoredDelivery, body []byte) (notifiers.Parts, error) {
			if d.ID == old.ID {
				return notifiers.Parts{}, errors.New("template broken")
			}
			return notifiers.Parts{Text: "again: " + string(body[:10])}, nil
		}})
		if err != nil || res.Replayed != 1 || len(res.Failed) != 1 || res.Failed[0].ID != old.ID {
			t.Fatalf("rerender ReplayMatching = %+v, %v", res, err)
		}
		d, _, _ := s.Get(ctx, b.ID)
		if d.State != StatePending || d.Parts.Text != `again: {"webhook_` {
			t.Fatalf("rerendered delivery %s %q", d.State, d.Parts.Text)
		}
	})
}

// TestParkingFollowsTheBreaker: a delivery handed back as parked after the
// breaker closed (a replica that had not seen it close yet) is due at
// once, and one parked while it was open is made due by UnparkClosed once
// it has closed.
func TestParkingFollowsTheBreaker(t *testing.T) {
	eachBackend(t, func(t *testing.T, base Options) {
		clock := newClock()
		base.Now = clock.Now
		s := openT(t, base)
		ctx := ctxT(t)
		p := BreakerPolicy{Failures: 1, Probe: time.Minute}
		if _, opened, err := s.BreakerFailure(ctx, "crm", "x", false, p); err != nil || !opened {
			t.Fatal(opened, err)
		}
		parked := newDelivery("r", "crm")
		parked.NotBefore = Parked
		leased := newDelivery("r", "crm")
		leased.LeaseUntil = clock.Now().Add(time.Minute)
		if _, err := s.Enqueue(ctx, message("lago", ""), "x", []RoutedDelivery{parked, leased}); err != nil {
			t.Fatal(err)
		}
		// Closed by a success elsewhere; then this replica parks the
		// leased one, and an insert parked by a stale view lands.
		if _, _, closed, err := s.BreakerSuccess(ctx, "crm"); err != nil || !closed {
			t.Fatal(closed, err)
		}
		late := newDelivery("r", "crm")
		late.NotBefore = Parked
		if _, err := s.Enqueue(ctx, message("lago", ""), "", []RoutedDelivery{late}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Defer(ctx, "x", Parked, []string{leased.ID}); err != nil || n != 1 {
			t.Fatalf("Defer = %d, %v", n, err)
		}
		d, _, _ := s.Get(ctx, leased.ID)
		if d.State != StatePending || d.NextAttemptAt.After(clock.Now()) {
			t.Fatalf("parked after the breaker closed: %s due %v", d.State, d.NextAttemptAt)
		}
		if n, err := s.UnparkClosed(ctx); err != nil || n != 1 {
			t.Fatalf("UnparkClosed = %d, %v; want the late one", n, err)
		}
		for _, id := range []string{parked.ID, late.ID} {
			if d, _, _ := s.Get(ctx, id); d.NextAttemptAt.After(clock.Now()) {
				t.Errorf("%s still parked", id)
			}
		}
	})
}
