package store

import (
	"testing"
	"time"
)

func TestRuleStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, base Options) {
		clk := newClock()
		base.Now = clk.Now
		s := openT(t, base)
		start := clk.Now()
		// An old match, outside the window: counts for LastFired only.
		enqueue(t, s, "o", newDelivery("old-rule", "slack"))
		enqueue(t, s, "o", newDelivery("big", "slack"))
		clk.Add(25 * time.Hour)
		since := clk.Now().Add(-24 * time.Hour)
		// One message fanned out to two channels, then a second message.
		enqueue(t, s, "o", newDelivery("big", "slack"), newDelivery("big", "email"))
		last := clk.Add(time.Minute)
		enqueue(t, s, "o", newDelivery("big", "slack"))

		got, err := s.RuleStats(ctxT(t), since)
		if err != nil {
			t.Fatalf("RuleStats: %v", err)
		}
		tests := []struct {
			rule                string
			matches, deliveries int
			last                time.Time
		}{
			{rule: "big", matches: 2, deliveries: 3, last: last},
			{rule: "old-rule", matches: 0, deliveries: 0, last: start},
		}
		for _, tc := range tests {
			t.Run(tc.rule, func(t *testing.T) {
				st, ok := got[tc.rule]
				if !ok {
					t.Fatalf("no stats for %s in %v", tc.rule, got)
				}
				if st.Matches != tc.matches || st.Deliveries != tc.deliveries {
					t.Errorf("matches %d deliveries %d, want %d %d", st.Matches, st.Deliveries, tc.matches, tc.deliveries)
				}
				if !st.LastFired.Equal(tc.last.Truncate(time.Microsecond)) {
					t.Errorf("last fired %v, want %v", st.LastFired, tc.last)
				}
			})
		}
		if _, ok := got["never"]; ok {
			t.Error("a rule with no delivery has stats")
		}
	})
}
