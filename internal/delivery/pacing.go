package delivery

import (
	"github.com/switchboard-dev/switchboard/internal/wiring"

	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// collapseRetry is how long pacing waits after a collapse failed to be
// written.
const collapseRetry = 5 * time.Second

// overflowLocked takes the deliveries beyond a paced channel's threshold
// out of its queue, for collapse. The oldest stay queued: they go out one
// by one, the rest as one summary behind them. Deliveries queued behind a
// summary not yet sent are folded into it.
func (d *Dispatcher) overflowLocked(p *pool) []*item {
	if p.collapsing || len(p.queue) <= 1 {
		return nil
	}
	ch, ok := d.o.Resolve(p.name)
	if !ok || ch.Pacing <= 0 || time.Now().Before(p.collapseAfter) {
		return nil
	}
	// Everything past the threshold, or past an unsent summary, which then
	// absorbs what arrived behind it.
	start := len(p.queue)
	if len(p.queue) > ch.Pacing {
		start = ch.Pacing
	}
	for i, it := range p.queue[:start] {
		if it.summary != nil {
			start = i
			break
		}
	}
	if rest := p.queue[start:]; len(rest) == 0 || len(rest) == 1 && rest[0].summary != nil {
		return nil
	}
	over := slices.Clone(p.queue[start:])
	clear(p.queue[start:])
	p.queue = p.queue[:start]
	p.collapsing = true
	return over
}

// collapse folds over into one summary delivery queued behind the
// channel's remaining queue. An unsent earlier summary among them is
// folded into the new one.
func (d *Dispatcher) collapse(p *pool, over []*item) {
	ch, _ := d.o.Resolve(p.name)
	ch = ch.withDefaults()
	ids := make([]string, len(over))
	byID := make(map[string]*item, len(over))
	for i, it := range over {
		ids[i], byID[it.d.ID] = it.d.ID, it
	}
	now := d.o.Now()
	leaseUntil := now.Add(ch.Timeout + d.o.LeaseMargin)
	var counts map[string]int
	var plain int // collapsed deliveries that were not summaries
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	collapsed, sum, err := d.o.Store.Collapse(ctx, d.o.Owner, ids, leaseUntil, func(got []string) store.RoutedDelivery {
		counts, plain = map[string]int{}, 0
		var last *item
		for _, id := range got {
			it := byID[id]
			last = it
			if it.summary != nil {
				for k, n := range it.summary {
					counts[k] += n
				}
				continue
			}
			plain++
			t := it.d.WebhookType
			if t == "" {
				t = "message"
			}
			counts[t]++
		}
		return store.RoutedDelivery{
			Notification: notifiers.Notification{
				MessageID: last.d.MessageID, Channel: p.name,
				Parts: summaryParts(ch.Kind, p.name, last.d.Parts, counts),
			},
			DecidedReason: fmt.Sprintf("pacing summary of %d deliveries", total(counts)),
		}
	})
	cancel()

	d.mu.Lock()
	defer d.mu.Unlock()
	p.collapsing = false
	if err != nil {
		d.log.Warn("cannot collapse a paced channel's backlog; sending it one by one for now",
			"channel", p.name, "count", len(over), "error", err)
		p.queue = append(p.queue, over...)
		p.collapseAfter = time.Now().Add(collapseRetry)
		return
	}
	// Collapsed ones are finished; the others were no longer ours.
	for _, it := range over {
		delete(d.held, it.d.ID)
	}
	if len(collapsed) == 0 {
		return
	}
	d.log.Info("paced channel's backlog collapsed into a summary",
		"channel", p.name, "summary", sum.ID, "collapsed", len(collapsed), "stands_for", total(counts))
	if m := d.o.Metrics; m != nil {
		m.PacingCollapsed.WithLabelValues(p.name).Add(float64(plain))
	}
	if d.state >= stopping {
		d.releases = append(d.releases, sum.ID)
		signal(d.flush)
		return
	}
	it := &item{
		d: store.StoredDelivery{
			Notification: sum.Notification, State: store.StateInFlight, CreatedAt: now, QueuedAt: now, NextAttemptAt: now,
			LeaseOwner: d.o.Owner, LeaseUntil: leaseUntil, Reason: sum.DecidedReason,
		},
		leaseUntil: leaseUntil,
		summary:    counts,
	}
	d.held[sum.ID] = it
	p.queue = append(p.queue, it)
}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// SummaryText is a pacing summary's line: "+183 more: 120 × invoice.created,
// 63 × payment_request.payment_failure — see the delivery log".
func SummaryText(counts map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var list []kv
	for k, n := range counts {
		list = append(list, kv{k, n})
	}
	slices.SortFunc(list, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.k, b.k)) })
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = fmt.Sprintf("%d × %s", x.n, x.k)
	}
	return fmt.Sprintf("+%d more: %s — see the delivery log", total(counts), strings.Join(parts, ", "))
}

// summaryParts renders a pacing summary for a channel kind. Addressing
// (email recipients, HTTP path and headers) is that of the last collapsed
// delivery.
func summaryParts(kind, channel string, last notifiers.Parts, counts map[string]int) notifiers.Parts {
	summary := notifiers.TextSummary
	if k, ok := wiring.Kind(kind); ok {
		summary = k.Summary
	}
	return summary(channel, last, SummaryText(counts), total(counts), counts)
}
