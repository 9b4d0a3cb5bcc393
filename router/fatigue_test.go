package router

import (
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/router/schedule"
)

func mustSchedule(t *testing.T, tz, mode string, quiet ...string) *schedule.Schedule {
	t.Helper()
	s, err := schedule.Parse(tz, quiet, mode)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A rule's and a channel's quiet hours combine: hold until neither is
// quiet, drop when a quiet one says drop.
func TestQuietCombines(t *testing.T) {
	nights := mustSchedule(t, "UTC", "hold", "20:00-08:00")
	mornings := mustSchedule(t, "UTC", "hold", "07:00-10:00")
	weekendDrop := mustSchedule(t, "UTC", "drop", "Sat-Sun")
	wed21 := time.Date(2026, 11, 18, 21, 0, 0, 0, time.UTC)
	wed12 := time.Date(2026, 11, 18, 12, 0, 0, 0, time.UTC)
	sat12 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		rule, channel *schedule.Schedule
		at            time.Time
		mode          schedule.Mode
		until         time.Time
	}{
		{"neither", nil, nil, wed21, "", time.Time{}},
		{"not quiet", nights, mornings, wed12, "", time.Time{}},
		{"rule only", nights, nil, wed21, schedule.Hold, time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)},
		{"channel only", nil, nights, wed21, schedule.Hold, time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)},
		// Held by the night until 08:00, when the channel's mornings are
		// quiet until 10:00.
		{"chained", nights, mornings, wed21, schedule.Hold, time.Date(2026, 11, 19, 10, 0, 0, 0, time.UTC)},
		{"drop wins", nights, weekendDrop, sat12, schedule.Drop, time.Time{}},
		{"drop only when quiet", weekendDrop, nil, wed21, "", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode, until, why := Quiet(tc.rule, tc.channel, tc.at)
			if mode != tc.mode || !until.Equal(tc.until) {
				t.Fatalf("Quiet = %q until %v (%s), want %q until %v", mode, until, why, tc.mode, tc.until)
			}
			if mode != "" && why == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		200 * time.Millisecond: "1 second", 30 * time.Second: "30 seconds", 90 * time.Second: "2 minutes",
		5 * time.Minute: "5 minutes", time.Hour: "1 hour", 47 * time.Hour: "47 hours", 72 * time.Hour: "3 days",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
