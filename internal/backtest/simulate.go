package backtest

import (
	"container/heap"
	"time"

	"github.com/switchboard-dev/switchboard/router"
	"github.com/switchboard-dev/switchboard/router/schedule"
)

// outcome is what the simulated alert-fatigue pipeline makes of one
// notification.
type outcome uint8

const (
	outcomeSent outcome = iota
	outcomeSuppressed
	outcomeGrouped
	outcomeDigest
	outcomeHeld
	outcomeDropped
	outcomeFailed
)

// tallyFunc receives a simulation's decisions: n notifications of rule
// to channel had outcome what at time at.
type tallyFunc func(rule, channel, kind string, at time.Time, what outcome, n int)

// pruneEvery is how many decisions pass between sweeps of closed
// throttle windows and idle groups, which keeps the state bounded by the
// keys active at once rather than by every key ever seen.
const pruneEvery = 4096

// sim replays the store's alert-fatigue decisions (store.decide and the
// digest flusher) in memory, on the virtual clock of message times: quiet
// drop first, then the throttle (one decision per message and rule), then
// grouping, then quiet-hours holds.
type sim struct {
	throttles map[throttleKey]*window
	groups    map[groupKey]*group
	due       dueHeap // open groups by flush time
	decisions int
}

type throttleKey struct{ rule, key string }

type window struct {
	end        time.Time
	suppressed int
}

type groupKey struct{ rule, key, channel string }

type group struct {
	k         groupKey
	kind      string
	open      bool
	flushAt   time.Time
	lastFlush time.Time
	interval  time.Duration
	index     int // in due, while open
}

func newSim() *sim {
	return &sim{throttles: map[throttleKey]*window{}, groups: map[groupKey]*group{}}
}

// advance flushes the digests due by now.
func (s *sim) advance(now time.Time, tally tallyFunc) {
	for len(s.due) > 0 && !s.due[0].flushAt.After(now) {
		g := heap.Pop(&s.due).(*group)
		g.open, g.lastFlush = false, g.flushAt
		tally(g.k.rule, g.k.channel, g.kind, g.flushAt, outcomeDigest, 1)
		tally(g.k.rule, g.k.channel, g.kind, g.flushAt, outcomeSent, 1)
	}
}

// finish flushes every group still open: their digests would go out
// after the window.
func (s *sim) finish(tally tallyFunc) {
	var last time.Time
	for _, g := range s.due {
		last = maxTime(last, g.flushAt)
	}
	s.advance(last, tally)
}

// decide settles the deliveries of one message received at now, as
// store.decide does.
func (s *sim) decide(ds []router.Planned, now time.Time, tally tallyFunc) {
	var verdicts map[string]bool // by rule: one throttle decision per message and rule
	for i := range ds {
		d := &ds[i].Outgoing
		p := d.Policy
		switch {
		case d.Err != nil:
			tally(d.Rule, d.Channel, d.Kind, now, outcomeFailed, 1)
			continue
		case p == nil:
			tally(d.Rule, d.Channel, d.Kind, now, outcomeSent, 1)
			continue
		case p.Quiet == schedule.Drop:
			tally(d.Rule, d.Channel, d.Kind, now, outcomeDropped, 1)
			continue
		}
		if p.ThrottleEvery > 0 {
			if verdicts == nil {
				verdicts = map[string]bool{}
			}
			pass, ok := verdicts[d.Rule]
			if !ok {
				pass = s.throttle(throttleKey{d.Rule, p.ThrottleKey}, p.ThrottleEvery, now)
				verdicts[d.Rule] = pass
			}
			if !pass {
				tally(d.Rule, d.Channel, d.Kind, now, outcomeSuppressed, 1)
				continue
			}
		}
		switch {
		case p.Grouped:
			s.join(groupKey{d.Rule, p.GroupKey, d.Channel}, d.Kind, p.GroupWait, p.GroupInterval, now)
			tally(d.Rule, d.Channel, d.Kind, now, outcomeGrouped, 1)
		case p.Quiet == schedule.Hold:
			tally(d.Rule, d.Channel, d.Kind, now, outcomeHeld, 1)
			tally(d.Rule, d.Channel, d.Kind, p.QuietUntil, outcomeSent, 1)
		default:
			tally(d.Rule, d.Channel, d.Kind, now, outcomeSent, 1)
		}
	}
	s.decisions += len(ds)
	if s.decisions >= pruneEvery {
		s.decisions = 0
		s.prune(now)
	}
}

// throttle is store.throttle: pass when no window is open for the key,
// which opens one until now+every.
func (s *sim) throttle(k throttleKey, every time.Duration, now time.Time) bool {
	w := s.throttles[k]
	if w == nil {
		s.throttles[k] = &window{end: now.Add(every)}
		return true
	}
	if w.end.After(now) {
		w.suppressed++
		return false
	}
	w.end, w.suppressed = now.Add(every), 0
	return true
}

// join is store.openGroup: an idle group opens, due wait from now and no
// sooner than interval after its last digest.
func (s *sim) join(k groupKey, kind string, wait, interval time.Duration, now time.Time) {
	g := s.groups[k]
	if g == nil {
		g = &group{k: k, kind: kind}
		s.groups[k] = g
	}
	g.interval = interval
	if g.open {
		return
	}
	g.open, g.flushAt = true, now.Add(wait)
	if !g.lastFlush.IsZero() && g.lastFlush.Add(interval).After(g.flushAt) {
		g.flushAt = g.lastFlush.Add(interval)
	}
	heap.Push(&s.due, g)
}

// prune forgets closed throttle windows and groups idle for longer than
// their interval: a later match starts afresh either way.
func (s *sim) prune(now time.Time) {
	for k, w := range s.throttles {
		if !w.end.After(now) {
			delete(s.throttles, k)
		}
	}
	for k, g := range s.groups {
		if !g.open && !g.lastFlush.Add(g.interval).After(now) {
			delete(s.groups, k)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dueHeap orders open groups by flush time.
type dueHeap []*group

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].flushAt.Equal(h[j].flushAt) {
		return h[i].k.rule < h[j].k.rule
	}
	return h[i].flushAt.Before(h[j].flushAt)
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	g := x.(*group)
	g.index = len(*h)
	*h = append(*h, g)
}
func (h *dueHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return g
}
