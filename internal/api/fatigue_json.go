package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/router"
)

// ThrottleJSON is a rule's throttle in the API, with the YAML's keys.
type ThrottleJSON struct {
	Key   string `json:"key,omitempty"`
	Every string `json:"every"`
}

// GroupJSON is a rule's grouping in the API.
type GroupJSON struct {
	By       string `json:"by,omitempty"`
	Wait     string `json:"wait,omitempty"`
	Interval string `json:"interval,omitempty"`
	Max      int    `json:"max,omitempty"`
}

// ScheduleJSON is a rule's quiet hours in the API.
type ScheduleJSON struct {
	Timezone    string   `json:"timezone,omitempty"`
	Quiet       []string `json:"quiet"`
	DuringQuiet string   `json:"during_quiet,omitempty"`
}

func duration(d router.Duration) string {
	if d == 0 {
		return ""
	}
	return router.FormatDuration(time.Duration(d))
}

// setFatigueJSON fills out's throttle, group and schedule from fc.
func setFatigueJSON(out *RuleJSON, fc router.FatigueConfig) {
	if t := fc.Throttle; t != nil {
		out.Throttle = &ThrottleJSON{Key: t.Key, Every: duration(t.Every)}
	}
	if g := fc.Group; g != nil {
		out.Group = &GroupJSON{By: g.By, Wait: duration(g.Wait), Interval: duration(g.Interval), Max: g.Max}
	}
	if s := fc.Schedule; s != nil {
		out.Schedule = &ScheduleJSON{Timezone: s.Timezone, Quiet: s.Quiet, DuringQuiet: s.DuringQuiet}
	}
}

// applyFatigue sets rc's throttle, group and schedule from the input.
// A key the input leaves out keeps old's value (nil old: none), so that a
// client that does not know these keys, like the editor's form, never
// drops them; null removes it.
func (in RuleInput) applyFatigue(rc *router.RuleConfig, old *router.RuleConfig) *httpError {
	var details []ErrorDetail
	fail := func(field, format string, args ...any) {
		details = append(details, ErrorDetail{Rule: rc.Name, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)})
	}
	parseDur := func(field, s string) router.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			fail(field, "%q is not a duration such as 30s, 5m or 6h", s)
		}
		return router.Duration(d)
	}
	absent := func(raw json.RawMessage) bool { return len(bytes.TrimSpace(raw)) == 0 }
	null := func(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

	switch {
	case absent(in.Throttle):
		if old != nil {
			rc.Throttle = old.Throttle
		}
	case null(in.Throttle):
	default:
		var t ThrottleJSON
		if err := json.Unmarshal(in.Throttle, &t); err != nil {
			fail("throttle", "expected {\"key\", \"every\"}")
		} else {
			rc.Throttle = &router.ThrottleConfig{Key: t.Key, Every: parseDur("throttle.every", t.Every)}
		}
	}
	switch {
	case absent(in.Group):
		if old != nil {
			rc.Group = old.Group
		}
	case null(in.Group):
	default:
		var g GroupJSON
		if err := json.Unmarshal(in.Group, &g); err != nil {
			fail("group", "expected {\"by\", \"wait\", \"interval\", \"max\"}")
		} else {
			rc.Group = &router.GroupConfig{By: g.By, Wait: parseDur("group.wait", g.Wait),
				Interval: parseDur("group.interval", g.Interval), Max: g.Max}
		}
	}
	switch {
	case absent(in.Schedule):
		if old != nil {
			rc.Schedule = old.Schedule
		}
	case null(in.Schedule):
	default:
		var s ScheduleJSON
		if err := json.Unmarshal(in.Schedule, &s); err != nil {
			fail("schedule", "expected {\"timezone\", \"quiet\", \"during_quiet\"}")
		} else {
			rc.Schedule = &router.ScheduleConfig{Timezone: s.Timezone, Quiet: s.Quiet, DuringQuiet: s.DuringQuiet}
		}
	}
	if len(details) > 0 {
		return &httpError{code: 422, msg: "invalid rule: " + details[0].Message, details: details}
	}
	return nil
}
