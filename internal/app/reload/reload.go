// Package reload owns the Ruleset in use while serving: it loads the
// configuration, swaps in a new Ruleset only when the whole configuration
// is valid (keeping the old one and reporting the errors otherwise), and
// watches the rules file and templates directory with fsnotify, beside a
// slow poll. It is I/O around router.Load, which builds nothing itself.
package reload

import (
	"github.com/switchboard-dev/switchboard/router"

	"github.com/switchboard-dev/switchboard/config"

	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/switchboard-dev/switchboard/internal/metrics"
)

// Status describes the configuration currently loaded and the last attempt
// to load one.
type Status struct {
	// OK is false when the last attempt failed (the previous
	// configuration keeps routing).
	OK bool `json:"ok"`
	// Version is the content hash of the configuration in use.
	Version string `json:"version"`
	// LoadedAt is when the configuration in use was loaded.
	LoadedAt time.Time `json:"loaded_at"`
	// LastAttempt is when a load was last tried.
	LastAttempt time.Time `json:"last_attempt"`
	// Errors are the errors of the last failed attempt.
	Errors []config.Diagnostic `json:"errors"`
	// Warnings are the warnings of the configuration in use.
	Warnings []config.Diagnostic `json:"warnings"`
}

// Reloader owns the current Ruleset. Every change takes one path: parse,
// validate, compile, then an atomic swap — or, when anything is wrong,
// keep the old Ruleset and report the errors.
type Reloader struct {
	opts    router.LoadOptions
	logger  *slog.Logger
	metrics *metrics.Metrics
	// OnSwap, if set, is called after a new Ruleset replaced old.
	onSwap func(old, new *router.Ruleset)

	current atomic.Pointer[router.Ruleset]
	status  atomic.Pointer[Status]
	mu      sync.Mutex // serializes loads
	// failedVersion is the content hash of the last configuration that
	// failed, so an unchanged broken file is not reported over and over.
	failedVersion string

	// Debounce is how long the watcher waits for a burst of file events
	// to settle; Poll is how often it also re-reads the files, for
	// filesystems that send no events.
	Debounce time.Duration
	Poll     time.Duration
}

// New loads the configuration once. It fails if that first load
// fails: there is nothing to fall back on.
func New(o router.LoadOptions, logger *slog.Logger, m *metrics.Metrics, onSwap func(old, new *router.Ruleset)) (*Reloader, error) {
	o = o.WithDefaults()
	r := &Reloader{opts: o, logger: logger, metrics: m, onSwap: onSwap, Debounce: 200 * time.Millisecond, Poll: 5 * time.Second}
	rs, _, err := router.Load(o)
	now := o.Now()
	if err != nil {
		r.setMetrics(false, now)
		return nil, err
	}
	r.current.Store(rs)
	r.status.Store(&Status{OK: true, Version: rs.Version, LoadedAt: rs.LoadedAt, LastAttempt: now, Warnings: rs.Warnings})
	r.setMetrics(true, now)
	return r, nil
}

// Current returns the Ruleset in use.
func (r *Reloader) Current() *router.Ruleset { return r.current.Load() }

// Status returns the load status.
func (r *Reloader) Status() Status { return *r.status.Load() }

// Options returns the load options (paths, dry-run).
func (r *Reloader) Options() router.LoadOptions { return r.opts }

func (r *Reloader) setMetrics(ok bool, now time.Time) {
	if r.metrics == nil {
		return
	}
	if ok {
		r.metrics.ConfigLastReloadSuccessful.Set(1)
		r.metrics.ConfigLastReloadSuccessTimestamp.Set(float64(now.Unix()))
	} else {
		r.metrics.ConfigLastReloadSuccessful.Set(0)
	}
}

// Reload loads the configuration and swaps it in if it is valid. force
// reloads even when the files have not changed (SIGHUP, POST /-/reload).
// It returns the *LoadError when the new configuration was rejected.
func (r *Reloader) Reload(reason string, force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.current.Load()
	if !force {
		v, err := r.contentVersion()
		if err == nil && (v == cur.Version && r.status.Load().OK || v == r.failedVersion) {
			return nil
		}
	}
	now := r.opts.Now()
	rs, _, err := router.Load(r.opts)
	st := *r.status.Load()
	st.LastAttempt = now
	if err != nil {
		var le *config.LoadError
		if errors.As(err, &le) {
			st.Errors = le.Errors()
		}
		st.OK = false
		r.status.Store(&st)
		r.failedVersion, _ = r.contentVersion()
		r.setMetrics(false, now)
		r.logger.Error("configuration rejected; the previous rules keep routing",
			"reason", reason, "errors", len(st.Errors), "error", cur.Scrub(err.Error()))
		return err
	}
	r.failedVersion = ""
	r.current.Store(rs)
	r.status.Store(&Status{OK: true, Version: rs.Version, LoadedAt: rs.LoadedAt, LastAttempt: now, Warnings: rs.Warnings})
	r.setMetrics(true, now)
	LogWarnings(r.logger, rs.Warnings)
	r.logger.Info("configuration loaded", "reason", reason, "version", rs.Version,
		"previous", cur.Version, "rules", len(rs.Rules), "channels", len(rs.Channels), "sources", len(rs.Sources))
	if r.onSwap != nil {
		r.onSwap(cur, rs)
	}
	cur.Close()
	return nil
}

// maxLoggedWarnings bounds the warnings logged per load; `switchboard
// check` lists them all.
const maxLoggedWarnings = 20

// LogWarnings logs a configuration's warnings, at most maxLoggedWarnings.
func LogWarnings(logger *slog.Logger, ws []config.Diagnostic) {
	for i, w := range ws {
		if i == maxLoggedWarnings {
			logger.Warn("more configuration warnings not shown; run switchboard check to list them all", "more", len(ws)-i)
			return
		}
		logger.Warn("configuration warning", "warning", w.String())
	}
}

// contentVersion hashes the files as they are now on disk.
func (r *Reloader) contentVersion() (string, error) {
	return router.ContentVersion(r.opts)
}

// Watch reloads when the rules file or a template changes, until ctx ends.
// It watches the directories, not the files: editors replace files by
// renaming, and Kubernetes swaps a ..data symlink. Events are debounced,
// and a slow poll catches filesystems that send none.
func (r *Reloader) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	dirs := map[string]bool{filepath.Dir(r.opts.RulesPath): true, filepath.Clean(r.opts.TemplatesDir): true}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			r.logger.Warn("cannot watch directory; relying on polling", "dir", d, "error", err)
		}
	}
	var (
		timer   *time.Timer
		timerC  <-chan time.Time
		poll    = time.NewTicker(r.Poll)
		pending bool
	)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			if !pending {
				pending = true
				timer = time.NewTimer(r.Debounce)
				timerC = timer.C
			} else {
				timer.Reset(r.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.logger.Warn("file watcher error", "error", err)
		case <-timerC:
			pending, timerC = false, nil
			_ = r.Reload("file change", false)
		case <-poll.C:
			_ = r.Reload("poll", false)
		}
	}
}
