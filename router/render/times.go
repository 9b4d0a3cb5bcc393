package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// parseTime reads a point in time: a time.Time, a Lago ISO-8601 timestamp
// ("2024-03-05T12:34:56Z", with fractional seconds or an offset; without a
// zone it is UTC), a date ("2024-03-05", midnight UTC) or a number of Unix
// seconds. ok is false for nil and "".
func parseTime(v any) (t time.Time, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return x, true, nil
	case *time.Time:
		if x == nil {
			return time.Time{}, false, nil
		}
		return *x, true, nil
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return unixSeconds(f), true, nil
		}
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String {
		s := strings.TrimSpace(rv.String())
		if s == "" {
			return time.Time{}, false, nil
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true, nil
			}
		}
		return time.Time{}, false, fmt.Errorf("cannot read %q as an ISO-8601 timestamp", s)
	}
	if f, isNum := toFloat(v, false); isNum {
		return unixSeconds(f), true, nil
	}
	return time.Time{}, false, fmt.Errorf("cannot read %s as a timestamp", withArticle(describe(v)))
}

func unixSeconds(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}

// elapsed returns the function behind hours_since (unit time.Hour, since
// true) and its siblings: whole units between the timestamp and now,
// truncated toward zero; nil for a missing timestamp.
func elapsed(now func() time.Time, unit time.Duration, since bool) func(any) (any, error) {
	return func(v any) (any, error) {
		t, ok, err := parseTime(v)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		d := now().Sub(t)
		if !since {
			d = -d
		}
		return int(d / unit), nil
	}
}

// dateFuncs are the date helpers. Unlike Sprig's, they read Lago's
// timestamp strings, print a missing date as "" (never the current time),
// format in UTC unless told a zone, and take now from Options.
func dateFuncs(o Options) map[string]any {
	inZone := func(layout string, v any, zone string) (string, error) {
		t, ok, err := parseTime(v)
		if err != nil || !ok {
			return "", err
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return "", fmt.Errorf("unknown time zone %q", zone)
		}
		return t.In(loc).Format(layout), nil
	}
	toDate := func(layout, s any) (time.Time, error) {
		str := formatValue(s)
		if str == "" {
			return time.Time{}, errors.New("empty date")
		}
		return time.ParseInLocation(formatValue(layout), str, time.UTC)
	}
	return map[string]any{
		"now": func() time.Time { return o.Now().UTC() },
		"ago": func(v any) (string, error) {
			t, ok, err := parseTime(v)
			if err != nil || !ok {
				return "", err
			}
			return o.Now().Sub(t).Round(time.Second).String(), nil
		},
		"date": func(layout string, v any) (string, error) { return inZone(layout, v, "UTC") },
		"dateInZone": func(layout string, v any, zone string) (string, error) {
			return inZone(layout, v, zone)
		},
		"htmlDate": func(v any) (string, error) { return inZone("2006-01-02", v, "UTC") },
		"htmlDateInZone": func(v any, zone string) (string, error) {
			return inZone("2006-01-02", v, zone)
		},
		"toDate": func(layout, s any) time.Time {
			t, _ := toDate(layout, s)
			return t
		},
		"mustToDate": toDate,
		"dateModify": func(mod string, v any) (any, error) {
			t, ok, err := parseTime(v)
			if err != nil || !ok {
				return nil, err
			}
			d, err := time.ParseDuration(mod)
			if err != nil {
				return nil, err
			}
			return t.Add(d), nil
		},
		"unixEpoch": func(v any) (string, error) {
			t, ok, err := parseTime(v)
			if err != nil || !ok {
				return "", err
			}
			return fmt.Sprint(t.Unix()), nil
		},
		"duration": func(v any) (string, error) {
			d, ok, err := toDuration(v)
			if err != nil || !ok {
				return "", err
			}
			return d.String(), nil
		},
		"durationRound": func(v any) (string, error) {
			d, ok, err := toDuration(v)
			if err != nil {
				// A point in time: the duration since then.
				t, isTime, terr := parseTime(v)
				if terr != nil || !isTime {
					return "", err
				}
				d, ok = o.Now().Sub(t), true
			}
			if !ok {
				return "", nil
			}
			return roundDuration(d), nil
		},
		"hours_since": elapsed(o.Now, time.Hour, true),
		"hours_until": elapsed(o.Now, time.Hour, false),
		"days_since":  elapsed(o.Now, 24*time.Hour, true),
		"days_until":  elapsed(o.Now, 24*time.Hour, false),
	}
}

// toDuration reads a duration: a number of seconds (JSON numbers are
// float64), a string of seconds ("90") or a Go duration ("1h30m"), or a
// time.Duration. ok is false for nil and "".
func toDuration(v any) (d time.Duration, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case time.Duration:
		return x, true, nil
	case time.Time, *time.Time:
		return 0, false, errors.New("a time is not a duration")
	}
	if f, isNum := toFloat(v, true); isNum {
		if math.IsNaN(f) || math.Abs(f) > math.MaxInt64/float64(time.Second) {
			return 0, false, errors.New("duration out of range")
		}
		return time.Duration(f * float64(time.Second)), true, nil
	}
	s := strings.TrimSpace(formatValue(v))
	if s == "" {
		return 0, false, nil
	}
	d, err = time.ParseDuration(s)
	if err != nil {
		return 0, false, fmt.Errorf("cannot read %q as a duration", s)
	}
	return d, true, nil
}

// roundDuration is Sprig's durationRound: the duration in its largest
// whole unit ("2h", "3d", "1y"), with a sign when negative.
func roundDuration(d time.Duration) string {
	sign := ""
	u := uint64(d)
	if d < 0 {
		sign, u = "-", uint64(-d)
	}
	day := uint64(24 * time.Hour)
	for _, unit := range []struct {
		size uint64
		name string
	}{{365 * day, "y"}, {30 * day, "mo"}, {day, "d"}, {uint64(time.Hour), "h"}, {uint64(time.Minute), "m"}, {uint64(time.Second), "s"}} {
		if u > unit.size {
			return sign + strconv.FormatUint(u/unit.size, 10) + unit.name
		}
	}
	return "0s"
}
