package web

import "testing"

func TestSaveLabel(t *testing.T) {
	rep := func(messages int, changed bool, delta float64) *btReport {
		r := &btReport{Messages: messages, Changed: changed}
		r.Totals.DeltaPerDay = delta
		return r
	}
	for _, c := range []struct {
		rep  *btReport
		want string
	}{
		{rep(100, true, 12), "Save (would add 12 notifications a day)"},
		{rep(100, true, 1), "Save (would add 1 notification a day)"},
		{rep(100, true, 0.4), "Save (would add 0.4 notifications a day)"},
		{rep(100, true, -2.5), "Save (would send 2.5 fewer notifications a day)"},
		{rep(100, true, 0), "Save (same number of notifications, some different)"},
		{rep(100, false, 0), "Save (no change over the last 7 days)"},
		{rep(0, false, 0), "Save (no messages in the last 7 days to compare)"},
	} {
		if got := saveLabel(c.rep); got != c.want {
			t.Errorf("saveLabel(%+v) = %q, want %q", c.rep.Totals, got, c.want)
		}
	}
}
