package store

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestShapes(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []int
	}{
		{0, nil}, {1, []int{1}}, {3, []int{2, 1}}, {64, []int{64}}, {37, []int{32, 4, 1}},
		{256, []int{256}}, {300, []int{256, 32, 8, 4}}, {600, []int{256, 256, 64, 16, 8}},
	} {
		if got := shapes(c.n); !slices.Equal(got, c.want) {
			t.Errorf("shapes(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 4, 64: 64, 65: 128, 256: 256, 1000: 256} {
		if got := padShape(n); got != want {
			t.Errorf("padShape(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestStatementsPreparedPerShape enqueues and finishes batches of many
// sizes and checks that the store prepared only the power-of-two shapes of
// its batch statements, and that every row was written.
func TestStatementsPreparedPerShape(t *testing.T) {
	eachBackend(t, func(t *testing.T, base Options) {
		s := openT(t, base)
		var wg sync.WaitGroup
		for range 37 {
			wg.Go(func() { enqueue(t, s, "", newDelivery("r", "c"), newDelivery("r2", "c")) })
		}
		wg.Wait()
		if got := countDeliveries(t, s); got != 74 {
			t.Fatalf("deliveries = %d, want 74", got)
		}
		ds, err := s.Claim(ctxT(t), "w1", s.now(), 30*time.Second, 100)
		if err != nil || len(ds) != 74 {
			t.Fatalf("claim: %d, %v", len(ds), err)
		}
		var outs []Outcome
		for i, d := range ds {
			o := Outcome{ID: d.ID, Owner: "w1", Result: ResultDelivered, Attempt: &Attempt{StartedAt: s.now(), Outcome: "delivered"}}
			if i%3 == 0 {
				o.Result, o.RetryAt, o.Attempt.Outcome, o.Attempt.Error = ResultRetry, s.now(), "failed", "503"
			}
			outs = append(outs, o)
		}
		if lost, err := s.Finish(ctxT(t), outs); err != nil || len(lost) != 0 {
			t.Fatalf("finish: lost %v, %v", lost, err)
		}
		for _, o := range outs {
			want := StateDelivered
			if o.Result == ResultRetry {
				want = StatePending
			}
			d, atts := get(t, s, o.ID)
			if d.State != want || d.Attempts != 1 || len(atts) != 1 {
				t.Fatalf("%s: state %s, attempts %d, %d attempt rows; want %s, 1, 1", o.ID, d.State, d.Attempts, len(atts), want)
			}
		}
		s.stmts.mu.Lock()
		defer s.stmts.mu.Unlock()
		for k := range s.stmts.m {
			if k.rows&(k.rows-1) != 0 || k.rows > maxShape {
				t.Errorf("statement %s prepared for %d rows, not a shape", k.name, k.rows)
			}
		}
		if len(s.stmts.m) == 0 {
			t.Error("no statement prepared")
		}
	})
}

// TestSuccessKeptOnRow checks that a first-try success writes no row of
// attempts yet shows in the history like any attempt, and that failures,
// and a second success after a replay, are rows of attempts, numbered in
// order.
func TestSuccessKeptOnRow(t *testing.T) {
	eachBackend(t, func(t *testing.T, base Options) {
		s := openT(t, base)
		attemptRows := func(id string) int {
			var n int
			if err := s.r.QueryRowContext(ctxT(t), "SELECT count(*) FROM attempts WHERE delivery_id = $1", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		claim := func() {
			if _, err := s.Claim(ctxT(t), "w1", s.now(), 30*time.Second, 10); err != nil {
				t.Fatal(err)
			}
		}
		var started time.Time
		finish := func(id, result, outcome, errText string) {
			t.Helper()
			started = s.now()
			o := Outcome{ID: id, Owner: "w1", Result: result, Error: errText,
				Attempt: &Attempt{StartedAt: started, Duration: 1500 * time.Microsecond, Outcome: outcome, Error: errText}}
			if result == ResultRetry {
				o.RetryAt = s.now()
			}
			if lost, err := s.Finish(ctxT(t), []Outcome{o}); err != nil || len(lost) != 0 {
				t.Fatalf("finish: lost %v, %v", lost, err)
			}
		}

		enqueue(t, s, "", newDelivery("r", "c"))
		ds, err := s.List(ctxT(t), Filter{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("list: %v, %v", ds, err)
		}
		id := ds[0].ID
		claim()
		finish(id, ResultDelivered, "success", "")
		d, atts := get(t, s, id)
		if d.State != StateDelivered || d.Attempts != 1 {
			t.Fatalf("state %s, attempts %d", d.State, d.Attempts)
		}
		if n := attemptRows(id); n != 0 {
			t.Errorf("first-try success wrote %d rows of attempts, want 0", n)
		}
		if len(atts) != 1 || atts[0].No != 1 || atts[0].Owner != "w1" || atts[0].Outcome != "success" ||
			atts[0].Duration != 1500*time.Microsecond || !atts[0].StartedAt.Equal(started.Truncate(time.Microsecond)) || atts[0].Error != "" {
			t.Fatalf("history = %+v", atts)
		}

		// Replayed: a failure, then a second success.
		if n, err := s.Replay(ctxT(t), []string{id}); err != nil || n != 1 {
			t.Fatalf("replay: %d, %v", n, err)
		}
		claim()
		finish(id, ResultRetry, "retry", "status 503")
		claim()
		finish(id, ResultDelivered, "success", "")
		d, atts = get(t, s, id)
		if d.State != StateDelivered || d.Attempts != 3 {
			t.Fatalf("state %s, attempts %d", d.State, d.Attempts)
		}
		if n := attemptRows(id); n != 2 {
			t.Errorf("rows of attempts = %d, want 2 (the failure and the second success)", n)
		}
		var got []string
		for _, a := range atts {
			got = append(got, fmt.Sprintf("%d %s %s", a.No, a.Outcome, a.Error))
		}
		want := []string{"1 success ", "2 retry status 503", "3 success "}
		if !slices.Equal(got, want) {
			t.Errorf("history = %q, want %q", got, want)
		}
	})
}
