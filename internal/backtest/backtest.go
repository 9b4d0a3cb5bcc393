package backtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/switchboard-dev/switchboard/internal/msgjson"
	"github.com/switchboard-dev/switchboard/router"
)

// DefaultExamples is how many examples of each kind a report keeps per
// rule and channel.
const DefaultExamples = 3

// Message is one stored message to replay.
type Message struct {
	ID         string
	Source     string
	ReceivedAt time.Time
	Body       []byte
}

// Filter selects the messages of a backtest.
type Filter struct {
	// From and To bound ReceivedAt: From <= t < To. Zero: unbounded.
	From, To time.Time
	// Source, if set, keeps the messages of this source only.
	Source string
	// Type, if set, keeps the messages of this webhook type only.
	Type string
	// Limit, if positive, stops after this many messages (the oldest).
	Limit int
}

// keep reports whether m passes the source and time bounds.
func (f Filter) keep(source string, at time.Time) bool {
	if f.Source != "" && source != f.Source {
		return false
	}
	if !f.From.IsZero() && at.Before(f.From) {
		return false
	}
	if !f.To.IsZero() && !at.Before(f.To) {
		return false
	}
	return true
}

// Messages yields stored messages in time order (oldest first), one at a
// time, to fn; it stops at the first error fn returns and returns it.
// Sources may apply the filter's Source, Type and time bounds; Run applies
// them again. Limit is applied by Run.
type Messages interface {
	Scan(ctx context.Context, f Filter, fn func(Message) error) error
}

// Options configure a backtest.
type Options struct {
	// Candidate is the configuration to try.
	Candidate *router.Ruleset
	// Current is the configuration to compare with. Nil compares with
	// nothing: every notification of the candidate is added.
	Current *router.Ruleset
	// Only, if set, limits the report to this rule.
	Only string
	// Filter selects the messages.
	Filter Filter
	// Examples is how many examples of each kind to keep per rule and
	// channel (default DefaultExamples; negative: none).
	Examples int
	// Now is the end of the window when Filter.To is zero (default
	// time.Now), for per-day rates.
	Now func() time.Time
	// decodeWhole decodes every message whole instead of what the rules
	// read (tests compare the two).
	decodeWhole bool
}

// errLimit stops a scan once Limit messages were replayed.
var errLimit = errors.New("limit reached")

// Run replays the messages through both configurations and reports the
// difference. It stops early, with the context's error, when ctx ends.
func Run(ctx context.Context, src Messages, o Options) (*Report, error) {
	if o.Candidate == nil {
		return nil, errors.New("backtest: no candidate configuration")
	}
	if o.Examples == 0 {
		o.Examples = DefaultExamples
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &engine{
		o:      o,
		rows:   map[rowKey]*row{},
		before: newSim(),
		after:  newSim(),
	}
	e.tBefore, e.tAfter = e.tally(true), e.tally(false)
	if !o.decodeWhole {
		e.reads = reads(o)
	}
	n := 0
	err := src.Scan(ctx, o.Filter, func(m Message) error {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !o.Filter.keep(m.Source, m.ReceivedAt) {
			return nil
		}
		if o.Filter.Limit > 0 && e.messages >= o.Filter.Limit {
			return errLimit
		}
		n++
		return e.replay(m)
	})
	if err != nil && !errors.Is(err, errLimit) {
		return nil, err
	}
	e.before.finish(e.tBefore)
	e.after.finish(e.tAfter)
	return e.report(), nil
}

type rowKey struct{ rule, channel string }

// row accumulates one rule and channel.
type row struct {
	rule, channel, kind string
	before, after       Side
	added, removed      int
	changed, unchanged  int
	examples            Examples
	hours               map[int64]*Bucket // by Unix hour
}

func (r *row) bucket(t time.Time) *Bucket {
	h := t.Unix() / 3600
	b := r.hours[h]
	if b == nil {
		b = &Bucket{Start: time.Unix(h*3600, 0).UTC()}
		r.hours[h] = b
	}
	return b
}

type engine struct {
	o             Options
	rows          map[rowKey]*row
	before, after *sim
	// tBefore and tAfter receive the simulations' decisions.
	tBefore, tAfter tallyFunc
	// cur, cand and used are reused from message to message.
	cur, cand []router.Planned
	used      []bool
	dec       msgjson.Decoder
	// reads is what routing both configurations and rendering the
	// deliveries both make read of a message (nil: everything); full is
	// the whole message, decoded when a one-sided example needs it.
	reads       *router.Reads
	full        *router.Message
	messages    int
	matched     int // messages the candidate matched
	errors      int
	first, last time.Time
}

func (e *engine) row(rule, channel, kind string) *row {
	k := rowKey{rule, channel}
	r := e.rows[k]
	if r == nil {
		r = &row{rule: rule, channel: channel, kind: kind, hours: map[int64]*Bucket{}}
		e.rows[k] = r
	}
	if r.kind == "" {
		r.kind = kind
	}
	return r
}

// tally returns the callback a simulation reports its decisions to.
func (e *engine) tally(before bool) tallyFunc {
	return func(rule, channel, kind string, at time.Time, what outcome, n int) {
		if e.o.Only != "" && rule != e.o.Only {
			return
		}
		r := e.row(rule, channel, kind)
		side := &r.after
		if before {
			side = &r.before
		}
		side.add(what, n)
		if what != outcomeSent {
			return
		}
		b := r.bucket(at)
		if before {
			b.Before += n
		} else {
			b.After += n
		}
	}
}

// replay routes one message through both configurations. Deliveries are
// planned without their content; compare renders only those whose content
// the report needs (both sides of a pair, and examples) before the
// simulations see them, so their rendering failures count as failed. A
// delivery only one side makes, past the examples, is not rendered: it
// counts as sent even if its rendering would fail.
func (e *engine) replay(m Message) error {
	data, ok := e.dec.Object(m.Body, e.reads)
	if !ok {
		e.errors++ // not a JSON object: ingest never stores one
		return nil
	}
	rm := router.Message{ID: m.ID, Source: m.Source, ReceivedAt: m.ReceivedAt, Body: m.Body, Data: data}
	e.full = nil
	if e.reads == nil {
		e.full = &rm
	}
	if e.o.Filter.Type != "" && rm.WebhookType() != e.o.Filter.Type {
		return nil
	}
	if e.messages == 0 {
		e.first = m.ReceivedAt
	}
	e.messages++
	e.last = m.ReceivedAt

	e.cur = e.cur[:0]
	if e.o.Current != nil {
		e.cur, _, _ = e.o.Current.Plan(&rm, e.cur)
	}
	var matched, errs int
	e.cand, matched, errs = e.o.Candidate.Plan(&rm, e.cand[:0])
	e.errors += errs
	if matched > 0 {
		e.matched++
	}
	e.compare(&rm, e.cur, e.cand)
	if e.o.Current != nil {
		e.before.advance(m.ReceivedAt, e.tBefore)
		e.before.decide(e.cur, m.ReceivedAt, e.tBefore)
	}
	e.after.advance(m.ReceivedAt, e.tAfter)
	e.after.decide(e.cand, m.ReceivedAt, e.tAfter)
	return nil
}

// compare pairs the two sides' deliveries by rule and channel, in order,
// and counts what was added, removed and changed. It renders both sides
// of a pair, and a one-sided delivery only for an example.
func (e *engine) compare(m *router.Message, cur, cand []router.Planned) {
	if len(cur) == 0 && len(cand) == 0 {
		return
	}
	e.used = slices.Grow(e.used[:0], len(cur))[:len(cur)]
	clear(e.used)
	used := e.used
	for i := range cand {
		c := &cand[i]
		if e.o.Only != "" && c.Rule != e.o.Only {
			continue
		}
		r := e.row(c.Rule, c.Channel, c.Kind)
		r.after.Matches++
		b := r.bucket(m.ReceivedAt)
		j := -1
		for k := range cur {
			if !used[k] && cur[k].Rule == c.Rule && cur[k].Channel == c.Channel {
				j = k
				break
			}
		}
		if j < 0 {
			r.added++
			b.Added++
			if len(r.examples.Added) < e.o.Examples {
				e.o.Candidate.Render(c, e.whole(m))
				r.examples.Added = append(r.examples.Added, example(m, nil, &c.Outgoing))
			}
			continue
		}
		used[j] = true
		o := &cur[j]
		r.before.Matches++
		e.o.Current.Render(o, m)
		e.o.Candidate.Render(c, m)
		if sameContent(&o.Outgoing, &c.Outgoing) {
			r.unchanged++
			continue
		}
		r.changed++
		b.Changed++
		if len(r.examples.Changed) < e.o.Examples {
			r.examples.Changed = append(r.examples.Changed, example(m, &o.Outgoing, &c.Outgoing))
		}
	}
	for j := range cur {
		o := &cur[j]
		if used[j] || (e.o.Only != "" && o.Rule != e.o.Only) {
			continue
		}
		r := e.row(o.Rule, o.Channel, o.Kind)
		r.before.Matches++
		r.removed++
		r.bucket(m.ReceivedAt).Removed++
		if len(r.examples.Removed) < e.o.Examples {
			e.o.Current.Render(o, e.whole(m))
			r.examples.Removed = append(r.examples.Removed, example(m, &o.Outgoing, nil))
		}
	}
}

// whole returns m with all its data, decoding it again if replay read
// only a part.
func (e *engine) whole(m *router.Message) *router.Message {
	if e.full == nil {
		data, _ := e.dec.Object(m.Body, nil)
		full := *m
		full.Data = data
		e.full = &full
	}
	return e.full
}

// reads is what the backtest reads of each message: both
// configurations' routing, and the content of the deliveries both make
// (rendered for every message to compare them). Nil means everything.
func reads(o Options) *router.Reads {
	r := &router.Reads{}
	o.Candidate.RoutingReads(r)
	if o.Current != nil {
		o.Current.RoutingReads(r)
		for _, name := range o.Candidate.RuleNames() {
			if o.Only != "" && name != o.Only {
				continue
			}
			cand, _ := o.Candidate.Rule(name)
			cur, ok := o.Current.Rule(name)
			if !ok {
				continue
			}
			for _, ch := range cand.Channels() {
				if slices.Contains(cur.Channels(), ch) {
					o.Candidate.ContentReads(name, ch, r)
					o.Current.ContentReads(name, ch, r)
				}
			}
		}
	}
	if r.Whole {
		return nil
	}
	return r
}

// sameContent reports whether two renderings of one message are the same
// notification.
func sameContent(a, b *router.Outgoing) bool {
	if (a.Err == nil) != (b.Err == nil) {
		return false
	}
	if a.Err != nil {
		return a.Err.Error() == b.Err.Error()
	}
	x, y := a.Parts, b.Parts
	return x.Text == y.Text && x.Blocks == y.Blocks && x.Subject == y.Subject && x.HTML == y.HTML &&
		slices.Equal(x.To, y.To) && slices.Equal(x.Cc, y.Cc) && x.Body == y.Body &&
		x.ContentType == y.ContentType && x.Path == y.Path && maps.Equal(x.Headers, y.Headers)
}

// report builds the Report from the accumulated rows.
func (e *engine) report() *Report {
	rep := &Report{Messages: e.messages, Matched: e.matched, Errors: e.errors, Rules: []RuleReport{}}
	rep.From, rep.To = e.o.Filter.From, e.o.Filter.To
	if rep.From.IsZero() {
		rep.From = e.first
	}
	if rep.To.IsZero() {
		if e.o.Filter.From.IsZero() {
			rep.To = e.last
		} else {
			rep.To = e.o.Now()
		}
	}
	rep.Days = rep.To.Sub(rep.From).Hours() / 24
	if rep.Days < 1.0/24 {
		// Under an hour (one message, or a directory of samples): a rate
		// scaled up from it would be noise, so per-day figures are the
		// window's counts.
		rep.Days = 1
	}
	rep.From, rep.To = rep.From.UTC(), rep.To.UTC()
	order := e.ruleOrder()
	keys := slices.Collect(maps.Keys(e.rows))
	slices.SortFunc(keys, func(a, b rowKey) int {
		return cmp.Or(cmp.Compare(order[a.rule], order[b.rule]), cmp.Compare(a.rule, b.rule), cmp.Compare(a.channel, b.channel))
	})
	for _, k := range keys {
		r := e.rows[k]
		rr := RuleReport{
			Rule: r.rule, Channel: r.channel, Kind: r.kind,
			Added: r.added, Removed: r.removed, Changed: r.changed, Unchanged: r.unchanged,
			Before: r.before, After: r.after, Examples: r.examples,
		}
		rr.Examples.fill()
		hours := slices.Sorted(maps.Keys(r.hours))
		var day *Bucket
		for _, h := range hours {
			b := *r.hours[h]
			if b.empty() {
				continue
			}
			rr.PerHour = append(rr.PerHour, b)
			d := time.Date(b.Start.Year(), b.Start.Month(), b.Start.Day(), 0, 0, 0, 0, time.UTC)
			if day == nil || !day.Start.Equal(d) {
				rr.PerDay = append(rr.PerDay, Bucket{Start: d})
				day = &rr.PerDay[len(rr.PerDay)-1]
			}
			day.add(b)
		}
		if rr.PerHour == nil {
			rr.PerHour, rr.PerDay = []Bucket{}, []Bucket{}
		}
		rr.Status = status(rr, e.o.Current, e.o.Candidate)
		rep.Totals.Added += rr.Added
		rep.Totals.Removed += rr.Removed
		rep.Totals.Changed += rr.Changed
		rep.Totals.BeforeSent += rr.Before.Sent
		rep.Totals.AfterSent += rr.After.Sent
		rep.Rules = append(rep.Rules, rr)
	}
	rep.Changed = rep.Totals.Added+rep.Totals.Removed+rep.Totals.Changed > 0
	rep.Totals.SentPerDay = round1(float64(rep.Totals.AfterSent) / rep.Days)
	rep.Totals.DeltaPerDay = round1(float64(rep.Totals.AfterSent-rep.Totals.BeforeSent) / rep.Days)
	rep.Days = round1(rep.Days)
	return rep
}

// ruleOrder ranks rule names by their position in the candidate, then in
// the current configuration.
func (e *engine) ruleOrder() map[string]int {
	order := map[string]int{}
	n := 0
	for _, rs := range []*router.Ruleset{e.o.Candidate, e.o.Current} {
		if rs == nil {
			continue
		}
		for _, name := range rs.RuleNames() {
			if _, ok := order[name]; !ok {
				order[name] = n
				n++
			}
		}
	}
	return order
}

// status says how the rule itself differs between the configurations.
func status(rr RuleReport, cur, cand *router.Ruleset) string {
	inCand := cand != nil && hasRule(cand, rr.Rule)
	inCur := cur != nil && hasRule(cur, rr.Rule)
	switch {
	case inCand && !inCur:
		return "new"
	case inCur && !inCand:
		return "deleted"
	case rr.Added+rr.Removed+rr.Changed > 0:
		return "changed"
	default:
		return "unchanged"
	}
}

func hasRule(rs *router.Ruleset, name string) bool {
	r, ok := rs.Rule(name)
	return ok && r.Enabled
}

func round1(f float64) float64 { return float64(int64(f*10+0.5*sign(f))) / 10 }

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// FormatWindow describes a report's window for people.
func FormatWindow(r *Report) string {
	if r.From.IsZero() {
		return "no messages"
	}
	return fmt.Sprintf("%s to %s (%s)", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), span(r.To.Sub(r.From)))
}

// span says how long a window is: in hours under two days, else in days.
func span(d time.Duration) string {
	switch h := d.Hours(); {
	case h < 1:
		return "under an hour"
	case h == 1:
		return "1 hour"
	case h < 48:
		return fmt.Sprintf("%g hours", math.Round(h*10)/10)
	default:
		return fmt.Sprintf("%g days", math.Round(h/24*10)/10)
	}
}
