// Claiming due deliveries from the store and keeping the leases of those
// held in memory.

package delivery

import (
	"context"
	"log/slog"
	"time"
)

// pollLoop claims due deliveries every PollInterval, when woken, and when
// a retry this replica scheduled falls due.
func (d *Dispatcher) pollLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	nextPoll := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.refreshBreakers(ctx)
			d.poll(ctx)
			d.polls.Add(1)
			nextPoll = time.Now().Add(d.o.PollInterval)
		case <-d.wakeC:
			d.refreshBreakers(ctx)
			d.poll(ctx)
			d.polls.Add(1)
			nextPoll = time.Now().Add(d.o.PollInterval)
		case <-d.resched:
		}
		d.mu.Lock()
		if !d.nextDue.IsZero() {
			// A millisecond late, so that the retry is due when the claim
			// looks (the store rounds retry times up).
			due := time.Now().Add(d.nextDue.Sub(d.o.Now()) + time.Millisecond)
			if due.Before(nextPoll) {
				nextPoll = due
			}
			d.nextDue = time.Time{}
		}
		d.mu.Unlock()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(max(time.Until(nextPoll), 0))
	}
}

func (d *Dispatcher) poll(ctx context.Context) {
	d.escalate(ctx)
	for ctx.Err() == nil {
		d.mu.Lock()
		free := d.o.Window - len(d.held)
		d.mu.Unlock()
		if free <= 0 {
			return
		}
		limit := min(free, claimBatch)
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		ds, err := d.o.Store.Claim(cctx, d.o.Owner, d.o.Now(), DefaultTimeout+d.o.LeaseMargin, limit)
		cancel()
		d.repeats.Report(ctx, d.log, slog.LevelWarn, "cannot claim deliveries", err)
		if err != nil {
			return
		}
		d.mu.Lock()
		if d.state != running {
			// Claimed while shutting down: hand them straight back.
			for _, x := range ds {
				d.releases = append(d.releases, x.ID)
			}
			d.mu.Unlock()
			signal(d.flush)
			return
		}
		for _, x := range ds {
			d.addLocked(x, x.LeaseUntil)
		}
		d.mu.Unlock()
		if len(ds) < limit {
			return
		}
	}
}

// renewLoop keeps the leases of held deliveries from expiring while they
// wait in a queue or are being sent.
func (d *Dispatcher) renewLoop(ctx context.Context) {
	t := time.NewTicker(d.o.LeaseMargin / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.renew(ctx)
	}
}

func (d *Dispatcher) renew(ctx context.Context) {
	now := d.o.Now()
	due := map[time.Time][]string{} // new lease end → deliveries
	timeouts := map[string]time.Duration{}
	d.mu.Lock()
	for id, it := range d.held {
		if it.finishing || it.leaseUntil.After(now.Add(d.o.LeaseMargin)) {
			continue
		}
		timeout, ok := timeouts[it.d.Channel]
		if !ok {
			ch, _ := d.o.Resolve(it.d.Channel)
			timeout = ch.withDefaults().Timeout
			timeouts[it.d.Channel] = timeout
		}
		until := now.Add(timeout + d.o.LeaseMargin)
		due[until] = append(due[until], id)
	}
	d.mu.Unlock()
	for until, ids := range due {
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		renewed, err := d.o.Store.Renew(cctx, d.o.Owner, until, ids)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("cannot renew leases", "count", len(ids), "error", err)
			}
			continue
		}
		ok := make(map[string]bool, len(renewed))
		for _, id := range renewed {
			ok[id] = true
		}
		d.mu.Lock()
		for _, id := range ids {
			it := d.held[id]
			if it == nil {
				continue
			}
			if ok[id] {
				it.leaseUntil = until
				continue
			}
			if it.sending || it.finishing {
				continue // its outcome will be dropped as stale
			}
			d.log.Warn("lease lost while queued; another replica has the delivery",
				"delivery", id, "message", it.d.MessageID, "channel", it.d.Channel)
			d.dropQueuedLocked(it)
		}
		d.mu.Unlock()
	}
}

// ensureLease makes sure the lease covers a whole send with room to spare,
// renewing it if needed. It returns false, having dropped the delivery,
// when the lease has passed to someone else.
func (d *Dispatcher) ensureLease(it *item, ch Channel) bool {
	now := d.o.Now()
	d.mu.Lock()
	until := it.leaseUntil
	d.mu.Unlock()
	if !until.Before(now.Add(ch.Timeout + d.o.LeaseMargin/2)) {
		return true
	}
	newUntil := now.Add(ch.Timeout + d.o.LeaseMargin)
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	renewed, err := d.o.Store.Renew(ctx, d.o.Owner, newUntil, []string{it.d.ID})
	cancel()
	switch {
	case err != nil:
		// Send anyway: at worst another replica sends it too, and
		// receivers dedupe on the delivery ID.
		d.log.Warn("cannot renew lease before sending", "delivery", it.d.ID, "error", err)
		return true
	case len(renewed) == 0:
		d.log.Warn("lease lost before sending; another replica has the delivery",
			"delivery", it.d.ID, "message", it.d.MessageID, "channel", it.d.Channel)
		d.mu.Lock()
		delete(d.held, it.d.ID)
		d.mu.Unlock()
		return false
	}
	d.mu.Lock()
	it.leaseUntil = newUntil
	d.mu.Unlock()
	return true
}

// dropQueuedLocked forgets a delivery still waiting in its pool's queue.
func (d *Dispatcher) dropQueuedLocked(it *item) {
	delete(d.held, it.d.ID)
	p := d.pools[it.d.Channel]
	if p == nil {
		return
	}
	for i, q := range p.queue {
		if q == it {
			p.queue = append(p.queue[:i], p.queue[i+1:]...)
			return
		}
	}
}
