package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/secret"
)

// invoiceBody is the body every request carries: a Lago invoice.created
// webhook of about 2.7 KB.
//
//go:embed testdata/invoice.created.json
var invoiceBody []byte

const modulePath = "github.com/switchboard-dev/switchboard"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the harness's settings.
type options struct {
	Duration     time.Duration
	Warmup       time.Duration
	Connections  int
	Only         []string
	Rules        int
	RelayWorkers int
	Concurrency  int
	DrainTimeout time.Duration
	Settle       time.Duration
	Postgres     secret.URL
	Switchboard  string
	ResultsDir   string
	KeepLogs     bool
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve-baseline" {
		return serveBaseline(args[1:], stderr)
	}
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured load per target (the issue's RSS run: -duration 60s)")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "load before the measured window, not counted")
	fs.IntVar(&o.Connections, "connections", 50, "concurrent keep-alive connections")
	only := fs.String("only", "", "comma-separated targets to run (default all): "+strings.Join(targetNames(10000), ", ")+"; \"switchboard\" means both Switchboard targets")
	fs.IntVar(&o.Rules, "rules", 10000, "rules in the large Switchboard target (1 matches, the rest never do)")
	fs.IntVar(&o.RelayWorkers, "relay-workers", 0, "outbound POST workers of the relay baseline, each with a keep-alive connection (default: -connections)")
	fs.IntVar(&o.Concurrency, "channel-concurrency", 0, "concurrency of Switchboard's sink channel, its sends in flight at once (default: -relay-workers, the relay's pool)")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 60*time.Second, "longest wait after the load for the sink to receive every delivery")
	fs.DurationVar(&o.Settle, "settle", time.Second, "wait after a target is ready before reading its idle RSS")
	pg := fs.String("postgres", "", "PostgreSQL URL: run Switchboard on it (--database) instead of the embedded SQLite")
	fs.StringVar(&o.Switchboard, "switchboard", "", "prebuilt switchboard binary (default: go build ./cmd/switchboard once)")
	fs.StringVar(&o.ResultsDir, "results", "", "directory for the JSON and markdown results (default bench/results in the module)")
	fs.BoolVar(&o.KeepLogs, "keep-logs", false, "keep the servers' logs and data in the temporary directory, and print where")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench takes no arguments (got %q)\n", fs.Args())
		return 2
	}
	if o.RelayWorkers == 0 {
		o.RelayWorkers = o.Connections
	}
	if o.Concurrency == 0 {
		o.Concurrency = o.RelayWorkers
	}
	if o.Duration <= 0 || o.Connections <= 0 || o.Rules < 1 || o.RelayWorkers < 1 || o.Concurrency < 1 {
		fmt.Fprintln(stderr, "bench: -duration, -connections, -rules, -relay-workers and -channel-concurrency must be positive")
		return 2
	}
	o.Postgres = secret.URL(*pg)
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

// target is one server the harness measures.
type target struct {
	Name        string
	Description string
	// Baseline is the kind of in-repo baseline; empty for Switchboard.
	Baseline string
	// Rules is the number of rules Switchboard runs with.
	Rules int
	// Deliveries is the number of sink deliveries per accepted message.
	Deliveries int
	// Down makes the sink answer 503 to everything for the whole run:
	// the receiver is down, nothing is ever delivered.
	Down bool
}

func targets(rules int) []target {
	ts := []target{
		{Name: "bare", Baseline: "bare", Description: "net/http: read body, decode JSON, 202"},
		{Name: "fsync", Baseline: "fsync", Description: "bare + group-committed fsync to a file"},
		{Name: "relay", Baseline: "relay", Deliveries: 1, Description: "fsync + one outbound POST per message (worker pool)"},
		{Name: "switchboard-1", Rules: 1, Deliveries: 1, Description: "switchboard serve, 1 rule"},
		{Name: "switchboard-down", Rules: 1, Down: true, Description: "switchboard serve, 1 rule, the receiver answering 503 the whole run"},
	}
	if rules > 1 {
		ts = append(ts, target{Name: fmt.Sprintf("switchboard-%d", rules), Rules: rules, Deliveries: 1,
			Description: fmt.Sprintf("switchboard serve, %d rules (1 matches)", rules)})
	}
	return ts
}

func targetNames(rules int) []string {
	var out []string
	for _, t := range targets(rules) {
		out = append(out, t.Name)
	}
	return out
}

// selectTargets applies -only.
func selectTargets(all []target, only []string) ([]target, error) {
	if len(only) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range only {
		want[strings.TrimSpace(n)] = true
	}
	var out []target
	for _, t := range all {
		if want[t.Name] || (want["switchboard"] && t.Baseline == "") {
			out = append(out, t)
			delete(want, t.Name)
		}
	}
	delete(want, "switchboard")
	for n := range want {
		return nil, fmt.Errorf("unknown target %q (known: %s)", n, strings.Join(names(all), ", "))
	}
	return out, nil
}

func names(ts []target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// environment is what every target's run shares.
type environment struct {
	o       options
	tmp     string
	self    string // this program, for the baselines
	sb      string // the switchboard binary
	catalog *lago.Catalog
	runID   string
	stderr  io.Writer
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	ts, err := selectTargets(targets(o.Rules), o.Only)
	if err != nil {
		return err
	}
	// A bound on the whole run, so that nothing can hang it: generous
	// per target, plus the build.
	perTarget := o.Warmup + o.Duration + o.DrainTimeout + o.Settle + 2*time.Minute
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute+time.Duration(len(ts))*perTarget)
	defer cancel()

	tmp, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return err
	}
	if o.KeepLogs {
		fmt.Fprintf(stderr, "logs and data are kept in %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program: %w", err)
	}
	catalog, err := lago.Load()
	if err != nil {
		return fmt.Errorf("load lago catalog: %w", err)
	}
	env := &environment{o: o, tmp: tmp, self: self, catalog: catalog, stderr: stderr,
		runID: fmt.Sprintf("%x", time.Now().UnixNano())}

	root, rootErr := moduleRoot()
	if o.ResultsDir == "" {
		if rootErr != nil {
			return fmt.Errorf("find the module for bench/results (or pass -results): %w", rootErr)
		}
		o.ResultsDir = filepath.Join(root, "bench", "results")
	}
	for _, t := range ts {
		if t.Baseline != "" {
			continue
		}
		env.sb = o.Switchboard
		if env.sb == "" {
			if rootErr != nil {
				return fmt.Errorf("find the module to build switchboard (or pass -switchboard): %w", rootErr)
			}
			fmt.Fprintln(stderr, "building switchboard…")
			env.sb = filepath.Join(tmp, "switchboard")
			if err := buildSwitchboard(ctx, root, env.sb); err != nil {
				return err
			}
		}
		break
	}

	fmt.Fprintf(stdout, "%d connections, %s warm-up + %s measured per target, %d CPUs, %s\n",
		o.Connections, o.Warmup, o.Duration, runtime.NumCPU(), runtime.Version())
	store := "SQLite (embedded default)"
	if o.Postgres != "" {
		store = "PostgreSQL " + o.Postgres.String()
	}
	started := time.Now().UTC()
	var results []result
	for _, t := range ts {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "== %s: %s\n", t.Name, t.Description)
		r := runTarget(ctx, env, t)
		if r.Err != "" {
			fmt.Fprintf(stderr, "   %s failed: %s\n", t.Name, r.Err)
		} else {
			fmt.Fprintf(stderr, "   %.0f req/s, p99 %s, peak RSS %s\n", r.ReqPerSec, fmtDur(time.Duration(r.P99)), fmtBytes(r.PeakRSS))
		}
		results = append(results, r)
	}
	baselines := map[string]bool{}
	for _, t := range ts {
		if t.Baseline != "" {
			baselines[t.Name] = true
		}
	}
	rep := report{
		Started: started, Duration: o.Duration.String(), Warmup: o.Warmup.String(),
		Connections: o.Connections, CPUs: runtime.NumCPU(), GoVersion: runtime.Version(),
		Store: store, RelayWorkers: o.RelayWorkers, Concurrency: o.Concurrency, Results: results,
	}
	rep.Ratios = ratios(results, baselines)
	rep.Checks = checks(results, o.Connections, o.Postgres != "")
	rep.write(stdout)
	if err := rep.save(o.ResultsDir); err != nil {
		fmt.Fprintln(stderr, "bench: save results:", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("run cut short: %w", ctx.Err())
	}
	return nil
}

// moduleRoot finds Switchboard's go.mod from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module "+modulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

func buildSwitchboard(ctx context.Context, root, out string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/switchboard")
	cmd.Dir = root
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/switchboard: %w\n%s", err, b)
	}
	return nil
}
