package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-dev/switchboard/internal/logrepeat"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
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
)

const (
	// claimBatch bounds one Claim.
	claimBatch = 256
	// flushDelay is how long the outcome writer gathers outcomes before
	// handing them to the store, which writes them in its next
	// transaction (with the messages being committed then, if any). A
	// statement's fixed cost dominates small batches: on SQLite, recording
	// 8 outcomes at once costs about 90 µs of CPU each, 32 about 31 µs
	// each (store's BenchmarkFinish). 20 ms gathers a few dozen at the
	// bench's rates; outcomes only wait, sends do not, and a graceful
	// shutdown flushes at once.
	flushDelay = 20 * time.Millisecond
	// storeTimeout bounds each store call the Dispatcher makes.
	storeTimeout = 15 * time.Second
)

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
}

// Dispatcher delivers this replica's share of the queue. Create it with
// New, feed it with Submit, and run it with Run.
type Dispatcher struct {
	o   Options
	log *slog.Logger
	// repeats keeps the store loops' recurring failures (a database that
	// does not answer) to one log line a minute each.
	repeats logrepeat.Limiter
	wakeC   chan struct{} // poll now (capacity 1)
	resched chan struct{} // nextDue changed (capacity 1)
	flush   chan struct{} // outcomes or releases are waiting (capacity 1)
	polls   atomic.Int64  // looks at the store finished (Polls)

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
	d          store.StoredDelivery
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

// Polls returns how many times the poller has finished looking for due
// deliveries (and escalations). Once it has grown by two after a change,
// one whole look saw the change: a test moves its clock, wakes the
// dispatcher and waits for that instead of sleeping.
func (d *Dispatcher) Polls() int64 { return d.polls.Load() }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
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
	for _, loop := range []func(context.Context){d.pollLoop, d.renewLoop} {
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
