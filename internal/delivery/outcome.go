// Outcomes: logging and counting each attempt's result, and writing
// outcomes and releases to the store in small batches.

package delivery

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/switchboard-dev/switchboard/internal/store"
)

// finish logs and counts an outcome and queues it for writing.
func (d *Dispatcher) finish(it *item, out store.Outcome, attemptOutcome string, retryIn time.Duration, err error) {
	out.ID, out.Owner = it.d.ID, d.o.Owner
	attrs := []any{
		"delivery", it.d.ID, "message", it.d.MessageID, "rule", it.d.Rule, "channel", it.d.Channel,
		"attempt", it.d.Attempts + 1, "outcome", out.Result,
	}
	if err != nil {
		attrs = append(attrs, "error", err.Error())
	}
	switch out.Result {
	case store.ResultDelivered:
		// One line per notification sent, so that a log says what went
		// out; failures are warnings and errors.
		d.log.Info("delivered", attrs...)
	case store.ResultDryRun:
		// The dry-run notifier logged the notification itself.
	case store.ResultRetry:
		// One line per failed attempt would flood the log during an
		// outage: the breaker's open, summary and close lines say it.
		d.log.Debug("delivery failed; will retry", append(attrs, "retry_in", retryIn.Round(time.Millisecond).String())...)
	default:
		d.log.Error("delivery dead", attrs...)
		if it.d.Rule != NoticeRule {
			d.mu.Lock()
			byRule := d.dead[it.d.Channel]
			if byRule == nil {
				byRule = map[string]int{}
				d.dead[it.d.Channel] = byRule
			}
			byRule[it.d.Rule]++
			if err != nil {
				d.deadErr[it.d.Channel] = err.Error()
			}
			d.mu.Unlock()
		}
	}
	if m := d.o.Metrics; m != nil {
		if attemptOutcome != "" {
			m.DeliveryAttempts.WithLabelValues(it.d.Channel, attemptOutcome).Inc()
		}
		switch out.Result {
		case store.ResultDelivered:
			m.Deliveries.WithLabelValues(it.d.Channel, store.ResultDelivered).Inc()
			if !it.d.ReceivedAt.IsZero() {
				m.DeliveryLatency.WithLabelValues(it.d.Channel).Observe(d.o.Now().Sub(it.d.ReceivedAt).Seconds())
			}
		case store.ResultDead:
			m.Deliveries.WithLabelValues(it.d.Channel, store.ResultDead).Inc()
		case store.ResultDryRun:
			m.Deliveries.WithLabelValues(it.d.Channel, store.ResultDryRun).Inc()
		}
	}
	d.mu.Lock()
	it.finishing = true
	d.outs = append(d.outs, out)
	resched := out.Result == store.ResultRetry && (d.nextDue.IsZero() || out.RetryAt.Before(d.nextDue))
	if resched {
		d.nextDue = out.RetryAt
	}
	d.mu.Unlock()
	signal(d.flush)
	if resched {
		signal(d.resched)
	}
}

// release queues a held delivery's lease for release.
func (d *Dispatcher) release(it *item) {
	d.mu.Lock()
	it.finishing = true
	d.releases = append(d.releases, it.d.ID)
	d.mu.Unlock()
	signal(d.flush)
}

// writeLoop writes outcomes and releases in small batches until stop is
// closed, then writes what remains (retrying for a while if the store is
// unavailable).
func (d *Dispatcher) writeLoop(stop chan struct{}) error {
	backoff := time.Duration(0)
	for {
		select {
		case <-d.flush:
		case <-stop:
			return d.finalFlush()
		}
		// Gather a few milliseconds' worth, then write them together.
		t := time.NewTimer(flushDelay + backoff)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return d.finalFlush()
		}
		err := d.flushOnce()
		d.repeats.Report(context.Background(), d.log, slog.LevelError, "cannot record delivery outcomes; retrying", err)
		if err != nil {
			backoff = min(max(2*backoff, 100*time.Millisecond), 10*time.Second)
			signal(d.flush)
			continue
		}
		backoff = 0
	}
}

func (d *Dispatcher) finalFlush() error {
	deadline := time.Now().Add(storeTimeout)
	for {
		err := d.flushOnce()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// flushOnce writes the queued outcomes and releases. What fails stays
// queued for the next try.
func (d *Dispatcher) flushOnce() error {
	d.mu.Lock()
	outs, rels, defs := d.outs, d.releases, d.defers
	d.outs, d.releases, d.defers = nil, nil, make(map[time.Time][]string)
	d.mu.Unlock()
	if len(outs) == 0 && len(rels) == 0 && len(defs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	var errs []error
	if len(outs) > 0 {
		lost, err := d.o.Store.Finish(ctx, outs)
		if err != nil {
			errs = append(errs, err)
			d.mu.Lock()
			d.outs = append(outs, d.outs...)
			d.mu.Unlock()
		} else {
			for _, id := range lost {
				d.log.Warn("outcome not recorded: the lease passed to another replica, which will deliver it",
					"delivery", id)
			}
			d.forget(outs, nil)
		}
	}
	if len(rels) > 0 {
		if _, err := d.o.Store.Release(ctx, d.o.Owner, rels...); err != nil {
			errs = append(errs, err)
			d.mu.Lock()
			d.releases = append(rels, d.releases...)
			d.mu.Unlock()
		} else {
			d.forget(nil, rels)
		}
	}
	for until, ids := range defs {
		if _, err := d.o.Store.Defer(ctx, d.o.Owner, until, ids); err != nil {
			errs = append(errs, err)
			d.mu.Lock()
			d.defers[until] = append(d.defers[until], ids...)
			d.mu.Unlock()
		} else {
			d.forget(nil, ids)
		}
	}
	return errors.Join(errs...)
}

// forget drops written deliveries from memory, making room in the window;
// if the window was full, the poller looks for work at once.
func (d *Dispatcher) forget(outs []store.Outcome, ids []string) {
	d.mu.Lock()
	wasFull := len(d.held) >= d.o.Window
	for _, o := range outs {
		delete(d.held, o.ID)
	}
	for _, id := range ids {
		delete(d.held, id)
	}
	d.mu.Unlock()
	if wasFull {
		d.Wake()
	}
}
