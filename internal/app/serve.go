package app

import (
	"github.com/switchboard-dev/switchboard/internal/app/reload"
	"github.com/switchboard-dev/switchboard/internal/signature"
	"github.com/switchboard-dev/switchboard/internal/wiring"

	"github.com/switchboard-dev/switchboard/config"

	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"golang.org/x/time/rate"

	"github.com/switchboard-dev/switchboard/internal/admission"
	"github.com/switchboard-dev/switchboard/internal/api"
	"github.com/switchboard-dev/switchboard/internal/delivery"
	"github.com/switchboard-dev/switchboard/internal/digest"
	"github.com/switchboard-dev/switchboard/internal/ingest"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/maintenance"
	"github.com/switchboard-dev/switchboard/internal/metrics"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/silence"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/web"
	"github.com/switchboard-dev/switchboard/router"
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
	// EditorVars is SWITCHBOARD_EDITOR_VARS: the environment variables a
	// channel written through the admin API or editor may reference
	// (names or patterns, see api.ParseEditorVars); empty: those the
	// rules file already references.
	EditorVars string
	// ShutdownGrace bounds the whole shutdown: requests and sends in
	// progress finish within it, and Serve returns by its end even if the
	// store does not answer (default 10s).
	ShutdownGrace time.Duration
	Logger        *slog.Logger
	// Reload receives a value for every SIGHUP.
	Reload <-chan os.Signal
	// Ready, if set, is called with the listening address once serving.
	Ready func(addr string)
	// MaxConnsPerClient bounds the connections open at once from one
	// client address (default DefaultMaxConnsPerClient; negative: no
	// bound). Behind a reverse proxy every connection comes from the
	// proxy's address: raise it or turn it off there.
	MaxConnsPerClient int
	// RequestMemory bounds the bytes of request headers and bodies held
	// at once (default DefaultRequestMemory; negative: no bound).
	RequestMemory int64
}

// MinAdminTokenLength is the shortest admin token Serve accepts.
const MinAdminTokenLength = 32

// Defaults for ServeOptions.
const (
	// DefaultMaxConnsPerClient is the most connections one client address
	// may hold open at once.
	DefaultMaxConnsPerClient = 64
	// DefaultRequestMemory is the request memory budget: enough for a
	// Lago JWT webhook of 8 MiB (its header, twice the body, counts three
	// times: 48 MiB, plus the body) beside the rest of the traffic.
	DefaultRequestMemory = 96 << 20
)

// Serve runs the server until ctx is cancelled, then shuts down
// gracefully: ingest answers 503, in-flight deliveries finish within the
// grace period, leases are released.
func Serve(ctx context.Context, o ServeOptions) error {
	s, err := build(ctx, o)
	if err != nil {
		return err
	}
	defer s.close()
	return s.run(ctx)
}

// server is everything Serve builds before it starts serving.
type server struct {
	o        ServeOptions
	log      *slog.Logger
	reloader *reload.Reloader
	st       *store.Store
	disp     *delivery.Dispatcher
	silences *silence.Cache
	budget   *admission.Budget
	ing      *ingest.Handler
	flusher  *digest.Flusher
	upkeep   *maintenance.Runner
	ln       *admission.Listener
	srv      *http.Server
	// undo holds what close reverts, in order (the soft memory limit).
	undo []func()
	// storeAbandoned is set when the shutdown grace ran out with the
	// store not answering: the store is left to the process's exit.
	storeAbandoned bool
}

// close releases what build acquired, however far it got: the soft
// memory limit, the store (unless abandoned), and the idle connections
// of the notifiers of the Ruleset in use at the end.
func (s *server) close() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	if s.st != nil && !s.storeAbandoned {
		s.st.Close()
	}
	if s.reloader != nil {
		s.reloader.Current().Close()
	}
}

// build loads the configuration, opens the store and builds every part of
// the server without starting any of them. On error it releases what it
// built.
func build(ctx context.Context, o ServeOptions) (_ *server, err error) {
	log := o.Logger
	if n := len(strings.TrimSpace(o.AdminToken.Reveal())); n > 0 && n < MinAdminTokenLength {
		return nil, fmt.Errorf("SWITCHBOARD_ADMIN_TOKEN has %d characters, want at least %d: a short token can be guessed (make one with: openssl rand -hex 32)",
			n, MinAdminTokenLength)
	}
	if o.ShutdownGrace == 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	if o.MaxConnsPerClient == 0 {
		o.MaxConnsPerClient = DefaultMaxConnsPerClient
	}
	if o.RequestMemory == 0 {
		o.RequestMemory = DefaultRequestMemory
	}
	s := &server{o: o, log: log}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	catalog, err := lago.Load()
	if err != nil {
		return nil, fmt.Errorf("load lago catalog: %w", err)
	}
	// Compiling a large rules file makes a lot of short-lived garbage:
	// collect it eagerly while loading so the peak stays low. (The file
	// is compiled a chunk of rules at a time, so little is live: at 50
	// a 10,000-rule start-up takes a sixth less time than at 30 for the
	// same resident memory after it.)
	gcPercent := debug.SetGCPercent(50)
	// retained is the store, once open: each new rules file sets its
	// message retention.
	var retained atomic.Pointer[store.Store]
	reloader, err := reload.New(router.LoadOptions{
		Builder:   wiring.Builder{},
		RulesPath: o.Rules, TemplatesDir: o.Templates, DryRun: o.DryRun, Logger: log, Catalog: catalog,
	}, log, m, func(_, rs *router.Ruleset) {
		initRuleMetrics(m, rs)
		prefetchKeys(ctx, log, rs)
		if st := retained.Load(); st != nil {
			st.SetMessageRetention(rs.MessageRetention)
		}
		// Compiling a large rules file allocates several times what the
		// result keeps; hand that memory back instead of holding it.
		releaseMemory()
	})
	if _, set := os.LookupEnv("GOGC"); !set {
		// Serving allocates short-lived request garbage over a small live
		// heap: collecting at 3× the live heap instead of 2× takes a
		// sixth off the CPU per message (bench/) for a few more MB.
		gcPercent = servingGCPercent
	}
	debug.SetGCPercent(gcPercent)
	if err != nil {
		var le *config.LoadError
		if errors.As(err, &le) {
			for _, d := range le.Diagnostics {
				log.Error("configuration", "problem", d.String())
			}
		}
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	s.reloader = reloader
	rs := reloader.Current()
	initRuleMetrics(m, rs)
	prefetchKeys(ctx, log, rs)
	reload.LogWarnings(log, rs.Warnings)
	if o.DryRun {
		log.Warn("dry run: notifications are rendered and logged, never sent")
	}

	s.st, err = store.Open(ctx, store.Options{DataDir: o.DataDir, DatabaseURL: o.DatabaseURL.Reveal(), Metrics: m})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", secretFree(err, o.DatabaseURL))
	}
	st := s.st
	st.SetMessageRetention(reloader.Current().MessageRetention)
	retained.Store(st)

	owner := ownerName()
	s.disp = delivery.New(delivery.Options{
		Store: st, Owner: owner, Logger: log, Metrics: m, ShutdownGrace: sendGrace(o.ShutdownGrace),
		Resolve: func(name string) (delivery.Channel, bool) {
			rs := reloader.Current()
			ch, ok := rs.Channels[name]
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
				Scrub:     rs.Scrub,
				Breaker:   store.BreakerPolicy{Failures: ch.BreakerFailures, Probe: ch.BreakerProbe},
				OnFailure: ch.OnFailure,
				DryRun:    o.DryRun,
			}, true
		},
	})
	disp := s.disp
	s.silences = silence.New(silence.Options{Store: st, Logger: log})
	if err := s.silences.Refresh(ctx); err != nil {
		log.Warn("cannot read silences yet; retrying every second", "error", err)
	}
	s.budget = admission.NewBudget(max(o.RequestMemory, 0))
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && s.budget.Limit() > 0 {
		// The collector lets the heap grow to 3× what is live
		// (servingGCPercent): under a flood that fills the request budget
		// the garbage it leaves would take the process far past it. A soft
		// limit makes the collector work harder near it instead.
		prev := debug.SetMemoryLimit(memoryLimit(s.budget.Limit()))
		s.undo = append(s.undo, func() { debug.SetMemoryLimit(prev) })
	}
	s.ing = ingest.New(ingest.Options{
		Rules: reloader.Current, Store: st, Dispatch: disp, Owner: owner, Logger: log, Metrics: m,
		Silenced: s.silences.SilencedLazy, Budget: s.budget,
	})

	mux := http.NewServeMux()
	mux.Handle("/webhooks/{source}", s.ing)
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
	editorVars, err := api.ParseEditorVars(o.EditorVars)
	if err != nil {
		return nil, err
	}
	failures := admission.NewAuthFailures(nil)
	admin := api.New(api.Options{Token: o.AdminToken, Reload: reloader, Store: st, Catalog: catalog, Logger: log, Wake: disp.Wake,
		Silences: s.silences, EditorVars: editorVars, Failures: failures})
	admin.Register(mux)
	editor, err := web.New(web.Options{Token: o.AdminToken, API: web.InProcess(mux, o.AdminToken), Catalog: catalog, Logger: log,
		Failures: failures})
	if err != nil {
		return nil, fmt.Errorf("editor: %w", err)
	}
	editor.Register(mux)
	if o.AdminToken.IsZero() {
		log.Warn("admin surface disabled (/api/v1, /ui, /-/reload answer 404): set SWITCHBOARD_ADMIN_TOKEN to enable it")
	}

	tcp, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, err
	}
	s.ln = admission.Listen(tcp, admission.Options{
		PerClient: max(o.MaxConnsPerClient, 0), Budget: s.budget, Logger: log,
		HeaderLimit: func(target string) int { return headerLimit(reloader.Current(), target) },
	})
	registerAdmissionMetrics(reg, s.ln, s.budget)
	s.srv = &http.Server{
		Handler:           s.ln.Handler(mux),
		ConnContext:       s.ln.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		// The listener enforces each target's own limit (headerLimit);
		// this is only the ceiling.
		MaxHeaderBytes: maxHeaderCeiling,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s.flusher = digest.New(digest.Options{Store: st, Rules: reloader.Current, Logger: log, Metrics: m, Wake: disp.Wake})
	s.upkeep = maintenance.New(maintenance.Options{Store: st, Logger: log, Metrics: m})
	// Loading the rules, opening the store and the rest of the start-up
	// leave garbage: hand it back now rather than hold it until the next
	// collection, which an idle server may not reach for minutes.
	releaseMemory()
	log.Info("switchboard listening", "addr", s.ln.Addr().String(), "rules", o.Rules, "version", rs.Version,
		"sources", len(rs.Sources), "channels", len(rs.Channels), "rules_count", len(rs.Rules), "owner", owner)
	return s, nil
}

// run starts the background loops and the HTTP server, and serves until
// ctx is cancelled (then shuts down) or the server fails.
func (s *server) run(ctx context.Context) error {
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var wg sync.WaitGroup
	dispDone := make(chan error, 1)
	wg.Add(7)
	go func() { defer wg.Done(); s.budget.Relieve(runCtx, time.Second) }()
	go func() { defer wg.Done(); s.upkeep.Run(runCtx) }()
	go func() { defer wg.Done(); s.flusher.Run(runCtx) }()
	go func() { defer wg.Done(); s.silences.Run(runCtx) }()
	go func() { defer wg.Done(); dispDone <- s.disp.Run(runCtx) }()
	go func() { defer wg.Done(); _ = s.reloader.Watch(runCtx) }()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-s.o.Reload:
				_ = s.reloader.Reload("SIGHUP", true)
			}
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.srv.Serve(s.ln) }()
	if s.o.Ready != nil {
		s.o.Ready(s.ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopRun()
		wg.Wait()
		return err
	}
	s.shutdown(stopRun, &wg, dispDone)
	return nil
}

// shutdown stops everything within the grace, however the store behaves:
// HTTP requests in progress and deliveries being sent finish side by side
// (a request that completes now hands its deliveries back to the queue),
// sends are cut short a little before the end so that their outcomes can
// be written, and the store is closed. stopRun stops the loops wg waits
// for; dispDone carries the dispatcher's result.
func (s *server) shutdown(stopRun context.CancelFunc, wg *sync.WaitGroup, dispDone <-chan error) {
	s.log.Info("shutting down: refusing new messages, finishing deliveries", "grace", s.o.ShutdownGrace)
	s.ing.Drain()
	shutCtx, cancel := context.WithTimeout(context.Background(), s.o.ShutdownGrace)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		httpDone := make(chan struct{})
		go func() { defer close(httpDone); _ = s.srv.Shutdown(shutCtx) }()
		stopRun()
		wg.Wait()
		<-httpDone
		if err := <-dispDone; err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("delivery shutdown", "error", err)
		}
		if err := s.st.Close(); err != nil {
			s.log.Error("close store", "error", err)
		}
	}()
	select {
	case <-stopped:
		s.log.Info("stopped")
	case <-shutCtx.Done():
		// The store does not answer (locked, unreachable): waiting on would
		// outlast the grace the operator gave, and the orchestrator would
		// kill the process anyway. Leases held expire, and other replicas
		// or the next start retry those deliveries; nothing acknowledged is
		// lost.
		s.storeAbandoned = true
		_ = s.srv.Close()
		s.log.Error("shutdown grace over with the store not answering: exiting without waiting for it; leased deliveries are retried once their leases expire",
			"grace", s.o.ShutdownGrace)
	}
}

// memoryLimit is the soft memory limit set for a request budget: room for
// the configuration, the queue and the workers, and twice the budget.
func memoryLimit(budget int64) int64 { return 192<<20 + 2*budget }

// sendGrace is how long deliveries being sent may take at shutdown: the
// grace less a reserve (a fifth, at most 2 s) for writing their outcomes
// and closing the store.
func sendGrace(grace time.Duration) time.Duration {
	return grace - min(grace/5, 2*time.Second)
}

// initRuleMetrics exports every channel's breaker series and every rule's
// counters (and open conversations, for rules that hold them) from the
// start, at 0, so that rates and alerts work before anything happens.
func initRuleMetrics(m *metrics.Metrics, rs *router.Ruleset) {
	for _, name := range rs.ChannelNames() {
		// Closed until the store says otherwise (within a poll).
		m.ChannelState.WithLabelValues(name)
		m.ChannelOpens.WithLabelValues(name)
	}
	for _, r := range rs.Rules {
		// Conversations count under the rule that opens them, not one
		// that resolves them.
		if c := r.Conversation(); c.Key != "" && c.Resolves == "" {
			m.OpenConversations.WithLabelValues(r.Name)
		}
	}
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

// prefetchKeys fetches, in the background, the signature keys of the
// sources that fetch theirs (lago jwt_public_key_url), and warns about each
// that cannot be had: until it can, that source's webhooks answer 503
// (each fetches it again, at most every few seconds).
func prefetchKeys(ctx context.Context, log *slog.Logger, rs *router.Ruleset) {
	for _, name := range slices.Sorted(maps.Keys(rs.Sources)) {
		p, ok := rs.Sources[name].Verifier.(signature.Prefetcher)
		if !ok {
			continue
		}
		go func() {
			if err := p.Prefetch(ctx); err != nil && ctx.Err() == nil {
				log.Warn("cannot fetch the source's signature key: its webhooks answer 503 until it can", "source", name, "error", rs.Scrub(err.Error()))
			}
		}()
	}
}

// releaseMemory collects the garbage a load leaves and hands the memory
// back to the system. It collects twice: the YAML parser pools its
// scanner state, holding the tokens of the last text it read (a chunk of
// a rules file), and a pooled value outlives the first collection after
// it was put back; the runs where one had happened since the last chunk
// was parsed idled 2 MB lower than the others.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// servingGCPercent is the garbage collector's target while serving,
// unless GOGC is set.
const servingGCPercent = 200

// maxZeroSeriesRules is the most rules whose metric series are created
// at zero when loaded.
const maxZeroSeriesRules = 1000

// maxHeaderCeiling is the server's header limit, above any target's own
// (headerLimit): 2 × 64 MiB bodies in a JWT header.
const maxHeaderCeiling = 128<<20 + 64<<10

// headerLimit is the header bytes a request to target may send. Lago's
// JWT mode carries the whole body in a header: base64url of a JSON string
// escaping the body's quotes comes to 1.5–1.7 times the body, so its
// webhook path allows twice the source's body limit. Every other target
// gets Go's default (1 MiB).
func headerLimit(rs *router.Ruleset, target string) int {
	name, ok := strings.CutPrefix(target, "/webhooks/")
	if !ok {
		return admission.DefaultHeaderLimit
	}
	name, _, _ = strings.Cut(name, "?")
	if src, ok := rs.Sources[name]; ok && src.Verification == "jwt" {
		return int(min(src.MaxBody*2+64<<10, maxHeaderCeiling))
	}
	return admission.DefaultHeaderLimit
}

// registerAdmissionMetrics exports the request memory in use and the
// connections the listener cut off.
func registerAdmissionMetrics(reg prometheus.Registerer, ln *admission.Listener, b *admission.Budget) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "switchboard", Name: "request_memory_bytes",
		Help: "Bytes of request headers and bodies held now (bounded by the request memory budget).",
	}, func() float64 { return float64(b.Used()) }))
	for _, reason := range []string{"per_client", "memory", "header_too_large"} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "switchboard", Name: "connections_refused_total",
			Help:        "Connections closed by admission control, by reason.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 {
			pc, mem, hdr := ln.Refused()
			switch reason {
			case "per_client":
				return float64(pc)
			case "memory":
				return float64(mem)
			}
			return float64(hdr)
		}))
	}
}

func ownerName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// secretFree removes a database URL's credentials from an error.
func secretFree(err error, u secret.URL) error {
	return errors.New(secret.ScrubURL(err.Error(), u.Reveal()))
}
