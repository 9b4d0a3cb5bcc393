package store

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/notifiers"
)

func ids(ds []StoredDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestClaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		now := clk.Now()

		due := newDelivery("r", "c")
		live := newDelivery("r", "c")
		live.LeaseUntil = now.Add(time.Minute)
		expired := newDelivery("r", "c")
		expired.LeaseUntil = now.Add(time.Second)
		dead := newDelivery("r", "c")
		dead.DeadError = "render failed"
		enqueue(t, s, "gone-replica", due, live, expired, dead)
		// A retry scheduled for later.
		later := newDelivery("r", "c")
		later.LeaseUntil = now.Add(time.Minute)
		enqueue(t, s, "b", later)
		if lost, err := s.Finish(ctxT(t), []Outcome{{ID: later.ID, Owner: "b", Result: ResultRetry,
			RetryAt: now.Add(time.Hour), Error: "503"}}); err != nil || len(lost) > 0 {
			t.Fatalf("Finish = %v, %v", lost, err)
		}

		claimAt := now.Add(2 * time.Second)
		got, err := s.Claim(ctxT(t), "a", claimAt, 30*time.Second, 100)
		if err != nil {
			t.Fatal(err)
		}
		if want := sorted(due.ID, expired.ID); !slices.Equal(ids(got), want) {
			t.Fatalf("claimed %v, want the due one and the expired lease %v", ids(got), want)
		}
		for _, d := range got {
			if d.State != StateInFlight || d.LeaseOwner != "a" || !d.LeaseUntil.Equal(claimAt.Add(30*time.Second)) {
				t.Errorf("claimed %s: state %s owner %s until %v", d.ID, d.State, d.LeaseOwner, d.LeaseUntil)
			}
			if d.Source != "lago" || d.Parts.Text == "" {
				t.Errorf("claimed %s without its content: %+v", d.ID, d)
			}
		}
		if got, err := s.Claim(ctxT(t), "b", claimAt, 30*time.Second, 100); err != nil || len(got) != 0 {
			t.Fatalf("second claim = %v, %v; want nothing", ids(got), err)
		}
		wantState(t, s, live.ID, StateInFlight)
		wantState(t, s, dead.ID, StateDead)

		// An hour later the retry is due, and the leases taken above have
		// expired.
		got, err = s.Claim(ctxT(t), "b", now.Add(time.Hour), 30*time.Second, 100)
		if err != nil {
			t.Fatal(err)
		}
		if want := sorted(due.ID, expired.ID, live.ID, later.ID); !slices.Equal(ids(got), want) {
			t.Fatalf("claimed %v, want %v", ids(got), want)
		}

		// The limit holds.
		for range 5 {
			enqueue(t, s, "", newDelivery("r", "c"))
		}
		got, err = s.Claim(ctxT(t), "c", now.Add(2*time.Hour), time.Minute, 3)
		if err != nil || len(got) != 3 {
			t.Fatalf("Claim(limit 3) = %d deliveries, %v", len(got), err)
		}
	})
}

func TestConcurrentClaimersNeverShare(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		// Two stores on one database stand for two replicas.
		s1, s2 := openT(t, o), openT(t, o)
		const total = 300
		var all []RoutedDelivery
		for range total / 10 {
			batch := make([]RoutedDelivery, 10)
			for i := range batch {
				batch[i] = newDelivery("r", "c")
			}
			enqueue(t, s1, "", batch...)
			all = append(all, batch...)
		}
		var (
			mu      sync.Mutex
			claimed = map[string]string{}
			dupes   []string
			wg      sync.WaitGroup
		)
		for w := range 16 {
			s := s1
			if w%2 == 1 {
				s = s2
			}
			owner := "replica-" + string(rune('a'+w))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					got, err := s.Claim(ctxT(t), owner, time.Now(), time.Hour, 7)
					if err != nil {
						t.Errorf("Claim: %v", err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, d := range got {
						if prev, ok := claimed[d.ID]; ok {
							dupes = append(dupes, d.ID+" by "+prev+" and "+owner)
						}
						claimed[d.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(dupes) > 0 {
			t.Fatalf("deliveries claimed twice: %v", dupes)
		}
		if len(claimed) != total {
			t.Fatalf("%d deliveries claimed, want %d", len(claimed), total)
		}
		for _, d := range all {
			got := wantState(t, s2, d.ID, StateInFlight)
			if got.LeaseOwner != claimed[d.ID] {
				t.Errorf("%s: lease owner %s, claimed by %s", d.ID, got.LeaseOwner, claimed[d.ID])
			}
		}
	})
}

func TestFinish(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		now := clk.Now()
		started := now.Add(-1500 * time.Millisecond)
		attempt := func(outcome, err string) *Attempt {
			return &Attempt{Owner: "a", StartedAt: started, Duration: 1234 * time.Microsecond, Outcome: outcome, Error: err}
		}
		// RetryAt with nanoseconds: the store must round it up, never down.
		retryAt := now.Add(2*time.Second + 1)

		tests := []struct {
			name        string
			out         Outcome
			state       string
			attempts    int
			lastError   string
			next        time.Time
			delivered   bool
			historyWant string
		}{
			{name: "delivered", out: Outcome{Result: ResultDelivered, Attempt: attempt("success", "")},
				state: StateDelivered, attempts: 1, next: now, delivered: true, historyWant: "success"},
			{name: "retry", out: Outcome{Result: ResultRetry, RetryAt: retryAt, Error: "unexpected status 503",
				Attempt: attempt("retry", "unexpected status 503")},
				state: StatePending, attempts: 1, lastError: "unexpected status 503",
				next: now.Add(2*time.Second + time.Microsecond), historyWant: "retry"},
			{name: "dead", out: Outcome{Result: ResultDead, Error: "unexpected status 404",
				Attempt: attempt("permanent", "unexpected status 404")},
				state: StateDead, attempts: 1, lastError: "unexpected status 404", next: now, historyWant: "permanent"},
			{name: "dead without attempt", out: Outcome{Result: ResultDead,
				Error: `channel "crm" is not configured`},
				state: StateDead, attempts: 0, lastError: `channel "crm" is not configured`, next: now},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				d := newDelivery("r", "c")
				d.LeaseUntil = now.Add(time.Minute)
				enqueue(t, s, "a", d)
				tt.out.ID, tt.out.Owner = d.ID, "a"
				lost, err := s.Finish(ctxT(t), []Outcome{tt.out})
				if err != nil || len(lost) != 0 {
					t.Fatalf("Finish = lost %v, %v", lost, err)
				}
				got, history := get(t, s, d.ID)
				if got.State != tt.state || got.Attempts != tt.attempts || got.LastError != tt.lastError ||
					!got.NextAttemptAt.Equal(tt.next) || got.LeaseOwner != "" || !got.LeaseUntil.IsZero() {
					t.Errorf("got %s attempts %d error %q next %v owner %q until %v",
						got.State, got.Attempts, got.LastError, got.NextAttemptAt, got.LeaseOwner, got.LeaseUntil)
				}
				if (got.DeliveredAt != nil) != tt.delivered || (tt.delivered && !got.DeliveredAt.Equal(now)) {
					t.Errorf("DeliveredAt = %v", got.DeliveredAt)
				}
				if tt.historyWant == "" {
					if len(history) != 0 {
						t.Errorf("history %+v, want none", history)
					}
					return
				}
				want := Attempt{No: 1, Owner: "a", StartedAt: started, Duration: 1234 * time.Microsecond,
					Outcome: tt.historyWant, Error: tt.out.Attempt.Error}
				if len(history) != 1 || history[0] != want {
					t.Errorf("history %+v, want [%+v]", history, want)
				}
			})
		}
	})
}

func TestFinishWithStaleOwnerChangesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		now := clk.Now()
		d := newDelivery("r", "c")
		d.LeaseUntil = now.Add(time.Second)
		enqueue(t, s, "a", d)
		// a's lease expires; b claims the delivery and delivers it.
		got, err := s.Claim(ctxT(t), "b", now.Add(2*time.Second), time.Minute, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("Claim = %v, %v", ids(got), err)
		}
		// a, late, reports a failure; its outcome must be dropped.
		other := newDelivery("r", "c")
		other.LeaseUntil = now.Add(time.Minute)
		enqueue(t, s, "a", other)
		lost, err := s.Finish(ctxT(t), []Outcome{
			{ID: d.ID, Owner: "a", Result: ResultDead, Error: "stale", Attempt: &Attempt{Outcome: "permanent", StartedAt: now}},
			{ID: other.ID, Owner: "a", Result: ResultDelivered, Attempt: &Attempt{Outcome: "success", StartedAt: now}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(lost, []string{d.ID}) {
			t.Fatalf("lost = %v, want [%s]", lost, d.ID)
		}
		cur, history := get(t, s, d.ID)
		if cur.State != StateInFlight || cur.LeaseOwner != "b" || cur.LastError != "" || cur.Attempts != 0 || len(history) != 0 {
			t.Fatalf("stale outcome overwrote b's lease: %+v %+v", cur, history)
		}
		wantState(t, s, other.ID, StateDelivered)
		// b's own outcome goes through.
		if lost, err := s.Finish(ctxT(t), []Outcome{{ID: d.ID, Owner: "b", Result: ResultDelivered,
			Attempt: &Attempt{Outcome: "success", StartedAt: now}}}); err != nil || len(lost) != 0 {
			t.Fatalf("Finish(b) = %v, %v", lost, err)
		}
		wantState(t, s, d.ID, StateDelivered)
		// A second report for a finished delivery is lost too.
		if lost, _ := s.Finish(ctxT(t), []Outcome{{ID: d.ID, Owner: "b", Result: ResultDead}}); len(lost) != 1 {
			t.Fatalf("Finish on a delivered delivery applied")
		}
		if _, err := s.Finish(ctxT(t), []Outcome{{ID: d.ID, Owner: "b", Result: "maybe"}}); err == nil {
			t.Fatal("Finish accepted an unknown result")
		}
	})
}

func TestReleaseAndRenew(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		now := clk.Now()
		lease := func() RoutedDelivery {
			d := newDelivery("r", "c")
			d.LeaseUntil = now.Add(time.Minute)
			return d
		}
		a1, a2, a3, b1 := lease(), lease(), lease(), lease()
		enqueue(t, s, "a", a1, a2, a3)
		enqueue(t, s, "b", b1)

		tests := []struct {
			name    string
			do      func() (int, error)
			want    int
			pending []string
		}{
			{name: "by id", do: func() (int, error) { return s.Release(ctxT(t), "a", a1.ID, b1.ID) },
				want: 1, pending: []string{a1.ID}},
			{name: "not owner", do: func() (int, error) { return s.Release(ctxT(t), "c", a2.ID) },
				want: 0},
			{name: "all of an owner", do: func() (int, error) { return s.Release(ctxT(t), "a") },
				want: 2, pending: []string{a2.ID, a3.ID}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				clk.Add(time.Second)
				n, err := tt.do()
				if err != nil || n != tt.want {
					t.Fatalf("Release = %d, %v; want %d", n, err, tt.want)
				}
				for _, id := range tt.pending {
					d := wantState(t, s, id, StatePending)
					if d.LeaseOwner != "" || !d.NextAttemptAt.Equal(clk.Now()) || d.Attempts != 0 {
						t.Errorf("released %s: owner %q next %v attempts %d", id, d.LeaseOwner, d.NextAttemptAt, d.Attempts)
					}
				}
			})
		}
		wantState(t, s, b1.ID, StateInFlight)

		until := now.Add(time.Hour)
		renewed, err := s.Renew(ctxT(t), "b", until, []string{b1.ID, a1.ID, "dlv_missing"})
		if err != nil || !slices.Equal(renewed, []string{b1.ID}) {
			t.Fatalf("Renew = %v, %v; want only %s", renewed, err, b1.ID)
		}
		if d := wantState(t, s, b1.ID, StateInFlight); !d.LeaseUntil.Equal(until) {
			t.Fatalf("lease until %v, want %v", d.LeaseUntil, until)
		}
	})
}

func TestReplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		now := clk.Now()
		finish := func(result string) RoutedDelivery {
			d := newDelivery("r", "c")
			d.LeaseUntil = now.Add(time.Minute)
			enqueue(t, s, "a", d)
			if _, err := s.Finish(ctxT(t), []Outcome{{ID: d.ID, Owner: "a", Result: result, Error: "boom",
				RetryAt: now.Add(time.Hour), Attempt: &Attempt{Outcome: "x", StartedAt: now}}}); err != nil {
				t.Fatal(err)
			}
			return d
		}
		dead1, dead2, delivered, retrying := finish(ResultDead), finish(ResultDead), finish(ResultDelivered), finish(ResultRetry)
		rendered := newDelivery("r", "c")
		rendered.DeadError = "render failed"
		enqueue(t, s, "a", rendered)
		// A dead letter whose template failed holds nothing to send.
		unrendered := newDelivery("r", "c")
		unrendered.Parts, unrendered.DeadError = notifiers.Parts{}, "render body: required: x is required"
		enqueue(t, s, "a", unrendered)

		clk.Add(time.Minute)
		n, err := s.Replay(ctxT(t), []string{dead1.ID, delivered.ID, retrying.ID, unrendered.ID, "dlv_missing"})
		if err != nil || n != 2 {
			t.Fatalf("Replay = %d, %v; want 2 (the pending, never-rendered and unknown ones are skipped)", n, err)
		}
		for _, id := range []string{dead1.ID, delivered.ID} {
			d, history := get(t, s, id)
			if d.State != StatePending || !d.NextAttemptAt.Equal(clk.Now()) || !d.QueuedAt.Equal(clk.Now()) ||
				d.Attempts != 1 || d.QueuedAttempts != 1 || d.DeliveredAt != nil || len(history) != 1 {
				t.Errorf("replayed %s: %+v, history %v", id, d, history)
			}
		}
		if d := wantState(t, s, retrying.ID, StatePending); !d.NextAttemptAt.Equal(now.Add(time.Hour)) {
			t.Errorf("replay moved a pending retry to %v", d.NextAttemptAt)
		}

		res, err := s.ReplayMatching(ctxT(t), ReplayFilter{})
		if err != nil || res.Replayed != 2 || len(res.Failed) != 1 || res.Failed[0].ID != unrendered.ID ||
			!strings.Contains(res.Failed[0].Error, "never rendered") {
			t.Fatalf("ReplayMatching = %+v, %v; want 2 (%s and the render failure with parts), the never-rendered one left dead", res, err, dead2.ID)
		}
		wantState(t, s, unrendered.ID, StateDead)
		wantState(t, s, dead2.ID, StatePending)
		if d := wantState(t, s, rendered.ID, StatePending); d.LastError != "render failed" {
			t.Errorf("replay dropped the last error: %q", d.LastError)
		}
		// The replayed deliveries are claimable at once; a second attempt is
		// numbered 2 in the history.
		got, err := s.Claim(ctxT(t), "b", clk.Now(), time.Minute, 100)
		if err != nil || len(got) != 4 {
			t.Fatalf("Claim after replay = %v, %v", ids(got), err)
		}
		if _, err := s.Finish(ctxT(t), []Outcome{{ID: dead1.ID, Owner: "b", Result: ResultDelivered,
			Attempt: &Attempt{Outcome: "success", StartedAt: clk.Now()}}}); err != nil {
			t.Fatal(err)
		}
		_, history := get(t, s, dead1.ID)
		if len(history) != 2 || history[0].No != 1 || history[1].No != 2 || history[1].Owner != "b" {
			t.Fatalf("history after replay: %+v", history)
		}
	})
}

func TestListAndStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		s := openT(t, o)
		start := clk.Now()
		var all []string // oldest first
		add := func(rule string, dead bool) string {
			d := newDelivery(rule, "c")
			if dead {
				d.DeadError = "render failed"
			}
			enqueue(t, s, "", d)
			clk.Add(time.Second)
			all = append(all, d.ID)
			return d.ID
		}
		add("a", false)
		add("b", true)
		add("a", true)
		add("b", false)
		add("a", false)
		if _, err := s.Claim(ctxT(t), "x", start.Add(500*time.Millisecond), time.Minute, 1); err != nil {
			t.Fatal(err)
		}
		rev := slices.Clone(all)
		slices.Reverse(rev)

		tests := []struct {
			name string
			f    Filter
			want []string
		}{
			{name: "all newest first", f: Filter{}, want: rev},
			{name: "status", f: Filter{Status: StateDead}, want: []string{all[2], all[1]}},
			{name: "rule", f: Filter{Rule: "a"}, want: []string{all[4], all[2], all[0]}},
			{name: "status and rule", f: Filter{Status: StatePending, Rule: "a"}, want: []string{all[4]}},
			{name: "in flight", f: Filter{Status: StateInFlight}, want: []string{all[0]}},
			{name: "limit", f: Filter{Limit: 2}, want: rev[:2]},
			{name: "nothing", f: Filter{Rule: "zzz"}, want: nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.List(ctxT(t), tt.f)
				if err != nil {
					t.Fatal(err)
				}
				var gotIDs []string
				for _, d := range got {
					gotIDs = append(gotIDs, d.ID)
				}
				if !slices.Equal(gotIDs, tt.want) {
					t.Fatalf("List(%+v) = %v, want %v", tt.f, gotIDs, tt.want)
				}
			})
		}

		st, err := s.Stats(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{StatePending: 2, StateInFlight: 1, StateDead: 2, StateDelivered: 0}
		for state, n := range want {
			if st.ByState[state] != n {
				t.Errorf("Stats[%s] = %d, want %d (%v)", state, st.ByState[state], n, st.ByState)
			}
		}
		// The oldest unfinished delivery is the first one, queued at start.
		if want := clk.Now().Sub(start); st.OldestPending != want {
			t.Errorf("OldestPending = %v, want %v", st.OldestPending, want)
		}
	})
}

func TestSweep(t *testing.T) {
	eachBackend(t, func(t *testing.T, o Options) {
		clk := newClock()
		o.Now = clk.Now
		o.Retention = Retention{Delivered: 7 * 24 * time.Hour, Dead: 30 * 24 * time.Hour, Messages: 7 * 24 * time.Hour}
		s := openT(t, o)
		day := 24 * time.Hour

		// finished stores a message with one delivery finished with result
		// at the current time; with result "" it stays pending.
		finished := func(result string) (msg, dlv string) {
			d := newDelivery("r", "c")
			if result != "" {
				d.LeaseUntil = clk.Now().Add(time.Minute)
			}
			m := enqueue(t, s, "a", d)
			if result != "" {
				if _, err := s.Finish(ctxT(t), []Outcome{{ID: d.ID, Owner: "a", Result: result,
					Attempt: &Attempt{Outcome: "x", StartedAt: clk.Now()}}}); err != nil {
					t.Fatal(err)
				}
			}
			return m.ID, d.ID
		}
		bare := func() string { return enqueue(t, s, "a").ID } // matched no rule

		oldMsgDelivered, oldDelivered := finished(ResultDelivered) // day 0
		oldMsgDead, oldDead := finished(ResultDead)
		oldBare := bare()
		oldMsgPending, oldPending := finished("")
		clk.Add(2 * day)
		newMsgDelivered, newDelivered := finished(ResultDelivered) // day 2
		newBare := bare()
		clk.Add(6*day + time.Hour) // day 8: 7 days after day 0 passed, not after day 2

		n, err := s.Sweep(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		// oldDelivered and its message, oldBare.
		if n != 3 {
			t.Errorf("Sweep deleted %d rows, want 3", n)
		}
		exists := func(table, id string) bool {
			var c int
			if err := s.r.QueryRowContext(ctxT(t), "SELECT count(*) FROM "+table+" WHERE id = $1", id).Scan(&c); err != nil {
				t.Fatal(err)
			}
			return c == 1
		}
		tests := []struct {
			name, table, id string
			kept            bool
		}{
			{"delivered 8 days ago", "deliveries", oldDelivered, false},
			{"its message", "messages", oldMsgDelivered, false},
			{"message without deliveries, 8 days old", "messages", oldBare, false},
			{"dead 8 days ago", "deliveries", oldDead, true},
			{"message of a dead delivery", "messages", oldMsgDead, true},
			{"pending 8 days", "deliveries", oldPending, true},
			{"message of a pending delivery", "messages", oldMsgPending, true},
			{"delivered 6 days ago", "deliveries", newDelivered, true},
			{"its message, 6 days old", "messages", newMsgDelivered, true},
			{"message without deliveries, 6 days old", "messages", newBare, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := exists(tt.table, tt.id); got != tt.kept {
					t.Errorf("%s %s kept = %v, want %v", tt.table, tt.id, got, tt.kept)
				}
			})
		}
		var attempts int
		if err := s.r.QueryRowContext(ctxT(t), "SELECT count(*) FROM attempts WHERE delivery_id = $1",
			oldDelivered).Scan(&attempts); err != nil || attempts != 0 {
			t.Errorf("attempts of a swept delivery: %d, %v", attempts, err)
		}

		// Day 31: the dead letter goes, then its message.
		clk.Add(23 * day)
		if _, err := s.Sweep(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if exists("deliveries", oldDead) || exists("messages", oldMsgDead) {
			t.Error("dead letter older than 30 days kept")
		}
		if !exists("deliveries", oldPending) {
			t.Error("a pending delivery was swept")
		}
	})
}

func TestAttemptJSON(t *testing.T) {
	a := Attempt{No: 2, Owner: "a", StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 1500 * time.Microsecond, Outcome: "retry", Error: "unexpected status 503"}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"attempt":2,"owner":"a","started_at":"2025-01-02T03:04:05Z","outcome":"retry","error":"unexpected status 503","duration_ms":1.5}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if strings.Contains(string(b), "Duration") {
		t.Fatal("raw Duration field leaked into JSON")
	}
}
