package backtest

import (
	"time"

	"github.com/switchboard-dev/switchboard/router"
)

// Report is what a candidate configuration would have changed over a
// window of stored messages. It is the JSON answer of POST
// /api/v1/backtest and of `switchboard backtest --format json`.
type Report struct {
	// From and To are the window (To exclusive).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Days is the window's length in days, for per-day rates.
	Days float64 `json:"days"`
	// Messages is how many stored messages were replayed.
	Messages int `json:"messages"`
	// Matched is how many of them the candidate matched.
	Matched int `json:"matched"`
	// Errors counts messages that are not JSON objects and conditions of
	// the candidate that failed at run time.
	Errors int `json:"errors"`
	// Changed is true when anything was added, removed or changed.
	Changed bool   `json:"changed"`
	Totals  Totals `json:"totals"`
	// Rules has one entry per rule and channel that matched anything on
	// either side, in the candidate's rule order.
	Rules []RuleReport `json:"rules"`
}

// Totals sum the rules.
type Totals struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
	// BeforeSent and AfterSent are the notifications that would have gone
	// out (after throttles, digests and quiet hours) with the current
	// configuration and with the candidate.
	BeforeSent int `json:"before_sent"`
	AfterSent  int `json:"after_sent"`
	// SentPerDay is AfterSent per day of the window; DeltaPerDay is
	// (AfterSent - BeforeSent) per day: "would add 12 notifications a day".
	SentPerDay  float64 `json:"sent_per_day"`
	DeltaPerDay float64 `json:"delta_per_day"`
}

// RuleReport is one rule and channel.
type RuleReport struct {
	Rule    string `json:"rule"`
	Channel string `json:"channel"`
	Kind    string `json:"kind"`
	// Status is new (only in the candidate), deleted (only in the current
	// configuration), changed or unchanged.
	Status string `json:"status"`
	// Added are notifications only the candidate makes, Removed only the
	// current configuration, Changed both with different content, per
	// matched message (before throttles, digests and quiet hours).
	Added     int `json:"added"`
	Removed   int `json:"removed"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	// Before and After simulate alert fatigue with each side's settings.
	Before   Side     `json:"before"`
	After    Side     `json:"after"`
	Examples Examples `json:"examples"`
	// PerHour and PerDay count by the hour and day (UTC) the message
	// arrived (added, removed, changed) or the notification would have
	// gone out (before, after). Empty buckets are left out.
	PerHour []Bucket `json:"per_hour"`
	PerDay  []Bucket `json:"per_day"`
}

// Side is what one configuration makes of its matches over the window.
type Side struct {
	// Matches are the notifications rendered, one per matched message.
	Matches int `json:"matches"`
	// Sent would have gone out: at once, after quiet hours, or as digests.
	Sent int `json:"sent"`
	// Suppressed by the throttle.
	Suppressed int `json:"suppressed"`
	// Grouped into digests; Digests is how many digests they made.
	Grouped int `json:"grouped"`
	Digests int `json:"digests"`
	// Held until quiet hours ended (then sent); Dropped in quiet hours.
	Held    int `json:"held"`
	Dropped int `json:"dropped"`
	// Failed to render (dead-lettered at once).
	Failed int `json:"failed"`
}

func (s *Side) add(what outcome, n int) {
	switch what {
	case outcomeSent:
		s.Sent += n
	case outcomeSuppressed:
		s.Suppressed += n
	case outcomeGrouped:
		s.Grouped += n
	case outcomeDigest:
		s.Digests += n
	case outcomeHeld:
		s.Held += n
	case outcomeDropped:
		s.Dropped += n
	case outcomeFailed:
		s.Failed += n
	}
}

// Examples are the first few notifications of each kind, rendered.
type Examples struct {
	Added   []Example `json:"added"`
	Removed []Example `json:"removed"`
	Changed []Example `json:"changed"`
}

func (e *Examples) fill() {
	for _, l := range []*[]Example{&e.Added, &e.Removed, &e.Changed} {
		if *l == nil {
			*l = []Example{}
		}
	}
}

// Example is one notification: the message it came from and its content
// on each side (parts by name: text, subject, body…), with a line diff
// when both sides have one.
type Example struct {
	MessageID   string            `json:"message_id"`
	WebhookType string            `json:"webhook_type"`
	ReceivedAt  time.Time         `json:"received_at"`
	Before      map[string]string `json:"before,omitempty"`
	After       map[string]string `json:"after,omitempty"`
	Diff        string            `json:"diff,omitempty"`
}

// Bucket counts one hour or day.
type Bucket struct {
	Start   time.Time `json:"start"`
	Added   int       `json:"added"`
	Removed int       `json:"removed"`
	Changed int       `json:"changed"`
	Before  int       `json:"before"`
	After   int       `json:"after"`
}

func (b Bucket) empty() bool {
	return b.Added == 0 && b.Removed == 0 && b.Changed == 0 && b.Before == 0 && b.After == 0
}

func (b *Bucket) add(o Bucket) {
	b.Added += o.Added
	b.Removed += o.Removed
	b.Changed += o.Changed
	b.Before += o.Before
	b.After += o.After
}

// example renders one notification of m for a report.
func example(m *router.Message, before, after *router.Outgoing) Example {
	ex := Example{MessageID: m.ID, WebhookType: m.WebhookType(), ReceivedAt: m.ReceivedAt.UTC()}
	if before != nil {
		ex.Before = partsMap(before)
	}
	if after != nil {
		ex.After = partsMap(after)
	}
	if before != nil && after != nil {
		ex.Diff = diffParts(ex.Before, ex.After)
	}
	return ex
}

// partsMap names a notification's non-empty parts.
func partsMap(o *router.Outgoing) map[string]string {
	out := map[string]string{}
	if o.Err != nil {
		out["error"] = o.Err.Error()
		return out
	}
	p := o.Parts
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("subject", p.Subject)
	set("text", p.Text)
	set("blocks", p.Blocks)
	set("html", p.HTML)
	set("body", p.Body)
	set("content_type", p.ContentType)
	set("path", p.Path)
	if len(p.To) > 0 {
		out["to"] = joinComma(p.To)
	}
	if len(p.Cc) > 0 {
		out["cc"] = joinComma(p.Cc)
	}
	for k, v := range p.Headers {
		_ = v
		out["header "+k] = "<secret>" // header values are secret fields
	}
	return out
}

func joinComma(l []string) string {
	s := ""
	for i, v := range l {
		if i > 0 {
			s += ", "
		}
		s += v
	}
	return s
}
