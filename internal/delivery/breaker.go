package delivery

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Channel states exported as switchboard_channel_state.
const (
	stateClosed = 0
	stateOpen   = 1
	statePaused = 2
)

// HoldUntil reports whether a new delivery to channel must wait rather
// than be sent now, and until when: store.Parked while the channel's
// breaker is open, the end of the pause while the peer asked for one.
// Ingest asks it so that such deliveries are stored waiting instead of
// being leased to a worker that would only hand them back.
func (d *Dispatcher) HoldUntil(channel string) (time.Time, bool) {
	d.mu.Lock()
	b, ok := d.breakers[channel]
	d.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	return holdOf(b, d.o.Now())
}

func holdOf(b store.Breaker, now time.Time) (time.Time, bool) {
	switch {
	case b.IsOpen():
		return store.Parked, true
	case b.Paused(now):
		return b.PausedUntil, true
	}
	return time.Time{}, false
}

// holdItem says whether a held delivery must go back unattempted: its
// channel is open (unless it is the probe) or paused.
func (d *Dispatcher) holdItem(it *item) (time.Time, bool) {
	d.mu.Lock()
	b, ok := d.breakers[it.d.Channel]
	probe := it.probe
	d.mu.Unlock()
	if !ok {
		return time.Time{}, false
	}
	if probe && b.IsOpen() {
		if b.Paused(d.o.Now()) {
			return b.PausedUntil, true
		}
		return time.Time{}, false
	}
	return holdOf(b, d.o.Now())
}

// deferItem queues a held delivery to be handed back to the store, due at
// until, without an attempt.
func (d *Dispatcher) deferItem(it *item, until time.Time) {
	d.mu.Lock()
	it.finishing = true
	d.defers[until] = append(d.defers[until], it.d.ID)
	d.mu.Unlock()
	signal(d.flush)
}

// rateLimited reports whether err is the peer asking to slow down (HTTP
// 429, Slack's rate limit) rather than failing: it pauses the channel but
// does not count towards its breaker.
func rateLimited(err error) bool {
	if _, ok := notifiers.RetryAfter(err); !ok {
		return false
	}
	var se *notifiers.StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests
	}
	return true // Slack's rate limit carries no status
}

// recordBreaker updates the channel's shared breaker after an attempt:
// a Retry-After pauses the channel, a retryable failure counts towards
// opening it, a success closes it. Permanent errors (a bad request, a
// template) are the delivery's fault, not the channel's, and count for
// nothing.
func (d *Dispatcher) recordBreaker(it *item, ch Channel, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	name := it.d.Channel
	if err != nil && notifiers.IsPermanent(err) {
		return
	}
	if after, ok := notifiers.RetryAfter(err); ok && after > 0 {
		until := d.o.Now().Add(after)
		if perr := d.o.Store.PauseChannel(ctx, name, until); perr != nil {
			d.log.Warn("cannot record a channel pause", "channel", name, "error", perr)
		} else {
			d.mu.Lock()
			b := d.breakers[name]
			b.Channel = name
			if until.After(b.PausedUntil) {
				b.PausedUntil = until
			}
			d.breakers[name] = b
			d.mu.Unlock()
			d.setStateMetric(name, b)
			d.log.Info("channel paused: the peer asked to wait", "channel", name,
				"for", after.Round(time.Millisecond).String(), "delivery", it.d.ID)
		}
		if rateLimited(err) {
			return
		}
	}
	d.mu.Lock()
	cached, known := d.breakers[name]
	d.mu.Unlock()
	if err == nil {
		if !known || (cached.Failures == 0 && !cached.IsOpen()) {
			return // nothing to reset: no write on the healthy path
		}
		was, resumed, closed, serr := d.o.Store.BreakerSuccess(ctx, name)
		if serr != nil {
			d.log.Warn("cannot record a channel success", "channel", name, "error", serr)
			return
		}
		d.mu.Lock()
		b := d.breakers[name]
		b.State, b.Failures = store.BreakerClosed, 0
		d.breakers[name] = b
		d.mu.Unlock()
		d.setStateMetric(name, b)
		if closed {
			d.closed(ctx, ch, was, resumed)
		}
		return
	}
	b, opened, ferr := d.o.Store.BreakerFailure(ctx, name, err.Error(), it.probe, ch.Breaker)
	if ferr != nil {
		d.log.Warn("cannot record a channel failure", "channel", name, "error", ferr)
		return
	}
	d.mu.Lock()
	d.breakers[name] = b
	d.mu.Unlock()
	d.setStateMetric(name, b)
	if opened {
		d.opened(ctx, ch, name, b)
	} else if it.probe {
		d.log.Debug("probe failed; channel stays open", "channel", name, "delivery", it.d.ID,
			"next_probe_in", b.ProbeEvery.String(), "error", err.Error())
	}
}

// opened logs, counts and announces a breaker that this replica opened.
func (d *Dispatcher) opened(ctx context.Context, ch Channel, name string, b store.Breaker) {
	pending := d.backlog(ctx, name)
	d.log.Warn("channel open: its deliveries wait until it recovers", "channel", name,
		"failures", b.Failures, "pending", pending, "probe_every", b.ProbeEvery.String(), "error", b.LastError)
	if m := d.o.Metrics; m != nil {
		m.ChannelOpens.WithLabelValues(name).Inc()
	}
	d.notice(ctx, ch.OnFailure, notice{Event: NoticeOpened, Channel: name, Failures: b.Failures,
		Pending: pending, Error: b.LastError, Probe: b.ProbeEvery, At: d.o.Now()})
}

// closed logs and announces a breaker that this replica closed, which
// made resumed waiting deliveries due.
func (d *Dispatcher) closed(ctx context.Context, ch Channel, was store.Breaker, resumed int64) {
	name := was.Channel
	openFor := d.o.Now().Sub(was.OpenedAt)
	d.log.Info("channel closed: recovered; sending what waited", "channel", name,
		"open_for", openFor.Round(time.Second).String(), "pending", resumed)
	d.notice(ctx, ch.OnFailure, notice{Event: NoticeClosed, Channel: name, OpenFor: openFor,
		Pending: resumed, At: d.o.Now()})
	d.Wake()
}

// backlog counts what channel still has to send (-1 if unknown).
func (d *Dispatcher) backlog(ctx context.Context, name string) int64 {
	bl, err := d.o.Store.Backlog(ctx)
	if err != nil {
		return -1
	}
	return bl[name]
}

func (d *Dispatcher) setStateMetric(name string, b store.Breaker) {
	m := d.o.Metrics
	if m == nil {
		return
	}
	v := stateClosed
	switch {
	case b.IsOpen():
		v = stateOpen
	case b.Paused(d.o.Now()):
		v = statePaused
	}
	m.ChannelState.WithLabelValues(name).Set(float64(v))
}

// refreshBreakers reads every breaker from the store, so that this
// replica follows what the others decided; then it claims due probes and,
// at most once per SummaryInterval, writes open channels' summaries,
// sends dead-delivery notices and makes due deliveries parked by mistake.
func (d *Dispatcher) refreshBreakers(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	all, err := d.o.Store.Breakers(cctx)
	d.repeats.Report(ctx, d.log, slog.LevelWarn, "cannot read channel breakers", err)
	if err != nil {
		return
	}
	d.mu.Lock()
	d.breakers = maps.Clone(all) // recordBreaker writes d.breakers; all stays ours
	d.mu.Unlock()
	now := d.o.Now()
	for name, b := range all {
		d.setStateMetric(name, b)
		if b.IsOpen() && !b.ProbeAt.After(now) {
			d.probe(cctx, name)
		}
	}
	d.mu.Lock()
	due := now.Sub(d.lastSummary) >= SummaryInterval
	if due {
		d.lastSummary = now
	}
	d.mu.Unlock()
	if !due {
		return
	}
	for name, b := range all {
		if b.IsOpen() {
			d.summary(cctx, name, b)
		}
	}
	d.mu.Lock()
	deadDue := now.Sub(d.lastDead) >= SummaryInterval
	if deadDue {
		d.lastDead = now
	}
	d.mu.Unlock()
	if deadDue {
		d.deadNotices(cctx)
	}
	n, err := d.o.Store.UnparkClosed(cctx)
	d.repeats.Report(ctx, d.log, slog.LevelWarn, "cannot resume parked deliveries", err)
	if err != nil {
		return
	}
	if n > 0 {
		d.log.Info("resumed deliveries parked for a channel that has recovered", "count", n)
		d.Wake()
	}
}

// probe claims the probe of an open channel, if no other replica took it,
// and queues it.
func (d *Dispatcher) probe(ctx context.Context, name string) {
	d.mu.Lock()
	full := len(d.held) >= d.o.Window || d.state != running
	d.mu.Unlock()
	if full {
		return
	}
	ch, ok := d.o.Resolve(name)
	if !ok {
		return
	}
	ch = ch.withDefaults()
	x, ok, err := d.o.Store.ClaimProbe(ctx, d.o.Owner, name, ch.Timeout+d.o.LeaseMargin)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("cannot claim a probe", "channel", name, "error", err)
		}
		return
	}
	if !ok {
		return
	}
	d.log.Debug("probing open channel", "channel", name, "delivery", x.ID)
	d.mu.Lock()
	if d.state != running {
		d.releases = append(d.releases, x.ID)
		d.mu.Unlock()
		signal(d.flush)
		return
	}
	d.addLocked(x, x.LeaseUntil)
	if it := d.held[x.ID]; it != nil {
		it.probe = true
	}
	d.mu.Unlock()
}

// summary writes the periodic line about an open channel, once per
// SummaryInterval across replicas.
func (d *Dispatcher) summary(ctx context.Context, name string, b store.Breaker) {
	ok, err := d.o.Store.ClaimSummary(ctx, name, SummaryInterval)
	if err != nil || !ok {
		return
	}
	pending, _ := d.o.Store.ParkedCount(ctx, name)
	now := d.o.Now()
	d.log.Warn("channel still open", "channel", name, "open_for", now.Sub(b.OpenedAt).Round(time.Second).String(),
		"pending", pending, "next_probe_in", max(0, b.ProbeAt.Sub(now)).Round(time.Second).String(), "error", b.LastError)
}

// deadNotices announces the deliveries that went dead since the last
// call, one notice per channel.
func (d *Dispatcher) deadNotices(ctx context.Context) {
	d.mu.Lock()
	dead, lastErr := d.dead, d.deadErr
	d.dead, d.deadErr = map[string]map[string]int{}, map[string]string{}
	d.mu.Unlock()
	for name, byRule := range dead {
		ch, ok := d.o.Resolve(name)
		if !ok || ch.OnFailure == "" {
			continue
		}
		n := 0
		for _, c := range byRule {
			n += c
		}
		d.notice(ctx, ch.OnFailure, notice{Event: NoticeDead, Channel: name, Dead: n, DeadByRule: byRule,
			Error: lastErr[name], At: d.o.Now()})
	}
}
