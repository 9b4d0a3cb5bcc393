package router

import (
	"github.com/switchboard-dev/switchboard/config"

	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/render"
	"github.com/switchboard-dev/switchboard/router/schedule"
)

// Alert-fatigue defaults.
const (
	// DefaultGroupWait is how long a new group waits for company.
	DefaultGroupWait = 30 * time.Second
	// DefaultGroupInterval is the least time between two digests of a
	// group.
	DefaultGroupInterval = 5 * time.Minute
	// DefaultGroupMax is the most messages a digest carries in .Messages.
	DefaultGroupMax = 100
	// maxKeyBytes bounds a rendered throttle or group key.
	maxKeyBytes = 512
)

// Throttle is a rule's compiled throttle.
type Throttle struct {
	key   *render.Template // nil: one window for the rule
	Every time.Duration
}

// Group is a rule's compiled grouping.
type Group struct {
	by       *render.Template // nil: one group for the rule
	Wait     time.Duration
	Interval time.Duration
	Max      int
}

// compileFatigue compiles a rule's throttle, group and schedule.
func (c *compiler) compileFatigue(rule *Rule, r RuleConfig, node ast.Node, bad map[string]bool) {
	if t := r.Throttle; t != nil {
		th := &Throttle{Every: time.Duration(t.Every)}
		if t.Every <= 0 && !bad["throttle.every"] {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "throttle", "every"), r.Name, "throttle.every",
				"throttle.every must be a positive duration, e.g. 6h or 30m")
		}
		if strings.TrimSpace(t.Key) != "" {
			th.key = c.inline(config.Lookup(node, "throttle", "key"), t.Key, render.Plain, r.Name, "throttle.key")
		}
		rule.Throttle = th
	}
	if g := r.Group; g != nil {
		gr := &Group{Wait: time.Duration(g.Wait), Interval: time.Duration(g.Interval), Max: g.Max}
		if g.Wait < 0 || g.Interval < 0 || g.Max < 0 {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "group"), r.Name, "group",
				"group: wait, interval and max must not be negative")
		}
		if config.Lookup(node, "group", "wait") == nil {
			gr.Wait = DefaultGroupWait
		}
		if gr.Interval == 0 {
			gr.Interval = DefaultGroupInterval
		}
		if gr.Max == 0 {
			gr.Max = DefaultGroupMax
		}
		if strings.TrimSpace(g.By) != "" {
			gr.by = c.inline(config.Lookup(node, "group", "by"), g.By, render.Plain, r.Name, "group.by")
		}
		rule.Group = gr
		c.compileDigest(rule)
	}
	if r.Schedule != nil {
		rule.Schedule = c.compileSchedule(r.Schedule, config.Lookup(node, "schedule"), r.Name, "schedule")
	}
}

// compileSchedule validates quiet hours, pointing at the bad entry.
func (c *compiler) compileSchedule(sc *ScheduleConfig, n ast.Node, rule, field string) *schedule.Schedule {
	s, err := schedule.Parse(sc.Timezone, sc.Quiet, sc.DuringQuiet)
	if err == nil {
		return s
	}
	var errs schedule.Errors
	if !errors.As(err, &errs) {
		c.ds.Add(config.SeverityError, c.file, config.NodePos(n), rule, field, "%s: %s", field, err.Error())
		return nil
	}
	for _, se := range errs {
		at := config.NodePos(n)
		switch {
		case se.Field == "quiet" && se.Index >= 0:
			at = config.PosIn(n, "quiet", se.Index)
		case se.Field != "":
			at = config.PosIn(n, se.Field)
		}
		c.ds.Add(config.SeverityError, c.file, at, rule, field, "%s: %s", field, se.Error())
	}
	return nil
}

// compileChannelFatigue compiles a channel's schedule and pacing.
func (c *compiler) compileChannelFatigue(ch *Channel, cfg ChannelConfig, node ast.Node, where string) {
	if cfg.Schedule != nil {
		ch.Schedule = c.compileSchedule(cfg.Schedule, config.Lookup(node, "schedule"), "", where+".schedule")
	}
	ch.Pacing = ch.Descriptor.Pacing
	if p := cfg.Pacing; p != nil {
		if p.Threshold < 0 {
			c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "pacing", "threshold"), "", where+".pacing",
				"channel %q: pacing.threshold must be positive (0 turns pacing off)", ch.Name)
		}
		ch.Pacing = max(p.Threshold, 0)
	}
}

// Policy is what a rule's throttle, group and quiet hours make of one
// delivery, decided at routing and completed by the store (throttle
// windows and groups are shared state).
type Policy struct {
	// ThrottleKey and ThrottleEvery are set when the rule throttles.
	ThrottleKey   string
	ThrottleEvery time.Duration
	// Rerender renders the delivery again with .Suppressed set, for the
	// first notification after a window in which matches were suppressed.
	Rerender func(suppressed int) (notifiers.Parts, error)
	// GroupKey, GroupWait and GroupInterval are set when the rule groups.
	Grouped       bool
	GroupKey      string
	GroupWait     time.Duration
	GroupInterval time.Duration
	// Quiet is set when the rule's or the channel's quiet hours cover the
	// message's arrival: Hold until QuietUntil, or drop.
	Quiet      schedule.Mode
	QuietUntil time.Time
	QuietWhy   string
}

// active reports whether the policy changes anything.
func (p *Policy) active() bool {
	return p.ThrottleEvery > 0 || p.Grouped || p.Quiet != ""
}

// policy decides a delivery's policy at time now. It returns nil when the
// rule and channel have none.
func (rs *Ruleset) policy(r *Rule, t *target, data map[string]any, raw []byte, now time.Time) (*Policy, error) {
	if r.Throttle == nil && r.Group == nil && r.Schedule == nil && t.channel.Schedule == nil {
		return nil, nil
	}
	p := &Policy{}
	if th := r.Throttle; th != nil {
		key, err := renderKey(th.key, data)
		if err != nil {
			return nil, fmt.Errorf("throttle.key: %w", err)
		}
		p.ThrottleKey, p.ThrottleEvery = key, th.Every
		p.Rerender = func(n int) (notifiers.Parts, error) {
			d := make(map[string]any, len(data)+1)
			for k, v := range data {
				d[k] = v
			}
			d["Suppressed"] = n
			parts, err := t.render(d, raw)
			if err != nil {
				err = fmt.Errorf("%s", rs.Scrub(err.Error()))
			}
			return parts, err
		}
	}
	if g := r.Group; g != nil {
		key, err := renderKey(g.by, data)
		if err != nil {
			return nil, fmt.Errorf("group.by: %w", err)
		}
		p.Grouped, p.GroupKey, p.GroupWait, p.GroupInterval = true, key, g.Wait, g.Interval
	}
	p.Quiet, p.QuietUntil, p.QuietWhy = Quiet(r.Schedule, t.channel.Schedule, now)
	if !p.active() {
		return nil, nil
	}
	return p, nil
}

// Quiet combines a rule's and a channel's quiet hours at now: drop if a
// quiet one says drop, else hold until neither is quiet. mode is empty
// when neither is quiet.
func Quiet(rule, channel *schedule.Schedule, now time.Time) (mode schedule.Mode, until time.Time, why string) {
	var whys []string
	t := now
	for range 16 { // schedules alternate; each step moves t forward
		moved := false
		for _, s := range []*schedule.Schedule{rule, channel} {
			if s == nil {
				continue
			}
			q, end := s.Quiet(t)
			if !q {
				continue
			}
			if s.Mode() == schedule.Drop {
				return schedule.Drop, time.Time{}, "quiet hours " + s.String() + ": dropped"
			}
			if t.Equal(now) {
				whys = append(whys, s.String())
			}
			if end.After(t) {
				t, moved = end, true
			}
		}
		if !moved {
			break
		}
	}
	if t.Equal(now) {
		return "", time.Time{}, ""
	}
	return schedule.Hold, t, "quiet hours " + strings.Join(whys, " and ") + ": held until " + t.UTC().Format(time.RFC3339)
}

// renderKey renders a throttle or group key; nil renders "".
func renderKey(t *render.Template, data map[string]any) (string, error) {
	if t == nil {
		return "", nil
	}
	s, err := t.Execute(data)
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if len(s) > maxKeyBytes {
		s = s[:maxKeyBytes]
	}
	return s, nil
}
