package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-dev/switchboard/internal/api"
	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/digest"
	"github.com/switchboard-dev/switchboard/internal/ingest"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/silence"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/web"
	"github.com/switchboard-dev/switchboard/router"
	"golang.org/x/time/rate"
)

// ServeOptions are the settings of `switchboard serve`.
type ServeOptions struct {
	Rules       string
	Templates   string
	Listen      string
	DataDir     string
	DatabaseURL secret.URL
	DryRun      bool
	AdminToken  secret.String
	// ShutdownGrace bounds how long in-flight deliveries may take to
	// finish on shutdown (default 10s).
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	// Reload receives a value for every SIGHUP.
	Reload <-chan os.Signal
	// Ready, if set, is called with the listening address once serving.
	Ready func(addr string)
}

// Serve runs the server until ctx is cancelled, then shuts down
// gracefully: ingest answers 503, in-flight deliveries finish within the
// grace period, leases are released.
func Serve(ctx context.Context, o ServeOptions) error {
	log := o.Logger
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	catalog, err := lago.Load()
	if err != nil {
		return fmt.Errorf("load lago catalog: %w", err)
	}
	// Compiling a large rules file makes a lot of short-lived garbage:
	// collect it eagerly while loading so the peak stays low.
	gcPercent := debug.SetGCPercent(30)
	reloader, err := router.NewReloader(router.LoadOptions{
		RulesPath: o.Rules, TemplatesDir: o.Templates, DryRun: o.DryRun, Logger: log, Catalog: catalog,
	}, log, m, func(_, rs *router.Ruleset) {
		initRuleMetrics(m, rs)
		// Compiling a large rules file allocates several times what the
		// result keeps; hand that memory back instead of holding it.
		debug.FreeOSMemory()
	})
	if _, set := os.LookupEnv("GOGC"); !set {
		// Serving allocates short-lived request garbage over a small live
		// heap: collecting at 3× the live heap instead of 2× takes a
		// sixth off the CPU per message (bench/) for a few more MB.
		gcPercent = servingGCPercent
	}
	debug.SetGCPercent(gcPercent)
	if err != nil {
		var le *router.LoadError
		if errors.As(err, &le) {
			for _, d := range le.Diagnostics {
				log.Error("configuration", "problem", d.String())
			}
		}
		return fmt.Errorf("load configuration: %w", err)
	}
	// The notifiers of the Ruleset in use at the end hold idle
	// connections; release them once everything has stopped.
	defer func() { reloader.Current().Close() }()
	rs := reloader.Current()
	initRuleMetrics(m, rs)
	debug.FreeOSMemory()
	router.LogWarnings(log, rs.Warnings)
	if o.DryRun {
		log.Warn("dry run: notifications are rendered and logged, never sent")
	}

	st, err := store.Open(ctx, store.Options{DataDir: o.DataDir, DatabaseURL: o.DatabaseURL.Reveal(), Metrics: m})
	if err != nil {
		return fmt.Errorf("open store: %w", secretFree(err, o.DatabaseURL))
	}
	defer st.Close()

	owner := ownerName()
	disp := delivery.New(delivery.Options{
		Store: st, Owner: owner, Logger: log, Metrics: m, ShutdownGrace: o.ShutdownGrace,
		Resolve: func(name string) (delivery.Channel, bool) {
			ch, ok := reloader.Current().Channels[name]
			if !ok || ch.Notifier == nil {
				return delivery.Channel{}, false
			}
			lim := rate.Inf
			if ch.RatePerSecond > 0 {
				lim = rate.Limit(ch.RatePerSecond)
			}
			return delivery.Channel{
				Notifier: ch.Notifier, Timeout: ch.Timeout, Concurrency: ch.Concurrency,
				Rate: lim, Burst: ch.Burst, MaxAttempts: ch.MaxAttempts, MaxAge: ch.MaxAge,
				Backoff: ch.Backoff, MaxBackoff: ch.MaxBackoff, Kind: ch.Kind, Pacing: ch.Pacing,
				DryRun: o.DryRun,
			}, true
		},
	})
	silences := silence.New(silence.Options{Store: st, Logger: log})
	if err := silences.Refresh(ctx); err != nil {
		log.Warn("cannot read silences yet; retrying every second", "error", err)
	}
	ing := ingest.New(ingest.Options{
		Rules: reloader.Current, Store: st, Dispatch: disp, Owner: owner, Logger: log, Metrics: m,
		Silenced: silences.Silenced,
	})

	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", ing)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	admin := api.New(api.Options{Token: o.AdminToken, Reload: reloader, Store: st, Catalog: catalog, Logger: log, Wake: disp.Wake,
		Silences: silences})
	admin.Register(mux)
	editor, err := web.New(web.Options{Token: o.AdminToken, API: mux, Reload: reloader, Store: st, Catalog: catalog, Logger: log, Wake: disp.Wake})
	if err != nil {
		return fmt.Errorf("editor: %w", err)
	}
	editor.Register(mux)
	if o.AdminToken.IsZero() {
		log.Warn("admin surface disabled (/api/v1, /ui, /-/reload answer 404): set SWITCHBOARD_ADMIN_TOKEN to enable it")
	}

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes(rs),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	log.Info("switchboard listening", "addr", ln.Addr().String(), "rules", o.Rules, "version", rs.Version,
		"sources", len(rs.Sources), "channels", len(rs.Channels), "rules_count", len(rs.Rules), "owner", owner)

	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var wg sync.WaitGroup
	dispDone := make(chan error, 1)
	flusher := digest.New(digest.Options{Store: st, Rules: reloader.Current, Logger: log, Metrics: m, Wake: disp.Wake})
	wg.Add(4)
	go func() { defer wg.Done(); flusher.Run(runCtx) }()
	go func() { defer wg.Done(); silences.Run(runCtx) }()
	go func() { defer wg.Done(); dispDone <- disp.Run(runCtx) }()
	go func() { defer wg.Done(); _ = reloader.Watch(runCtx) }()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-o.Reload:
				_ = reloader.Reload("SIGHUP", true)
			}
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if o.Ready != nil {
		o.Ready(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopRun()
		wg.Wait()
		return err
	}
	log.Info("shutting down: refusing new messages, finishing deliveries", "grace", o.ShutdownGrace)
	ing.Drain()
	shutCtx, cancel := context.WithTimeout(context.Background(), o.ShutdownGrace)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	stopRun()
	wg.Wait()
	if err := <-dispDone; err != nil && !errors.Is(err, context.Canceled) {
		log.Error("delivery shutdown", "error", err)
	}
	log.Info("stopped")
	return nil
}

// initRuleMetrics exports every rule's counters from the start, at 0, so
// that rates and alerts work before a rule first fires.
func initRuleMetrics(m *metrics.Metrics, rs *router.Ruleset) {
	// Series that exist at zero let rate() and absence alerts work from
	// the start. Thousands of per-customer rules would make thousands of
	// idle series (and tens of megabytes): beyond maxZeroSeriesRules, a
	// rule's series appear when it first matches.
	if len(rs.Rules) > maxZeroSeriesRules {
		return
	}
	for _, r := range rs.Rules {
		m.RuleMatches.WithLabelValues(r.Name)
		m.RuleErrors.WithLabelValues(r.Name)
	}
}

// servingGCPercent is the garbage collector's target while serving,
// unless GOGC is set.
const servingGCPercent = 200

// maxZeroSeriesRules is the most rules whose metric series are created
// at zero when loaded.
const maxZeroSeriesRules = 1000

// maxHeaderBytes allows Lago's JWT mode, where the whole body travels in a
// header: base64url of a JSON string escaping the body's quotes comes to
// 1.5–1.7 times the body, so allow twice the largest body limit.
func maxHeaderBytes(rs *router.Ruleset) int {
	largest := int64(router.DefaultMaxBody)
	for _, s := range rs.Sources {
		largest = max(largest, s.MaxBody)
	}
	return int(largest*2) + 64<<10
}

func ownerName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// secretFree removes a database URL's credentials from an error.
func secretFree(err error, u secret.URL) error {
	return errors.New(secret.Scrub(err.Error(), u.Reveal()))
}
