// Package digest sends the digests of grouping rules: it finds the groups
// whose digest is due, renders each with the current rules and stores the
// digest deliveries, one group per transaction, so that exactly one
// replica sends each digest.
package digest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-dev/switchboard/internal/logrepeat"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
	"github.com/switchboard-dev/switchboard/router/schedule"
)

// DefaultInterval is how often the store is polled for due groups.
const DefaultInterval = time.Second

const (
	// batch bounds the groups flushed per poll.
	batch = 100
	// storeTimeout bounds each store call.
	storeTimeout = 15 * time.Second
)

// Options configure a Flusher.
type Options struct {
	// Store holds the groups. Required.
	Store *store.Store
	// Rules returns the Ruleset in use. Required.
	Rules func() *router.Ruleset
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Interval is how often due groups are looked for (default 1 s).
	Interval time.Duration
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	// Wake, if set, is called after digests were stored, so that workers
	// send them at once.
	Wake func()
}

// Flusher sends due digests.
type Flusher struct {
	o Options
	// repeats keeps a store that does not answer to a line a minute.
	repeats logrepeat.Limiter
}

// New returns a Flusher; Run starts it.
func New(o Options) *Flusher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Flusher{o: o}
}

// Run flushes due groups every Interval until ctx ends.
func (f *Flusher) Run(ctx context.Context) {
	t := time.NewTicker(f.o.Interval)
	defer t.Stop()
	for {
		_, err := f.FlushDue(ctx)
		f.repeats.Report(ctx, f.o.Logger, slog.LevelWarn, "cannot flush digest groups", err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FlushDue flushes every group due now and returns how many digests it
// stored.
func (f *Flusher) FlushDue(ctx context.Context) (int, error) {
	total := 0
	for {
		now := f.o.Now()
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		ids, err := f.o.Store.DueGroups(cctx, now, batch)
		cancel()
		if err != nil {
			return total, err
		}
		var errs []error
		for _, id := range ids {
			n, err := f.flush(ctx, id, now)
			total += n
			if err != nil {
				errs = append(errs, err)
			}
		}
		if total > 0 && f.o.Wake != nil {
			f.o.Wake()
		}
		if len(errs) > 0 || len(ids) < batch {
			return total, errors.Join(errs...)
		}
	}
}

// flush flushes one group.
func (f *Flusher) flush(ctx context.Context, id string, now time.Time) (int, error) {
	rs := f.o.Rules()
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	g, p, err := f.o.Store.FlushGroup(cctx, id, now, func(g store.Group, load store.GroupLoader) (store.FlushPlan, error) {
		return plan(rs, g, load, now)
	})
	if errors.Is(err, store.ErrGroupBusy) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	attrs := []any{"group", g.ID, "rule", g.Rule, "key", g.Key, "channel", g.Channel}
	switch {
	case !p.Postpone.IsZero():
		f.o.Logger.Info("digest held by quiet hours", append(attrs, "until", p.Postpone)...)
	case p.Drop != "":
		f.o.Logger.Info("digest dropped", append(attrs, "reason", p.Drop)...)
	default:
		for _, d := range p.Digests {
			if d.DeadError != "" {
				f.o.Logger.Error("digest failed to render; dead-lettered", append(attrs, "delivery", d.ID, "error", d.DeadError)...)
			} else {
				f.o.Logger.Info("digest queued", append(attrs, "delivery", d.ID, "reason", d.DecidedReason)...)
			}
		}
		if m := f.o.Metrics; m != nil && len(p.Digests) > 0 {
			m.Digests.WithLabelValues(g.Rule).Inc()
		}
	}
	return len(p.Digests), nil
}

// plan decides what becomes of a due group under the current rules.
func plan(rs *router.Ruleset, g store.Group, load store.GroupLoader, now time.Time) (store.FlushPlan, error) {
	rule, ok := rs.Rule(g.Rule)
	if !ok || rule.Group == nil {
		return store.FlushPlan{Drop: fmt.Sprintf("rule %q was removed or no longer groups before its digest was due", g.Rule)}, nil
	}
	var chSched *schedule.Schedule
	if ch, ok := rs.Channels[g.Channel]; ok {
		chSched = ch.Schedule
	}
	switch mode, until, why := router.Quiet(rule.Schedule, chSched, now); mode {
	case schedule.Hold:
		return store.FlushPlan{Postpone: until}, nil
	case schedule.Drop:
		return store.FlushPlan{Drop: why}, nil
	}
	stored, count, err := load(rule.Group.Max)
	if err != nil {
		return store.FlushPlan{}, err
	}
	if count == 0 {
		return store.FlushPlan{}, nil
	}
	d := router.Digest{Rule: g.Rule, Channel: g.Channel, Key: g.Key, Count: count, Now: now}
	for _, m := range stored {
		var data map[string]any
		if err := json.Unmarshal(m.Body, &data); err != nil || data == nil {
			continue // ingest accepts only JSON objects
		}
		d.Messages = append(d.Messages, &router.Message{
			ID: m.ID, Source: m.Source, ReceivedAt: m.ReceivedAt, Body: m.Body, Data: data,
		})
	}
	outs, ok := rs.RenderDigest(d)
	if !ok {
		return store.FlushPlan{Drop: fmt.Sprintf("rule %q no longer sends to channel %q", g.Rule, g.Channel)}, nil
	}
	p := store.FlushPlan{}
	for _, o := range outs {
		nd := store.RoutedDelivery{Notification: o.Notification,
			DecidedReason: fmt.Sprintf("digest of %d messages (key %q)", count, g.Key)}
		if o.Err != nil {
			nd.DeadError = o.Err.Error()
		}
		p.Digests = append(p.Digests, nd)
	}
	return p, nil
}
