// The per-channel worker pools: taking held deliveries in turn and making
// one attempt at each.

package delivery

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Submit hands over deliveries that were just committed leased to this
// Dispatcher's Owner. It never blocks on the network: what does not fit in
// the window is released back to the store for the poller.
func (d *Dispatcher) Submit(ds []store.StoredDelivery) {
	var overflow []string
	d.mu.Lock()
	state := d.state
	for _, x := range ds {
		if state >= stopping || len(d.held) >= d.o.Window {
			overflow = append(overflow, x.ID)
			continue
		}
		d.addLocked(x, x.LeaseUntil)
	}
	if state < stopped && len(overflow) > 0 {
		d.releases = append(d.releases, overflow...)
		signal(d.flush)
	}
	d.mu.Unlock()
	if state == stopped && len(overflow) > 0 {
		// Run is over and nothing writes for us any more.
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if _, err := d.o.Store.Release(ctx, d.o.Owner, overflow...); err != nil {
			d.log.Warn("cannot release deliveries submitted after shutdown; they are retried when their leases expire",
				"count", len(overflow), "error", err)
		}
	}
}

// addLocked holds a delivery and queues it on its channel's pool.
func (d *Dispatcher) addLocked(x store.StoredDelivery, leaseUntil time.Time) {
	if it, ok := d.held[x.ID]; ok {
		// Claimed again (our own lease had expired): same delivery, newer
		// lease.
		if leaseUntil.After(it.leaseUntil) {
			it.leaseUntil = leaseUntil
		}
		return
	}
	it := &item{d: x, leaseUntil: leaseUntil}
	d.held[x.ID] = it
	p := d.pools[x.Channel]
	if p == nil {
		p = &pool{name: x.Channel, limiter: rate.NewLimiter(rate.Inf, 1)}
		d.pools[x.Channel] = p
	}
	p.queue = append(p.queue, it)
	d.kickLocked(p)
}

// concurrency is a channel's current bound on workers.
func (d *Dispatcher) concurrency(channel string) int {
	ch, ok := d.o.Resolve(channel)
	if !ok {
		return 1
	}
	return ch.withDefaults().Concurrency
}

// kickLocked starts workers for p's queue, up to its concurrency.
func (d *Dispatcher) kickLocked(p *pool) {
	if d.state != running {
		return
	}
	conc := d.concurrency(p.name)
	for p.workers < conc && p.workers-p.busy < len(p.queue) {
		p.workers++
		d.workers.Add(1)
		go d.work(p)
	}
}

// work sends p's queued deliveries one at a time until the queue is empty
// or the pool has more workers than its channel now allows.
func (d *Dispatcher) work(p *pool) {
	defer d.workers.Done()
	for {
		d.mu.Lock()
		if len(p.queue) == 0 || d.state != running || p.workers > d.concurrency(p.name) {
			p.workers--
			d.mu.Unlock()
			return
		}
		if over := d.overflowLocked(p); over != nil {
			d.mu.Unlock()
			d.collapse(p, over)
			continue
		}
		it := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.busy++
		d.mu.Unlock()

		d.process(p, it)

		d.mu.Lock()
		p.busy--
		d.mu.Unlock()
	}
}

// process makes one attempt at one delivery and queues its outcome.
func (d *Dispatcher) process(p *pool, it *item) {
	ch, ok := d.o.Resolve(it.d.Channel)
	if !ok || ch.Notifier == nil {
		err := fmt.Errorf("channel %q is not configured", it.d.Channel)
		d.finish(it, store.Outcome{Result: store.ResultDead, Error: err.Error()}, "", 0, err)
		return
	}
	ch = ch.withDefaults()
	if until, ok := d.holdItem(it); ok {
		// Open or paused: back to the store unattempted, no attempt row.
		d.deferItem(it, until)
		return
	}
	if p.limiter.Limit() != ch.Rate {
		p.limiter.SetLimit(ch.Rate)
	}
	if p.limiter.Burst() != ch.Burst {
		p.limiter.SetBurst(ch.Burst)
	}
	if err := p.limiter.Wait(d.runCtx); err != nil {
		d.release(it) // shutting down
		return
	}
	if !d.ensureLease(it, ch) {
		return
	}
	dl, root, wait := d.joinConversation(it, ch.Notifier)
	if wait {
		d.deferItem(it, d.o.Now().Add(conversationWait))
		return
	}
	d.mu.Lock()
	if d.state != running {
		d.mu.Unlock()
		d.release(it)
		return
	}
	it.sending = true
	d.mu.Unlock()

	started := d.o.Now()
	clock := time.Now()
	ctx, cancel := context.WithTimeout(d.sendCtx, ch.Timeout)
	err := d.notifyConversation(ctx, ch.Notifier, dl, root)
	cancel()
	elapsed := time.Since(clock)

	attempt := &store.Attempt{Owner: d.o.Owner, StartedAt: started, Duration: elapsed}
	out := store.Outcome{Attempt: attempt}
	now := d.o.Now()
	n := it.d.Attempts - it.d.QueuedAttempts + 1 // attempts since queued
	queuedAt := it.d.QueuedAt
	if queuedAt.IsZero() {
		queuedAt = it.d.CreatedAt
	}
	var retryIn time.Duration
	switch {
	case err == nil && ch.DryRun:
		attempt.Outcome, out.Result = store.ResultDryRun, store.ResultDryRun
	case err == nil:
		attempt.Outcome, out.Result = "success", store.ResultDelivered
	case d.sendCtx.Err() != nil:
		// Cut short by shutdown: not the peer's fault, try again at once
		// (here or on another replica).
		attempt.Outcome, out.Result, out.RetryAt = "retry", store.ResultRetry, now
		err = fmt.Errorf("interrupted by shutdown: %w", err)
	case notifiers.IsPermanent(err):
		attempt.Outcome, out.Result = "permanent", store.ResultDead
	case n >= ch.MaxAttempts:
		attempt.Outcome, out.Result = "retry", store.ResultDead
		err = fmt.Errorf("gave up after %d attempts: %w", n, err)
	default:
		attempt.Outcome = "retry"
		retryIn = d.o.Backoff(n)
		if ch.Backoff > 0 {
			retryIn = Exponential(ch.Backoff, max(ch.MaxBackoff, ch.Backoff), n)
		}
		if after, ok := notifiers.RetryAfter(err); ok && after > 0 {
			retryIn = after
		}
		out.RetryAt = now.Add(retryIn)
		if !queuedAt.IsZero() && out.RetryAt.Sub(queuedAt) > ch.MaxAge {
			out.Result = store.ResultDead
			err = fmt.Errorf("gave up: the next attempt would fall after the retry window (max_age %s): %w", ch.MaxAge, err)
		} else {
			out.Result = store.ResultRetry
		}
	}
	if err != nil && ch.Scrub != nil {
		err = &scrubbedError{msg: ch.Scrub(err.Error()), err: err}
	}
	if err != nil {
		attempt.Error, out.Error = err.Error(), err.Error()
	}
	d.finish(it, out, attempt.Outcome, retryIn, err)
	if d.sendCtx.Err() == nil {
		d.recordBreaker(it, ch, err)
	}
	if m := d.o.Metrics; m != nil {
		m.DeliveryDuration.WithLabelValues(it.d.Channel).Observe(elapsed.Seconds())
	}
}

// notify calls the notifier, turning a panic into a permanent error so
// that one broken delivery cannot take the process down.
func notify(ctx context.Context, n notifiers.Notifier, dl notifiers.Notification) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = notifiers.Permanent(errPanic(r))
		}
	}()
	return n.Notify(ctx, dl)
}

// errPanic describes a notifier's panic.
func errPanic(r any) error { return fmt.Errorf("notifier panicked: %v", r) }
