package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// enqueueOne stores one message with its deliveries and returns them as
// Enqueue left them (Decided filled in).
func enqueueOne(t *testing.T, s *Store, owner string, ds ...RoutedDelivery) []RoutedDelivery {
	t.Helper()
	enqueue(t, s, owner, ds...) // the same slice: Enqueue's decisions land in ds
	return ds
}

func throttled(rule, key string, every time.Duration, rerendered *[]int) RoutedDelivery {
	d := newDelivery(rule, "slack")
	d.LeaseUntil = time.Now().Add(time.Minute)
	d.Throttle = &ThrottleSpec{Key: key, Every: every, Rerender: func(n int) (notifiers.Parts, error) {
		*rerendered = append(*rerendered, n)
		return notifiers.Parts{Text: fmt.Sprintf("again (%d suppressed)", n)}, nil
	}}
	return d
}

func stateOf(t *testing.T, s *Store, id string) StoredDelivery {
	t.Helper()
	d, _, err := s.Get(ctxT(t), id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return d
}

func TestThrottleWindows(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		var rerendered []int

		// The first match goes out; the next two within 6 h are suppressed
		// and counted; another key has its own window.
		first := enqueueOne(t, s, "r1", throttled("wallet", "cust-1", 6*time.Hour, &rerendered))
		if first[0].Decided != StateInFlight {
			t.Fatalf("first match: %q, want in_flight", first[0].Decided)
		}
		clk.Add(time.Hour)
		second := enqueueOne(t, s, "r1", throttled("wallet", "cust-1", 6*time.Hour, &rerendered))
		clk.Add(time.Hour)
		third := enqueueOne(t, s, "r1", throttled("wallet", "cust-1", 6*time.Hour, &rerendered))
		other := enqueueOne(t, s, "r1", throttled("wallet", "cust-2", 6*time.Hour, &rerendered))
		for i, ds := range [][]RoutedDelivery{second, third} {
			if ds[0].Decided != StateSuppressed {
				t.Fatalf("match %d in the window: %q, want suppressed", i+2, ds[0].Decided)
			}
			got := stateOf(t, s, ds[0].ID)
			if got.State != StateSuppressed || !strings.Contains(got.Reason, `throttled: key "cust-1"`) ||
				!strings.Contains(got.Reason, fmt.Sprintf("(%d suppressed so far)", i+1)) {
				t.Fatalf("stored: state %q reason %q", got.State, got.Reason)
			}
		}
		if other[0].Decided != StateInFlight {
			t.Fatalf("other key: %q, want in_flight", other[0].Decided)
		}
		if open, _, n, err := s.ThrottleState(ctxT(t), "wallet", "cust-1", clk.Now()); err != nil || !open || n != 2 {
			t.Fatalf("ThrottleState = open %v, %d suppressed, %v", open, n, err)
		}

		// The window survives a restart.
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openT(t, o)
		clk.Add(3*time.Hour + 59*time.Minute) // 5 h 59 min after the first
		if ds := enqueueOne(t, s, "r1", throttled("wallet", "cust-1", 6*time.Hour, &rerendered)); ds[0].Decided != StateSuppressed {
			t.Fatalf("after restart, inside the window: %q, want suppressed", ds[0].Decided)
		}
		if len(rerendered) != 0 {
			t.Fatalf("rerendered %v before the window ended", rerendered)
		}

		// The window is over: the next match goes out, rendered again
		// with the 3 suppressed matches, and opens a new window.
		clk.Add(time.Minute)
		next := enqueueOne(t, s, "r1", throttled("wallet", "cust-1", 6*time.Hour, &rerendered))
		if next[0].Decided != StateInFlight {
			t.Fatalf("after the window: %q, want in_flight", next[0].Decided)
		}
		if len(rerendered) != 1 || rerendered[0] != 3 {
			t.Fatalf("rerendered with %v, want [3]", rerendered)
		}
		if got := stateOf(t, s, next[0].ID); got.Parts.Text != "again (3 suppressed)" {
			t.Fatalf("stored text %q", got.Parts.Text)
		}
		if ds := enqueueOne(t, s, "r1", throttled("wallet", "cust-1", 6*time.Hour, &rerendered)); ds[0].Decided != StateSuppressed {
			t.Fatalf("new window: %q, want suppressed", ds[0].Decided)
		}
	})
}

func TestThrottleOneDecisionPerMessage(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		s := openT(t, o)
		var rr []int
		// A rule with two targets: both go out with the first message,
		// both are suppressed with the second.
		a, b := throttled("r", "k", time.Hour, &rr), throttled("r", "k", time.Hour, &rr)
		b.Channel = "email"
		ds := enqueueOne(t, s, "o", a, b)
		if ds[0].Decided != StateInFlight || ds[1].Decided != StateInFlight {
			t.Fatalf("first message: %q, %q", ds[0].Decided, ds[1].Decided)
		}
		a, b = throttled("r", "k", time.Hour, &rr), throttled("r", "k", time.Hour, &rr)
		b.Channel = "email"
		ds = enqueueOne(t, s, "o", a, b)
		if ds[0].Decided != StateSuppressed || ds[1].Decided != StateSuppressed {
			t.Fatalf("second message: %q, %q", ds[0].Decided, ds[1].Decided)
		}
		if _, _, n, _ := s.ThrottleState(ctxT(t), "r", "k", time.Now()); n != 1 {
			t.Fatalf("suppressed count %d, want 1 (one per message)", n)
		}
	})
}

func grouped(rule, key, channel string) RoutedDelivery {
	d := newDelivery(rule, channel)
	d.Parts = notifiers.Parts{}
	d.LeaseUntil = time.Now().Add(time.Minute)
	d.Group = &GroupSpec{Key: key, Wait: 30 * time.Second, Interval: 5 * time.Minute}
	return d
}

func TestGroupsAndDigests(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		t0 := clk.Now()
		var msgIDs []string
		for range 3 {
			ds := enqueueOne(t, s, "o", grouped("big", "invoice.created", "slack"))
			if ds[0].Decided != StateGrouped || !strings.Contains(ds[0].DecidedReason, `grouped (key "invoice.created")`) {
				t.Fatalf("Decided %q (%s)", ds[0].Decided, ds[0].DecidedReason)
			}
			msgIDs = append(msgIDs, ds[0].MessageID)
			clk.Add(5 * time.Second)
		}
		due, err := s.DueGroups(ctxT(t), clk.Now(), 10)
		if err != nil || len(due) != 0 {
			t.Fatalf("due before wait: %v, %v", due, err)
		}
		if next, _ := s.NextGroupDue(ctxT(t)); !next.Equal(t0.Add(30 * time.Second).Truncate(time.Microsecond)) {
			t.Fatalf("NextGroupDue = %v, want %v", next, t0.Add(30*time.Second))
		}

		clk.Set(t0.Add(30 * time.Second))
		due, err = s.DueGroups(ctxT(t), clk.Now(), 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due at wait: %v, %v", due, err)
		}
		var seen []string
		g, p, err := s.FlushGroup(ctxT(t), due[0], clk.Now(), func(g Group, load GroupLoader) (FlushPlan, error) {
			msgs, count, err := load(2)
			if err != nil {
				return FlushPlan{}, err
			}
			if count != 3 || len(msgs) != 2 {
				return FlushPlan{}, fmt.Errorf("load(2) = %d messages of %d", len(msgs), count)
			}
			for _, m := range msgs {
				seen = append(seen, m.ID)
			}
			d := newDelivery(g.Rule, g.Channel)
			d.MessageID = msgs[len(msgs)-1].ID
			d.Parts = notifiers.Parts{Text: "3 × big"}
			return FlushPlan{Digests: []RoutedDelivery{d}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if g.Rule != "big" || g.Key != "invoice.created" || g.Channel != "slack" || len(p.Digests) != 1 {
			t.Fatalf("flushed %+v, plan %+v", g, p)
		}
		if strings.Join(seen, ",") != strings.Join(msgIDs[:2], ",") {
			t.Fatalf("loaded %v, want the oldest two of %v", seen, msgIDs)
		}
		// A second flush of the same group finds nothing due.
		if _, _, err := s.FlushGroup(ctxT(t), due[0], clk.Now(), nil); !errors.Is(err, ErrGroupBusy) {
			t.Fatalf("second flush: %v, want ErrGroupBusy", err)
		}
		digest := stateOf(t, s, p.Digests[0].ID)
		if digest.State != StatePending || digest.GroupID != g.ID || digest.Parts.Text != "3 × big" {
			t.Fatalf("digest stored as %+v", digest)
		}
		list, err := s.List(ctxT(t), Filter{Status: StateDigested})
		if err != nil || len(list) != 3 {
			t.Fatalf("digested: %d, %v", len(list), err)
		}
		// A match inside a digest holds nothing to send on its own.
		if n, err := s.Replay(ctxT(t), []string{list[0].ID}); err != nil || n != 0 {
			t.Fatalf("Replay(digested) = %d, %v", n, err)
		}
		for _, d := range list {
			if d.Reason != "in digest "+p.Digests[0].ID {
				t.Fatalf("reason %q", d.Reason)
			}
		}

		// The next match reopens the group, due no sooner than the interval
		// after the digest (not 30 s after the match).
		clk.Add(time.Minute)
		enqueueOne(t, s, "o", grouped("big", "invoice.created", "slack"))
		_, state, waiting, err := s.GroupState(ctxT(t), "big", "invoice.created", "slack")
		if err != nil || state != "open" || waiting != 1 {
			t.Fatalf("GroupState = %q, %d waiting, %v", state, waiting, err)
		}
		if next, _ := s.NextGroupDue(ctxT(t)); !next.Equal(t0.Add(30*time.Second + 5*time.Minute).Truncate(time.Microsecond)) {
			t.Fatalf("next digest due %v, want interval after the last", next)
		}

		// Quiet hours with hold postpone; drop ends the matches.
		clk.Set(t0.Add(30*time.Second + 5*time.Minute))
		due, _ = s.DueGroups(ctxT(t), clk.Now(), 10)
		if len(due) != 1 {
			t.Fatalf("due %v", due)
		}
		later := clk.Now().Add(10 * time.Hour)
		if _, _, err := s.FlushGroup(ctxT(t), due[0], clk.Now(), func(Group, GroupLoader) (FlushPlan, error) {
			return FlushPlan{Postpone: later}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if next, _ := s.NextGroupDue(ctxT(t)); !next.Equal(later.Truncate(time.Microsecond)) {
			t.Fatalf("postponed to %v, want %v", next, later)
		}
		clk.Set(later)
		if _, _, err := s.FlushGroup(ctxT(t), due[0], clk.Now(), func(Group, GroupLoader) (FlushPlan, error) {
			return FlushPlan{Drop: "quiet hours: dropped"}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if list, _ := s.List(ctxT(t), Filter{Status: StateDropped}); len(list) != 1 || list[0].Reason != "quiet hours: dropped" {
			t.Fatalf("dropped: %+v", list)
		}
		if _, state, _, _ := s.GroupState(ctxT(t), "big", "invoice.created", "slack"); state != "idle" {
			t.Fatalf("group %q after drop, want idle", state)
		}
	})
}

func TestPresetStatesAndHold(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		sil := newDelivery("r", "slack")
		sil.Preset, sil.Reason = StateSilenced, "silenced by sil-1: migration"
		drop := newDelivery("r", "slack")
		drop.Preset, drop.Reason = StateDropped, "quiet hours: dropped"
		hold := newDelivery("r", "slack")
		until := clk.Now().Add(3 * time.Hour)
		hold.Preset, hold.Reason, hold.HoldUntil = StateHeld, "quiet hours: held", until
		hold.LeaseUntil = clk.Now().Add(time.Minute)
		ds := enqueueOne(t, s, "o", sil, drop, hold)
		for i, want := range []string{StateSilenced, StateDropped, StateHeld} {
			if ds[i].Decided != want {
				t.Fatalf("delivery %d: %q, want %q", i, ds[i].Decided, want)
			}
			if got := stateOf(t, s, ds[i].ID); got.State != want || got.Reason != ds[i].Reason {
				t.Fatalf("stored %q %q", got.State, got.Reason)
			}
		}
		// Held until the quiet period ends, then claimed like pending.
		if got, err := s.Claim(ctxT(t), "o", clk.Now().Add(2*time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
			t.Fatalf("claimed %d during quiet hours, %v", len(got), err)
		}
		got, err := s.Claim(ctxT(t), "o", until, time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != ds[2].ID {
			t.Fatalf("claim after quiet hours = %v, %v", got, err)
		}
		if !got[0].QueuedAt.Equal(until.Truncate(time.Microsecond)) {
			t.Fatalf("queued_at %v: the retry window must count from the end of the hold %v", got[0].QueuedAt, until)
		}
		st, err := s.Stats(ctxT(t))
		if err != nil || st.ByState[StateHeld] != 0 || st.ByState[StateInFlight] != 1 {
			t.Fatalf("stats %+v, %v", st, err)
		}
		// A silenced or dropped match can still be sent on purpose.
		if n, err := s.Replay(ctxT(t), []string{ds[0].ID, ds[1].ID}); err != nil || n != 2 {
			t.Fatalf("Replay(silenced, dropped) = %d, %v", n, err)
		}
		// The reason stays, to say it was sent anyway.
		for _, d := range ds[:2] {
			if got := stateOf(t, s, d.ID); got.State != StatePending || got.Reason != d.Reason {
				t.Errorf("replayed %s: %q, reason %q", d.ID, got.State, got.Reason)
			}
		}
	})
}

func TestCollapse(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		s := openT(t, o)
		var ids []string
		for range 5 {
			d := newDelivery("r", "slack")
			d.LeaseUntil = time.Now().Add(time.Minute)
			ds := enqueueOne(t, s, "me", d)
			ids = append(ids, ds[0].ID)
		}
		// One of them was taken over by another replica meanwhile.
		if _, err := s.Release(ctxT(t), "me", ids[0]); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []string
		collapsed, sum, err := s.Collapse(ctxT(t), "me", ids, time.Now().Add(time.Minute), func(c []string) RoutedDelivery {
			mu.Lock()
			got = c
			mu.Unlock()
			return RoutedDelivery{Notification: notifiers.Notification{MessageID: messageOf(t, s, c[len(c)-1]), Channel: "slack",
				Parts: notifiers.Parts{Text: fmt.Sprintf("+%d more", len(c))}}, DecidedReason: "pacing summary"}
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(collapsed) != 4 || len(got) != 4 {
			t.Fatalf("collapsed %v (summarized %v), want the 4 still leased", collapsed, got)
		}
		stored := stateOf(t, s, sum.ID)
		if stored.State != StateInFlight || stored.LeaseOwner != "me" || stored.Parts.Text != "+4 more" || stored.Reason != "pacing summary" {
			t.Fatalf("summary stored as %+v", stored)
		}
		for _, id := range collapsed {
			if d := stateOf(t, s, id); d.State != StateCollapsed || d.Reason != "collapsed into pacing summary "+sum.ID {
				t.Fatalf("collapsed delivery: %q %q", d.State, d.Reason)
			}
		}
		if d := stateOf(t, s, ids[0]); d.State != StatePending {
			t.Fatalf("released delivery became %q", d.State)
		}
	})
}

func messageOf(t *testing.T, s *Store, deliveryID string) string {
	t.Helper()
	return stateOf(t, s, deliveryID).MessageID
}
