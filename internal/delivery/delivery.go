package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Channel defaults, applied to zero fields of a Channel.
const (
	// DefaultTimeout bounds one send attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultConcurrency is the most sends in progress per channel.
	DefaultConcurrency = 4
	// DefaultMaxAttempts is the most attempts per delivery.
	DefaultMaxAttempts = 12
	// DefaultMaxAge is how long after being queued a delivery is retried.
	DefaultMaxAge = 24 * time.Hour
	// DefaultRetryBackoff is the first retry delay; each next one is
	// BackoffFactor times longer, up to DefaultMaxBackoff.
	DefaultRetryBackoff = 5 * time.Second
	// DefaultMaxBackoff caps retry delays.
	DefaultMaxBackoff = 8 * time.Hour
	// BackoffFactor is how much longer each retry delay is than the last.
	BackoffFactor = 5
	// DefaultBreakerFailures is how many consecutive failures open a
	// channel's breaker.
	DefaultBreakerFailures = 5
	// DefaultProbe is the first interval between probes of an open
	// breaker; it doubles after each failed probe up to MaxProbe.
	DefaultProbe = 30 * time.Second
	// MaxProbe is the longest interval between probes (unless the
	// channel's probe interval is longer).
	MaxProbe = 5 * time.Minute
	// SummaryInterval is how often an open channel is summed up in the
	// log, and dead deliveries in on_failure notices.
	SummaryInterval = time.Minute
)

// Dispatcher defaults, applied to zero fields of Options.
const (
	// DefaultPollInterval is how often the store is polled.
	DefaultPollInterval = time.Second
	// DefaultShutdownGrace bounds the wait for sends at shutdown.
	DefaultShutdownGrace = 10 * time.Second
	// DefaultWindow is the most deliveries held in memory.
	DefaultWindow = 1024
	// DefaultLeaseMargin is how much longer than the channel's timeout a
	// lease runs; ingest leases new deliveries with the same margin.
	DefaultLeaseMargin = 15 * time.Second
	// DefaultStatsInterval is how often the queue gauges are refreshed.
	DefaultStatsInterval = 5 * time.Second
	// DefaultSweepInterval is how often the retention sweep runs.
	DefaultSweepInterval = time.Hour
)

const (
	// claimBatch bounds one Claim.
	claimBatch = 256
	// flushDelay is how long the outcome writer gathers outcomes before
	// writing them in one transaction.
	flushDelay = 5 * time.Millisecond
	// storeTimeout bounds each store call the Dispatcher makes.
	storeTimeout = 15 * time.Second
)

// Channel is the current delivery configuration of one channel.
type Channel struct {
	// Notifier sends deliveries. A nil Notifier counts as not configured.
	Notifier notifiers.Notifier
	// Timeout bounds one send attempt (default 10 s).
	Timeout time.Duration
	// Concurrency is the most sends in progress at once (default 4).
	Concurrency int
	// Rate and Burst limit sends per second; Rate <= 0 or rate.Inf means
	// no limit. Burst defaults to 1.
	Rate  rate.Limit
	Burst int
	// MaxAttempts and MaxAge bound retries (default 12 attempts, 24 h):
	// whichever is reached first makes the delivery dead.
	MaxAttempts int
	MaxAge      time.Duration
	// Backoff and MaxBackoff, when set, replace Options.Backoff for this
	// channel: Backoff·5^(n-1) capped at MaxBackoff, with ±20 % jitter.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Breaker opens the channel after Breaker.Failures consecutive
	// retryable failures (default 5) and probes it every Breaker.Probe
	// (default 30 s, doubling up to 5 min) until a send succeeds.
	Breaker store.BreakerPolicy
	// OnFailure names the channel that receives this channel's
	// operational notices (opened, recovered, deliveries dead); empty:
	// none.
	OnFailure string
	// Kind is the channel kind (slack, email, http), for pacing summaries.
	Kind string
	// Pacing, when positive, is the most deliveries that wait in this
	// replica's queue for the channel: the overflow is collapsed into one
	// summary delivery.
	Pacing int
	// Scrub, if set, removes the configuration's secret values (every
	// value a ${VAR} expanded to) from a failed attempt's error before it
	// is logged or stored: a peer or a resolver may echo them.
	Scrub func(string) string
	// DryRun says the Notifier only logs (serve --dry-run): a success is
	// recorded as dry_run, not delivered.
	DryRun bool
}

// scrubbedError is an error whose text had secret values removed; it
// still unwraps to the original for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func (c Channel) withDefaults() Channel {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Rate <= 0 {
		c.Rate = rate.Inf
	}
	if c.Burst <= 0 {
		c.Burst = 1
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Breaker.Failures <= 0 {
		c.Breaker.Failures = DefaultBreakerFailures
	}
	if c.Breaker.Probe <= 0 {
		c.Breaker.Probe = DefaultProbe
	}
	if c.Breaker.MaxProbe <= 0 {
		c.Breaker.MaxProbe = max(MaxProbe, c.Breaker.Probe)
	}
	return c
}

// Resolver returns the current configuration of a channel (the router's
// atomically swapped ruleset). ok=false means the channel no longer exists:
// its deliveries go dead with "channel X is not configured", to be replayed
// once the configuration is fixed.
type Resolver func(channel string) (c Channel, ok bool)

// Options configure a Dispatcher.
type Options struct {
	// Store is the outbox. Required.
	Store *store.Store
	// Resolve finds a channel's configuration at each send, so reloads
	// take effect at once. Required.
	Resolve Resolver
	// Owner names this replica in leases; unique per process. Required.
	Owner string
	// Logger receives one line per delivery outcome (default: discard).
	Logger *slog.Logger
	// Metrics, if not nil, receives the delivery metrics.
	Metrics *metrics.Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PollInterval is how often the store is polled for due deliveries
	// (default 1 s).
	PollInterval time.Duration
	// ShutdownGrace bounds how long Run waits for sends in progress after
	// its context is cancelled (default 10 s).
	ShutdownGrace time.Duration
	// Window is the most deliveries held in memory (default 1024).
	Window int
	// Backoff returns the delay after the attempt-th failed attempt
	// (counted from 1 since the delivery was queued or replayed); default
	// DefaultBackoff.
	Backoff func(attempt int) time.Duration
	// LeaseMargin is how much longer than a channel's timeout a lease runs
	// (default 15 s). Leases are renewed every LeaseMargin/3.
	LeaseMargin time.Duration
	// StatsInterval is how often queue gauges are refreshed from the store
	// (default 5 s).
	StatsInterval time.Duration
	// SweepInterval is how often the store's retention sweep runs (default
	// 1 h, the first at start; negative: never).
	SweepInterval time.Duration
}

// DefaultBackoff is the retry delay after the attempt-th failed attempt:
// 5 s·5^(attempt-1), capped at 8 h, with ±20 % jitter. See the package
// documentation for the schedule.
func DefaultBackoff(attempt int) time.Duration {
	return Exponential(DefaultRetryBackoff, DefaultMaxBackoff, attempt)
}

// Exponential is base·5^(attempt-1) (5 s, 25 s, 2 min, 10 min, 52 min, …
// for a 5 s base) with ±20 % jitter, capped at ceiling.
func Exponential(base, ceiling time.Duration, attempt int) time.Duration {
	d := ceiling
	if attempt < 1 {
		attempt = 1
	}
	if n := base; attempt <= 20 {
		for range attempt - 1 {
			n *= BackoffFactor
			if n >= ceiling {
				break
			}
		}
		d = min(n, ceiling)
	}
	fifth := d / 5
	return min(d-fifth+rand.N(2*fifth+1), ceiling)
}

// Dispatcher delivers this replica's share of the queue. Create it with
// New, feed it with Submit, and run it with Run.
type Dispatcher struct {
	o       Options
	log     *slog.Logger
	wakeC   chan struct{} // poll now (capacity 1)
	resched chan struct{} // nextDue changed (capacity 1)
	flush   chan struct{} // outcomes or releases are waiting (capacity 1)

	mu       sync.Mutex
	state    int
	held     map[string]*item
	pools    map[string]*pool
	nextDue  time.Time // earliest retry this replica scheduled
	outs     []store.Outcome
	releases []string
	defers   map[time.Time][]string // due time → deliveries to hand back unattempted
	// breakers is the last known breaker state of each channel, from the
	// store (shared by every replica) and this replica's own updates.
	breakers map[string]store.Breaker
	// dead counts deliveries gone dead since the last notice, by channel
	// and rule; deadErr is the last error per channel.
	dead    map[string]map[string]int
	deadErr map[string]string
	// lastSummary is when this replica last looked at writing a summary.
	lastSummary time.Time
	// lastDead is when dead deliveries were last announced; it starts at
	// New, so that the first notice gathers a whole interval.
	lastDead time.Time

	runCtx     context.Context
	sendCtx    context.Context // outlives runCtx by ShutdownGrace
	cancelSend context.CancelFunc
	workers    sync.WaitGroup
}

// Dispatcher states.
const (
	idle = iota
	running
	stopping
	stopped
)

// item is a delivery held in memory.
type item struct {
	d          store.Delivery
	leaseUntil time.Time
	sending    bool // a worker took it from its queue
	finishing  bool // its outcome or release is being written
	probe      bool // the probe of its channel's open breaker
	// summary, for a pacing summary, counts what it stands for by
	// message type.
	summary map[string]int
}

// pool is one channel's queue and workers.
type pool struct {
	name    string
	queue   []*item
	workers int // worker goroutines alive
	busy    int // workers with an item in hand
	limiter *rate.Limiter
	// collapsing is set while a pacing collapse is being written;
	// collapseAfter delays the next one after a failure.
	collapsing    bool
	collapseAfter time.Time
}

// New creates a Dispatcher. It starts nothing until Run.
func New(o Options) *Dispatcher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.LeaseMargin <= 0 {
		o.LeaseMargin = DefaultLeaseMargin
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = DefaultStatsInterval
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	return &Dispatcher{
		lastDead: o.Now(),
		o:        o,
		log:      o.Logger,
		wakeC:    make(chan struct{}, 1),
		resched:  make(chan struct{}, 1),
		flush:    make(chan struct{}, 1),
		held:     make(map[string]*item),
		pools:    make(map[string]*pool),
		defers:   make(map[time.Time][]string),
		breakers: make(map[string]store.Breaker),
		dead:     make(map[string]map[string]int),
		deadErr:  make(map[string]string),
	}
}

// Wake makes the poller look for due deliveries now, e.g. after a replay.
func (d *Dispatcher) Wake() { signal(d.wakeC) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Submit hands over deliveries that were just committed leased to this
// Dispatcher's Owner. It never blocks on the network: what does not fit in
// the window is released back to the store for the poller.
func (d *Dispatcher) Submit(ds []store.Delivery) {
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
func (d *Dispatcher) addLocked(x store.Delivery, leaseUntil time.Time) {
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
	dl, root, wait := d.joinConversation(it)
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
func notify(ctx context.Context, n notifiers.Notifier, dl notifiers.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = notifiers.Permanent(errPanic(r))
		}
	}()
	return n.Notify(ctx, dl)
}

// errPanic describes a notifier's panic.
func errPanic(r any) error { return fmt.Errorf("notifier panicked: %v", r) }

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

// Run delivers until ctx is cancelled, then shuts down gracefully (see the
// package documentation) and returns. It returns an error only if it could
// not hand back its work cleanly; Run may be called once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.o.Store == nil || d.o.Resolve == nil || d.o.Owner == "" {
		return errors.New("delivery: Store, Resolve and Owner are required")
	}
	d.mu.Lock()
	if d.state != idle {
		d.mu.Unlock()
		return errors.New("delivery: Run called twice")
	}
	d.state = running
	d.runCtx = ctx
	d.sendCtx, d.cancelSend = context.WithCancel(context.WithoutCancel(ctx))
	for _, p := range d.pools {
		d.kickLocked(p)
	}
	d.mu.Unlock()
	defer d.cancelSend()

	writerDone := make(chan error, 1)
	stopWriter := make(chan struct{})
	go func() { writerDone <- d.writeLoop(stopWriter) }()
	var bg sync.WaitGroup
	for _, loop := range []func(context.Context){d.pollLoop, d.renewLoop, d.statsLoop, d.sweepLoop} {
		bg.Add(1)
		go func() {
			defer bg.Done()
			loop(ctx)
		}()
	}

	<-ctx.Done()

	// Stop taking work and hand back what has not started.
	d.mu.Lock()
	d.state = stopping
	for _, p := range d.pools {
		for _, it := range p.queue {
			it.finishing = true
			d.releases = append(d.releases, it.d.ID)
		}
		clear(p.queue)
		p.queue = nil
	}
	d.mu.Unlock()
	signal(d.flush)
	bg.Wait()

	// Let sends in progress finish, within the grace period.
	sent := make(chan struct{})
	go func() {
		d.workers.Wait()
		close(sent)
	}()
	grace := time.NewTimer(d.o.ShutdownGrace)
	select {
	case <-sent:
	case <-grace.C:
		d.log.Warn("sends still running after the shutdown grace period; cancelling them", "grace", d.o.ShutdownGrace)
		d.cancelSend()
		<-sent
	}
	grace.Stop()

	close(stopWriter)
	err := <-writerDone
	d.mu.Lock()
	d.state = stopped // from here Submit releases by itself
	clear(d.held)
	d.mu.Unlock()

	// Whatever this replica still holds goes back to the queue: deliveries
	// committed by ingest but never submitted, releases submitted during
	// the final write, outcomes that could not be written.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if n, rerr := d.o.Store.Release(rctx, d.o.Owner); rerr != nil {
		err = errors.Join(err, fmt.Errorf("release leases: %w", rerr))
	} else if n > 0 {
		d.log.Info("released leases at shutdown", "count", n)
	}
	return err
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
		if err := d.flushOnce(); err != nil {
			d.log.Error("cannot record delivery outcomes; retrying", "error", err)
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
			nextPoll = time.Now().Add(d.o.PollInterval)
		case <-d.wakeC:
			d.refreshBreakers(ctx)
			d.poll(ctx)
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
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("cannot claim deliveries", "error", err)
			}
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

// statsLoop refreshes the queue gauges from the store.
func (d *Dispatcher) statsLoop(ctx context.Context) {
	m := d.o.Metrics
	if m == nil {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, storeTimeout)
		st, err := d.o.Store.Stats(cctx)
		cancel()
		if err == nil {
			for state, n := range st.ByState {
				m.DeliveriesByState.WithLabelValues(state).Set(float64(n))
			}
			m.DeliveriesPending.Set(float64(st.ByState[store.StatePending] + st.ByState[store.StateInFlight]))
			m.OldestPendingSeconds.Set(st.OldestPending.Seconds())
			d.refreshConversations(ctx, m)
		} else if ctx.Err() == nil {
			d.log.Warn("cannot read queue statistics", "error", err)
		}
		t.Reset(d.o.StatsInterval)
	}
}

// sweepLoop runs the store's retention sweep.
func (d *Dispatcher) sweepLoop(ctx context.Context) {
	if d.o.SweepInterval < 0 {
		return
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := d.o.Store.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Warn("retention sweep failed", "deleted", n, "error", err)
		case n > 0:
			d.log.Info("retention sweep", "deleted", n)
		}
		t.Reset(d.o.SweepInterval)
	}
}
