package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t testing.TB, tz string, quiet ...string) *Schedule {
	t.Helper()
	s, err := Parse(tz, quiet, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, tz, during string
		quiet            []string
		want             []string // field/index: message fragment
	}{
		{"unknown zone", "Mars/Olympus_Mons", "", []string{"Sat"}, []string{`timezone: unknown time zone "Mars/Olympus_Mons"`}},
		{"local is not a zone", "Local", "", []string{"Sat"}, []string{`timezone: unknown time zone "Local"`}},
		{"bad mode", "", "sometimes", []string{"Sat"}, []string{`during_quiet: "sometimes": use hold or drop`}},
		{"no entries", "", "", nil, []string{"quiet: quiet needs at least one entry"}},
		{"bad day", "", "", []string{"Sat", "Funday"}, []string{`quiet[1]: "Funday" is not a day`}},
		{"bad day range end", "", "", []string{"Mon-Fry"}, []string{`quiet[0]: "Fry" is not a day`}},
		{"bad hour", "", "", []string{"25:00-08:00"}, []string{`quiet[0]: "25:00" is not a time of day`}},
		{"bad minutes", "", "", []string{"20:7-08:00"}, []string{`quiet[0]: "20:7" is not a time of day`}},
		{"24:00 starts nothing", "", "", []string{"24:00-08:00"}, []string{`quiet[0]: "24:00" is not a time of day`}},
		{"no end", "", "", []string{"20:00"}, []string{`quiet[0]: "20:00": a time range needs a start and an end`}},
		{"empty range", "", "", []string{"08:00-08:00"}, []string{`quiet[0]: "08:00-08:00": the range is empty`}},
		{"three words", "", "", []string{"Mon to Fri"}, []string{`quiet[0]: "Mon to Fri": expected days`}},
		{"empty entry", "", "", []string{""}, []string{`quiet[0]: "": expected days`}},
		{"always quiet", "", "", []string{"Mon-Fri", "Sat-Sun"}, []string{"every moment is quiet"}},
		{"always quiet by time", "", "", []string{"00:00-24:00"}, []string{"every moment is quiet"}},
		{"every problem at once", "Nowhere/Town", "maybe", []string{"Sat", "99:00-01:00"},
			[]string{"timezone:", "during_quiet:", "quiet[1]:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.tz, tc.quiet, tc.during)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, want Errors", err)
			}
			if len(errs) != len(tc.want) {
				t.Fatalf("%d errors (%v), want %d", len(errs), err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, q := range [][]string{
		{"Sat"}, {"saturday"}, {"SAT-sun"}, {"Fri-Mon"}, {"20:00-08:00"}, {"00:00-23:59"},
		{"Mon-Fri 20:00-08:00"}, {"Sun 00:00-24:00"}, {"Sat-Sun", "20:00-08:00"},
	} {
		s, err := Parse("Europe/Paris", q, "drop")
		if err != nil {
			t.Errorf("Parse(%q) = %v", q, err)
			continue
		}
		if s.Mode() != Drop || s.Location().String() != "Europe/Paris" {
			t.Errorf("Parse(%q): mode %q, location %v", q, s.Mode(), s.Location())
		}
	}
	s := mustParse(t, "", "Sat-Sun", "20:00-08:00")
	if s.Mode() != Hold || s.String() != "Sat-Sun, 20:00-08:00 (UTC)" {
		t.Fatalf("default mode %q, String %q", s.Mode(), s.String())
	}
}

// TestQuiet checks instants against schedules in two time zones, across
// both 2026 DST changes of each: Europe on 29 March and 25 October, the
// United States on 8 March and 1 November.
func TestQuiet(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	ny := mustLoc(t, "America/New_York")
	at := func(loc *time.Location, y int, mo time.Month, d, h, m int) time.Time {
		return time.Date(y, mo, d, h, m, 0, 0, loc)
	}
	never := time.Time{}
	for _, tc := range []struct {
		name    string
		tz      string
		entries []string
		t       time.Time
		quiet   bool
		until   time.Time
	}{
		// Nights, weekends, and the two merged.
		{"weekday evening", "Europe/Paris", []string{"20:00-08:00"}, at(paris, 2026, 11, 18, 21, 0), true, at(paris, 2026, 11, 19, 8, 0)},
		{"start is inclusive", "Europe/Paris", []string{"20:00-08:00"}, at(paris, 2026, 11, 18, 20, 0), true, at(paris, 2026, 11, 19, 8, 0)},
		{"end is exclusive", "Europe/Paris", []string{"20:00-08:00"}, at(paris, 2026, 11, 19, 8, 0), false, never},
		{"just before", "Europe/Paris", []string{"20:00-08:00"}, at(paris, 2026, 11, 18, 19, 59), false, never},
		{"after midnight", "Europe/Paris", []string{"20:00-08:00"}, at(paris, 2026, 11, 19, 3, 0), true, at(paris, 2026, 11, 19, 8, 0)},
		{"weekend and nights merge", "Europe/Paris", []string{"Sat-Sun", "20:00-08:00"}, at(paris, 2026, 11, 20, 21, 0), true, at(paris, 2026, 11, 23, 8, 0)},
		{"saturday noon", "Europe/Paris", []string{"Sat-Sun", "20:00-08:00"}, at(paris, 2026, 11, 21, 12, 0), true, at(paris, 2026, 11, 23, 8, 0)},
		{"monday morning is over", "Europe/Paris", []string{"Sat-Sun", "20:00-08:00"}, at(paris, 2026, 11, 23, 9, 0), false, never},
		{"week wraps", "UTC", []string{"Fri-Mon"}, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), true, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		{"range belongs to its first day", "UTC", []string{"Fri 20:00-08:00"}, time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC), true, time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)},
		{"not on other days", "UTC", []string{"Fri 20:00-08:00"}, time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC), false, never},
		{"whole day by time", "UTC", []string{"Sun 00:00-24:00"}, time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC), true, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{"instant in another zone", "Europe/Paris", []string{"20:00-08:00"}, time.Date(2026, 11, 18, 19, 30, 0, 0, time.UTC), true, at(paris, 2026, 11, 19, 8, 0)},

		// Europe/Paris, spring forward (02:00 → 03:00 on 29 March): the
		// night is an hour shorter; a period ending inside the gap ends at
		// 03:00; one starting inside it starts at 03:00.
		{"paris spring night", "Europe/Paris", []string{"20:00-08:00"}, at(paris, 2026, 3, 28, 20, 0), true, at(paris, 2026, 3, 29, 8, 0)},
		{"paris spring ends in gap", "Europe/Paris", []string{"01:00-02:30"}, at(paris, 2026, 3, 29, 1, 30), true, at(paris, 2026, 3, 29, 3, 0)},
		{"paris spring starts in gap", "Europe/Paris", []string{"02:30-05:00"}, at(paris, 2026, 3, 29, 3, 0), true, at(paris, 2026, 3, 29, 5, 0)},
		{"paris spring before gap start", "Europe/Paris", []string{"02:30-05:00"}, time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC), false, never},
		// Fall back (03:00 → 02:00 on 25 October): the night is an hour longer.
		{"paris autumn night", "Europe/Paris", []string{"20:00-08:00"}, at(paris, 2026, 10, 24, 20, 0), true, at(paris, 2026, 10, 25, 8, 0)},
		{"paris autumn weekend", "Europe/Paris", []string{"Sat-Sun"}, at(paris, 2026, 10, 24, 0, 0), true, at(paris, 2026, 10, 26, 0, 0)},

		// America/New_York, spring forward on 8 March, fall back on 1 November.
		// Sunday night is not covered: a range belongs to the day it starts on.
		{"new york spring weekend", "America/New_York", []string{"Mon-Fri 20:00-08:00", "Sat-Sun"}, at(ny, 2026, 3, 6, 21, 0), true, at(ny, 2026, 3, 9, 0, 0)},
		{"new york spring ends in gap", "America/New_York", []string{"00:30-02:15"}, at(ny, 2026, 3, 8, 1, 0), true, at(ny, 2026, 3, 8, 3, 0)},
		{"new york autumn night", "America/New_York", []string{"22:00-06:00"}, at(ny, 2026, 10, 31, 22, 0), true, at(ny, 2026, 11, 1, 6, 0)},
		{"paris spring is not new york's", "Europe/Paris", []string{"22:00-06:00"}, at(paris, 2026, 3, 8, 22, 0), true, at(paris, 2026, 3, 9, 6, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.tz, tc.entries...)
			quiet, until := s.Quiet(tc.t)
			if quiet != tc.quiet || !until.Equal(tc.until) {
				t.Fatalf("Quiet(%v) = %v, %v; want %v, %v", tc.t, quiet, until, tc.quiet, tc.until)
			}
		})
	}
}

// The nights of DST changes last what the clocks say.
func TestQuietNightLengthAcrossDST(t *testing.T) {
	for _, tc := range []struct {
		tz          string
		night       time.Time // a date whose night crosses a change
		hours       float64
		description string
	}{
		{"Europe/Paris", time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), 11, "spring forward"},
		{"Europe/Paris", time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC), 13, "fall back"},
		{"Europe/Paris", time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), 12, "no change"},
		{"America/New_York", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), 11, "spring forward"},
		{"America/New_York", time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC), 13, "fall back"},
	} {
		loc := mustLoc(t, tc.tz)
		s := mustParse(t, tc.tz, "20:00-08:00")
		start := time.Date(tc.night.Year(), tc.night.Month(), tc.night.Day(), 20, 0, 0, 0, loc)
		_, until := s.Quiet(start)
		if got := until.Sub(start).Hours(); got != tc.hours {
			t.Errorf("%s %s: the night lasts %v h, want %v", tc.tz, tc.description, got, tc.hours)
		}
	}
}

func BenchmarkQuiet(b *testing.B) {
	s := mustParse(b, "Europe/Paris", "Sat-Sun", "Mon-Fri 20:00-08:00")
	t := time.Date(2026, 11, 20, 21, 0, 0, 0, time.UTC)
	for b.Loop() {
		s.Quiet(t)
	}
}
