package store

import (
	"testing"
	"time"
)

func TestCountDeadMatchesReplay(t *testing.T) {
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
		if _, err := s.Enqueue(ctx, message("lago", ""), "", []RoutedDelivery{dead("r1", "crm")}); err != nil {
			t.Fatal(err)
		}
		clock.Add(3 * time.Hour)
		if _, err := s.Enqueue(ctx, message("lago", ""), "", []RoutedDelivery{dead("r1", "crm"), dead("r2", "crm"), dead("r1", "slack"), newDelivery("r1", "crm")}); err != nil {
			t.Fatal(err)
		}
		recent := clock.Now().Add(-2 * time.Hour)
		for _, c := range []struct {
			f    ReplayFilter
			want int
		}{
			{ReplayFilter{}, 4},
			{ReplayFilter{Channel: "crm"}, 3},
			{ReplayFilter{Rule: "r1"}, 3},
			{ReplayFilter{Since: recent}, 3},
			{ReplayFilter{Channel: "crm", Rule: "r1", Since: recent}, 1},
		} {
			n, err := s.CountDead(ctx, c.f)
			if err != nil || n != c.want {
				t.Errorf("CountDead(%+v) = %d, %v; want %d", c.f, n, err, c.want)
			}
		}
		res, err := s.ReplayMatching(ctx, ReplayFilter{Channel: "crm", Rule: "r1", Since: recent})
		if err != nil || res.Replayed != 1 {
			t.Fatalf("ReplayMatching = %+v, %v", res, err)
		}
		if n, _ := s.CountDead(ctx, ReplayFilter{Channel: "crm"}); n != 2 {
			t.Errorf("after the replay CountDead(crm) = %d, want 2", n)
		}
	})
}
