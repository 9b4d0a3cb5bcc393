// Package silence keeps the silences in force, compiled, for routing: each
// replica refreshes them from the store every second, so a silence added
// anywhere mutes everywhere within about a second.
package silence

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-dev/switchboard/internal/logrepeat"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// DefaultInterval is how often the silences are read from the store.
const DefaultInterval = time.Second

// refreshTimeout bounds one read of the silences.
const refreshTimeout = 10 * time.Second

// Options configure a Cache.
type Options struct {
	// Store holds the silences. Required.
	Store *store.Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Interval is how often silences are refreshed (default 1 s).
	Interval time.Duration
	Logger   *slog.Logger
}

// active is one silence in force with its compiled matcher.
type active struct {
	s       store.Silence
	matcher *router.Matcher // nil: every message
}

// Cache holds the silences in force. It is safe for concurrent use.
type Cache struct {
	o    Options
	list atomic.Pointer[[]active]
	// repeats keeps a store that does not answer to a line a minute.
	repeats logrepeat.Limiter

	mu  sync.Mutex
	bad map[string]bool // silences whose expression no longer compiles, logged once
	// compiled keeps matchers across refreshes, by silence ID.
	compiled map[string]*router.Matcher
}

// New returns an empty Cache; Run or Refresh fill it.
func New(o Options) *Cache {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{o: o, bad: map[string]bool{}, compiled: map[string]*router.Matcher{}}
	c.list.Store(&[]active{})
	return c
}

// Run refreshes the silences every Interval until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	for {
		c.repeats.Report(ctx, c.o.Logger, slog.LevelWarn, "cannot read silences; keeping the last ones read", c.Refresh(ctx))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reads the silences in force now.
func (c *Cache) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	list, err := c.o.Store.ActiveSilences(ctx, c.o.Now())
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]active, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, s := range list {
		seen[s.ID] = true
		a := active{s: s}
		if s.When != "" {
			m, ok := c.compiled[s.ID]
			if !ok {
				var err error
				m, err = router.CompileMatcher(s.When, c.o.Now)
				if err != nil {
					if !c.bad[s.ID] {
						c.bad[s.ID] = true
						c.o.Logger.Error("silence ignored: its expression does not compile", "silence", s.ID, "error", err)
					}
					continue
				}
				c.compiled[s.ID] = m
			}
			a.matcher = m
		}
		out = append(out, a)
	}
	for id := range c.compiled {
		if !seen[id] {
			delete(c.compiled, id)
		}
	}
	if prev := *c.list.Load(); len(prev) != len(out) {
		c.o.Logger.Info("silences in force", "count", len(out))
	}
	c.list.Store(&out)
	return nil
}

// Match returns the first silence in force at now (oldest first) that
// mutes rule on a message's data, or nil. A silence with a Rule mutes
// only that rule; with When, only messages where the expression is true
// (an evaluation error is no match).
func (c *Cache) Match(rule string, data map[string]any, now time.Time) *store.Silence {
	return c.MatchLazy(rule, func() map[string]any { return data }, now)
}

// MatchLazy is Match with the message's data got from data, which it
// calls only when a silence in force for rule has an expression: ingest
// decodes a message in full only then.
func (c *Cache) MatchLazy(rule string, data func() map[string]any, now time.Time) *store.Silence {
	list := *c.list.Load()
	for i := range list {
		a := &list[i]
		if a.s.State(now) != store.SilenceActive || a.s.Rule != "" && a.s.Rule != rule {
			continue
		}
		if a.matcher != nil {
			if ok, err := a.matcher.Match(data()); err != nil || !ok {
				continue
			}
		}
		s := a.s
		return &s
	}
	return nil
}

// Silenced adapts Match to the form the API and `test` take.
func (c *Cache) Silenced(rule string, data map[string]any, now time.Time) (id, reason string, ok bool) {
	return c.SilencedLazy(rule, func() map[string]any { return data }, now)
}

// SilencedLazy adapts MatchLazy to the form ingest takes.
func (c *Cache) SilencedLazy(rule string, data func() map[string]any, now time.Time) (id, reason string, ok bool) {
	if s := c.MatchLazy(rule, data, now); s != nil {
		return s.ID, s.Reason, true
	}
	return "", "", false
}
