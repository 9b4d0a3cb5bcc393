package maintenance

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/internal/logrepeat"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/store"
)

// Defaults, applied to zero fields of Options.
const (
	// DefaultStatsInterval is how often the queue gauges are refreshed.
	DefaultStatsInterval = 5 * time.Second
	// DefaultSweepInterval is how often the retention sweep runs.
	DefaultSweepInterval = time.Hour
)

// storeTimeout bounds one statistics query.
const storeTimeout = 15 * time.Second

// Options configure a Runner.
type Options struct {
	// Store is the store kept. Required.
	Store *store.Store
	// Logger receives the sweep's results and the loops' failures
	// (default: discard).
	Logger *slog.Logger
	// Metrics, if not nil, receives the queue gauges; nil turns the
	// statistics loop off.
	Metrics *metrics.Metrics
	// StatsInterval is how often the queue gauges are refreshed from the
	// store (default 5 s, the first at start).
	StatsInterval time.Duration
	// SweepInterval is how often the store's retention sweep runs (default
	// 1 h, the first at start; negative: never).
	SweepInterval time.Duration
}

// Runner runs the store's upkeep loops. Create it with New and run it
// with Run.
type Runner struct {
	o Options
	// conversing are the rules the statistics loop has seen with open
	// conversations (that loop's own).
	conversing map[string]bool
	// repeats keeps a store that does not answer to a line a minute.
	repeats logrepeat.Limiter
}

// New returns a Runner. It starts nothing until Run.
func New(o Options) *Runner {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = DefaultStatsInterval
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	return &Runner{o: o}
}

// Run refreshes the gauges and sweeps until ctx is cancelled, and returns
// once both loops have stopped.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.statsLoop(ctx) })
	wg.Go(func() { r.sweepLoop(ctx) })
	wg.Wait()
}

// statsLoop refreshes the queue gauges from the store.
func (r *Runner) statsLoop(ctx context.Context) {
	m := r.o.Metrics
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
		st, err := r.o.Store.Stats(cctx)
		cancel()
		if err == nil {
			for state, n := range st.ByState {
				m.DeliveriesByState.WithLabelValues(state).Set(float64(n))
			}
			m.DeliveriesPending.Set(float64(st.ByState[store.StatePending] + st.ByState[store.StateInFlight]))
			m.OldestPendingSeconds.Set(st.OldestPending.Seconds())
			r.refreshConversations(ctx, m)
		}
		r.repeats.Report(ctx, r.o.Logger, slog.LevelWarn, "cannot read queue statistics", err)
		t.Reset(r.o.StatsInterval)
	}
}

// sweepLoop runs the store's retention sweep.
func (r *Runner) sweepLoop(ctx context.Context) {
	if r.o.SweepInterval < 0 {
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
		n, err := r.o.Store.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.o.Logger.Warn("retention sweep failed", "deleted", n, "error", err)
		case n > 0:
			r.o.Logger.Info("retention sweep", "deleted", n)
		}
		t.Reset(r.o.SweepInterval)
	}
}

// refreshConversations sets switchboard_open_conversations{rule}. A rule
// whose conversations have all closed reads 0 (its series stays, as the
// rules with conversations have one at 0 from the start).
func (r *Runner) refreshConversations(ctx context.Context, m *metrics.Metrics) {
	cctx, cancel := context.WithTimeout(ctx, storeTimeout)
	open, err := r.o.Store.OpenConversations(cctx)
	cancel()
	r.repeats.Report(ctx, r.o.Logger, slog.LevelWarn, "cannot count open conversations", err)
	if err != nil {
		return
	}
	for rule := range r.conversing {
		if _, ok := open[rule]; !ok {
			m.OpenConversations.WithLabelValues(rule).Set(0)
		}
	}
	if r.conversing == nil {
		r.conversing = map[string]bool{}
	}
	for rule, n := range open {
		r.conversing[rule] = true
		m.OpenConversations.WithLabelValues(rule).Set(float64(n))
	}
}
