// A channel's delivery settings and their defaults.

package delivery

import (
	"time"

	"golang.org/x/time/rate"

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
