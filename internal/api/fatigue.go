package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/fatigue"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
	"github.com/switchboard-dev/switchboard/router/schedule"
)

// Decisions a test result reports for a delivery.
const (
	DecisionSend     = "send"
	DecisionSuppress = "suppress"
	DecisionGroup    = "group"
	DecisionHold     = "hold"
	DecisionDrop     = "drop"
	DecisionSilence  = "silence"
)

// LiveState is the shared alert-fatigue state a test consults;
// *store.Store implements it.
type LiveState interface {
	ThrottleState(ctx context.Context, rule, key string, now time.Time) (open bool, windowEnd time.Time, suppressed int, err error)
	GroupState(ctx context.Context, rule, key, channel string) (g store.Group, state string, waiting int, err error)
}

// TestEnv is what a test consults besides the rules: the time, and when
// available the store's throttle windows and groups and the active
// silences.
type TestEnv struct {
	Now      time.Time
	Live     LiveState
	Silenced func(rule string, data map[string]any, now time.Time) (id, reason string, ok bool)
}

// testEnv is the live environment of the running server.
func (a *API) testEnv() TestEnv {
	env := TestEnv{Now: a.o.Now()}
	if a.o.Silences != nil {
		env.Silenced = a.o.Silences.Silenced
	}
	if a.o.Store != nil {
		env.Live = a.o.Store
	}
	return env
}

// describe says what silences, quiet hours, throttles and groups would do
// with a delivery now, walking the fatigue order as ingest and the store
// do.
func describe(ctx context.Context, env TestEnv, d router.Outgoing, data map[string]any) (decision, reason string) {
	var silence string
	if env.Silenced != nil {
		if id, why, ok := env.Silenced(d.Rule, data, env.Now); ok {
			silence = fmt.Sprintf("silenced by %s: %s", id, why)
		}
	}
	p := d.Policy
	if p == nil {
		p = &router.Policy{}
	}
	f := p.Facts(silence != "")
	var notes []string
	for step := fatigue.First(f); ; step = fatigue.Next(f, step) {
		switch step {
		case fatigue.Silence:
			return DecisionSilence, silence
		case fatigue.QuietDrop:
			return DecisionDrop, p.QuietWhy
		case fatigue.Throttle:
			note, suppressed := describeThrottle(ctx, env, d, p)
			if suppressed {
				return DecisionSuppress, note
			}
			notes = append(notes, note)
		case fatigue.Group:
			return DecisionGroup, describeGroup(ctx, env, d, p)
		case fatigue.Hold:
			return DecisionHold, p.QuietWhy
		default:
			return DecisionSend, strings.Join(notes, "; ")
		}
	}
}

// describeThrottle says what the rule's throttle would do: suppressed, with
// the reason, when its window is open, else a note.
func describeThrottle(ctx context.Context, env TestEnv, d router.Outgoing, p *router.Policy) (note string, suppressed bool) {
	note = fmt.Sprintf("throttle: key %q, at most one per %s", p.ThrottleKey, p.ThrottleEvery)
	if env.Live == nil {
		return note, false
	}
	open, end, n, err := env.Live.ThrottleState(ctx, d.Rule, p.ThrottleKey, env.Now)
	switch {
	case err != nil:
		note += " (window state unavailable: " + err.Error() + ")"
	case open:
		return fmt.Sprintf("throttled: key %q already notified; window ends %s (%d suppressed so far)",
			p.ThrottleKey, end.UTC().Format(time.RFC3339), n), true
	default:
		note += "; no window open, this one would open one"
		if n > 0 {
			note += fmt.Sprintf(" and report %d suppressed", n)
		}
	}
	return note, false
}

// describeGroup says which group the delivery would join and when its
// digest would be due.
func describeGroup(ctx context.Context, env TestEnv, d router.Outgoing, p *router.Policy) string {
	due := env.Now.Add(p.GroupWait)
	note := fmt.Sprintf("group: key %q", p.GroupKey)
	if env.Live != nil {
		g, state, waiting, err := env.Live.GroupState(ctx, d.Rule, p.GroupKey, d.Channel)
		switch {
		case err != nil:
			note += " (group state unavailable: " + err.Error() + ")"
		case state == "open":
			return fmt.Sprintf("%s; joins the open group (%d waiting), digest due %s",
				note, waiting, g.FlushAt.UTC().Format(time.RFC3339))
		case !g.LastFlushAt.IsZero() && g.LastFlushAt.Add(p.GroupInterval).After(due):
			due = g.LastFlushAt.Add(p.GroupInterval)
		}
	}
	if p.Quiet == schedule.Hold && p.QuietUntil.After(due) {
		due = p.QuietUntil
	}
	return fmt.Sprintf("%s; opens a group, digest due %s", note, due.UTC().Format(time.RFC3339))
}
