// Package schedule computes quiet hours: the periods, in a time zone's
// wall-clock time, during which notifications are held or dropped.
//
// A schedule is a list of entries; a moment is quiet when any entry covers
// it. Entries are:
//
//   - days: "Sat", "Sat-Sun", "Fri-Mon" (ranges wrap around the week) —
//     those whole days;
//   - a time range: "20:00-08:00" (24-hour clock; a range whose end is not
//     after its start crosses midnight; "00:00-24:00" is the whole day) —
//     that range every day;
//   - both: "Mon-Fri 20:00-08:00" — the range on those days; a range that
//     crosses midnight belongs to the day it starts on.
//
// Day names are Mon Tue Wed Thu Fri Sat Sun or in full, in any case.
// Wall-clock times follow the time zone's rules, so the night of a DST
// change is an hour shorter or longer, and a period that starts or ends at
// a time that does not exist that night starts or ends at the first
// instant after the gap.
package schedule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones on systems without a zoneinfo database
)

// Mode says what happens to notifications during quiet hours.
type Mode string

// Modes.
const (
	// Hold delivers them when the quiet period ends.
	Hold Mode = "hold"
	// Drop only records and counts them.
	Drop Mode = "drop"
)

// Error is a problem with a schedule: Field is "timezone", "quiet" or
// "during_quiet"; Index is the bad entry of quiet, or -1.
type Error struct {
	Field string
	Index int
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "quiet" && e.Index >= 0 {
		return fmt.Sprintf("quiet[%d]: %s", e.Index, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

// entry is one parsed quiet entry: days is a bitmask of weekdays (bit
// time.Sunday…); from and to are minutes after midnight, to may exceed
// 1440 for ranges crossing midnight. A days-only entry is 0–1440.
type entry struct {
	days     uint8
	from, to int
}

// Schedule is a compiled schedule. It is immutable.
type Schedule struct {
	loc     *time.Location
	entries []entry
	mode    Mode
	text    string
}

const allDays = 1<<7 - 1

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"tues": time.Tuesday, "thur": time.Thursday, "thurs": time.Thursday,
}

// Errors is every problem Parse found.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Parse validates and compiles a schedule. timezone "" is UTC and
// duringQuiet "" is hold. Its error is an Errors listing every problem.
func Parse(timezone string, quiet []string, duringQuiet string) (*Schedule, error) {
	s := &Schedule{loc: time.UTC, mode: Hold}
	var errs Errors
	if timezone != "" {
		loc, err := time.LoadLocation(timezone)
		if err != nil || strings.EqualFold(timezone, "local") {
			errs = append(errs, &Error{Field: "timezone", Index: -1,
				Msg: fmt.Sprintf("unknown time zone %q (use an IANA name such as Europe/Paris or America/New_York)", timezone)})
		} else {
			s.loc = loc
		}
	}
	switch Mode(strings.ToLower(strings.TrimSpace(duringQuiet))) {
	case "", Hold:
	case Drop:
		s.mode = Drop
	default:
		errs = append(errs, &Error{Field: "during_quiet", Index: -1, Msg: fmt.Sprintf("%q: use hold or drop", duringQuiet)})
	}
	if len(quiet) == 0 {
		errs = append(errs, &Error{Field: "quiet", Index: -1, Msg: `quiet needs at least one entry, e.g. ["Sat-Sun", "20:00-08:00"]`})
	}
	for i, q := range quiet {
		e, err := parseEntry(q)
		if err != nil {
			errs = append(errs, &Error{Field: "quiet", Index: i, Msg: err.Error()})
			continue
		}
		s.entries = append(s.entries, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if s.alwaysQuiet() {
		return nil, Errors{{Field: "quiet", Index: -1, Msg: "every moment is quiet; the notifications would never go out"}}
	}
	s.text = strings.Join(quiet, ", ")
	if timezone != "" {
		s.text += " (" + timezone + ")"
	} else {
		s.text += " (UTC)"
	}
	return s, nil
}

const expected = `expected days ("Sat-Sun"), a time range ("20:00-08:00") or both ("Mon-Fri 20:00-08:00")`

func parseEntry(q string) (entry, error) {
	fields := strings.Fields(q)
	e := entry{days: allDays, from: 0, to: 1440}
	switch len(fields) {
	case 1:
		if strings.Contains(fields[0], ":") {
			from, to, err := parseTimes(fields[0])
			if err != nil {
				return e, err
			}
			e.from, e.to = from, to
			return e, nil
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return e, err
		}
		e.days = days
		return e, nil
	case 2:
		days, err := parseDays(fields[0])
		if err != nil {
			return e, err
		}
		from, to, err := parseTimes(fields[1])
		if err != nil {
			return e, err
		}
		e.days, e.from, e.to = days, from, to
		return e, nil
	}
	return e, fmt.Errorf("%q: %s", q, expected)
}

func parseDays(s string) (uint8, error) {
	a, b, isRange := strings.Cut(s, "-")
	first, ok := dayNames[strings.ToLower(a)]
	if !ok {
		return 0, fmt.Errorf("%q is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun); %s", a, expected)
	}
	last := first
	if isRange {
		if last, ok = dayNames[strings.ToLower(b)]; !ok {
			return 0, fmt.Errorf("%q is not a day (use Mon, Tue, Wed, Thu, Fri, Sat, Sun); %s", b, expected)
		}
	}
	var mask uint8
	for d := first; ; d = (d + 1) % 7 {
		mask |= 1 << d
		if d == last {
			break
		}
	}
	return mask, nil
}

func parseTimes(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: a time range needs a start and an end, e.g. 20:00-08:00", s)
	}
	if from, err = parseClock(a, false); err != nil {
		return 0, 0, err
	}
	if to, err = parseClock(b, true); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("%q: the range is empty (start and end are the same)", s)
	}
	if to <= from {
		to += 1440 // crosses midnight
	}
	return from, to, nil
}

func parseClock(s string, end bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || mm < 0 || mm > 59 || hh < 0 || hh > 24 ||
		hh == 24 && (mm != 0 || !end) {
		return 0, fmt.Errorf("%q is not a time of day (use HH:MM, 00:00 to 24:00)", s)
	}
	return hh*60 + mm, nil
}

// alwaysQuiet reports whether the entries cover the whole week.
func (s *Schedule) alwaysQuiet() bool {
	// Minute by minute over a week of wall-clock minutes: 10,080 checks,
	// once, at load.
	for d := range 7 {
		for m := 0; m < 1440; m++ {
			if !s.covers(time.Weekday(d), m) {
				return false
			}
		}
	}
	return true
}

// covers reports whether wall-clock minute m of weekday d is quiet.
func (s *Schedule) covers(d time.Weekday, m int) bool {
	prev := (d + 6) % 7
	for _, e := range s.entries {
		if e.days&(1<<d) != 0 && m >= e.from && m < min(e.to, 1440) {
			return true
		}
		// The part after midnight of a range that started the day before.
		if e.to > 1440 && e.days&(1<<prev) != 0 && m < e.to-1440 {
			return true
		}
	}
	return false
}

// Mode is what happens during quiet hours.
func (s *Schedule) Mode() Mode { return s.mode }

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// String summarises the schedule: "Sat-Sun, 20:00-08:00 (Europe/Paris)".
func (s *Schedule) String() string { return s.text }

// Quiet reports whether t is quiet and, if so, when the quiet period that
// contains it ends: the first instant at or after t that no entry covers.
// Adjacent and overlapping entries merge.
func (s *Schedule) Quiet(t time.Time) (quiet bool, until time.Time) {
	lt := t.In(s.loc)
	y, mo, d := lt.Date()
	type span struct{ from, to time.Time }
	var spans []span
	// The periods of the day before (one may cross midnight into t's day)
	// to a week and a day after: a schedule that is not always quiet has
	// a gap within any week.
	for day := -1; day <= 8; day++ {
		date := time.Date(y, mo, d+day, 12, 0, 0, 0, s.loc)
		wd := date.Weekday()
		for _, e := range s.entries {
			if e.days&(1<<wd) == 0 {
				continue
			}
			from := wallTime(date.Year(), date.Month(), date.Day(), e.from, s.loc)
			to := wallTime(date.Year(), date.Month(), date.Day(), e.to, s.loc)
			if to.After(from) {
				spans = append(spans, span{from, to})
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	end := time.Time{}
	for _, sp := range spans {
		switch {
		case end.IsZero():
			if !sp.from.After(t) && sp.to.After(t) {
				end = sp.to
			}
		case !sp.from.After(end):
			if sp.to.After(end) {
				end = sp.to
			}
		}
	}
	if end.IsZero() {
		return false, time.Time{}
	}
	return true, end
}

// wallTime is the instant of wall-clock minute m (0 to 2880) of a day in
// loc. A wall time that does not exist (the gap of a DST change) becomes
// the first instant after the gap.
func wallTime(y int, mo time.Month, d, m int, loc *time.Location) time.Time {
	t := time.Date(y, mo, d, 0, m, 0, 0, loc)
	want := time.Date(y, mo, d, 0, m, 0, 0, time.UTC)
	got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
	switch {
	case got.Equal(want):
		return t
	case got.After(want):
		start, _ := t.ZoneBounds()
		return start
	default:
		_, end := t.ZoneBounds()
		return end
	}
}
