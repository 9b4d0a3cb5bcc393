// Package logrepeat keeps a failure that recurs every second (a loop
// that cannot reach its database) from flooding the log: its first
// occurrence is logged, then at most one line per interval with how many
// times it recurred, and one line when it stops.
package logrepeat

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultEvery is how often, at most, a recurring failure is logged again.
const DefaultEvery = time.Minute

// Limiter tracks runs of failures by message. The zero value is ready to
// use and logs again at most every DefaultEvery. It is safe for
// concurrent use.
type Limiter struct {
	// Every is how often, at most, a failure is logged again (default
	// DefaultEvery).
	Every time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	runs map[string]*run
}

// run is one message's current run of failures.
type run struct {
	logged   time.Time // when a line last said so
	repeated int       // failures since that line
	total    int       // failures in the run
}

// Report records the outcome of one try of what msg names: err nil ends
// msg's run of failures (see ok); otherwise the failure is logged, with
// err, as fail says, unless ctx is done (the loop is stopping, which is no
// failure).
func (l *Limiter) Report(ctx context.Context, log *slog.Logger, level slog.Level, msg string, err error) {
	switch {
	case err == nil:
		l.ok(log, msg)
	case ctx.Err() == nil:
		l.fail(log, level, msg, "error", err)
	}
}

// fail records a failure reported as msg with args: the first of a run
// is logged at level; later ones at most once per Every, with how many
// times it failed since the last line ("repeated").
func (l *Limiter) fail(log *slog.Logger, level slog.Level, msg string, args ...any) {
	now := l.now()
	l.mu.Lock()
	if l.runs == nil {
		l.runs = map[string]*run{}
	}
	r, ok := l.runs[msg]
	if !ok {
		r = &run{}
		l.runs[msg] = r
	}
	r.total++
	if ok && now.Sub(r.logged) < l.every() {
		r.repeated++
		l.mu.Unlock()
		return
	}
	repeated := r.repeated
	r.logged, r.repeated = now, 0
	l.mu.Unlock()
	if repeated > 0 {
		args = append(args, "repeated", repeated)
	}
	log.Log(context.Background(), level, msg, args...)
}

// ok ends msg's run of failures. If the run failed more than once, one
// line ("recovered") says that it stopped and how many times it failed.
func (l *Limiter) ok(log *slog.Logger, msg string) {
	l.mu.Lock()
	r, ok := l.runs[msg]
	if ok {
		delete(l.runs, msg)
	}
	l.mu.Unlock()
	if ok && r.total > 1 {
		log.Info("recovered", "from", msg, "failures", r.total)
	}
}

func (l *Limiter) every() time.Duration {
	if l.Every > 0 {
		return l.Every
	}
	return DefaultEvery
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}
