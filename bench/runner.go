package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// dur is a duration that encodes to JSON as milliseconds.
type dur time.Duration

// MarshalJSON encodes d as a number of milliseconds.
func (d dur) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(d) / float64(time.Millisecond))
}

// result is one target's measurements. Rates are over the measured window
// only; the warm-up's messages count only towards the deliveries expected
// before the drain ends.
type result struct {
	Target      string `json:"target"`
	Description string `json:"description"`
	Rules       int    `json:"rules,omitempty"`
	// Requests is the number of 2xx answers in the window, Accepted the
	// 202s among them.
	Requests int `json:"requests"`
	Accepted int `json:"accepted"`
	// Rejected counts the other answers by status code, Errors the
	// requests without an answer.
	Rejected   map[string]int `json:"rejected,omitempty"`
	Errors     int            `json:"errors"`
	FirstError string         `json:"first_error,omitempty"`
	Window     dur            `json:"window_ms"`
	ReqPerSec  float64        `json:"req_per_sec"`
	P50        dur            `json:"p50_ms"`
	P99        dur            `json:"p99_ms"`
	P999       dur            `json:"p999_ms"`
	Max        dur            `json:"max_ms"`
	// Deliveries are counted by the sink; DeliveriesPerSec over the
	// measured window.
	DeliveriesExpected int64   `json:"deliveries_expected,omitempty"`
	Delivered          int64   `json:"delivered,omitempty"`
	DeliveriesPerSec   float64 `json:"deliveries_per_sec,omitempty"`
	// Drain is the time from the end of the load to the last expected
	// delivery; Drained is false when they did not all arrive in time.
	Drain   dur  `json:"drain_ms,omitempty"`
	Drained bool `json:"drained,omitempty"`
	// AttemptsPerSec counts the requests the sink received during the
	// window, answered or not (for a healthy sink, the deliveries).
	AttemptsPerSec float64 `json:"attempts_per_sec"`
	// LogLines and LogBytes are what the server wrote to its log from
	// start to the end of the window.
	LogLines int64 `json:"log_lines"`
	LogBytes int64 `json:"log_bytes"`
	// Down is set when the receiver was down the whole run.
	Down bool `json:"receiver_down,omitempty"`
	// CPUPerMessage is the server's CPU time (user + system, every
	// thread) during the window divided by the messages it accepted.
	CPUPerMessage dur    `json:"cpu_per_message_ms"`
	Startup       dur    `json:"startup_ms"`
	IdleRSS       int64  `json:"idle_rss_bytes"`
	PeakRSS       int64  `json:"peak_rss_bytes"`
	Err           string `json:"error,omitempty"`
}

// runTarget starts one target with its own sink, loads it, waits for its
// deliveries and stops it.
func runTarget(ctx context.Context, env *environment, t target) result {
	o := env.o
	r := result{Target: t.Name, Description: t.Description, Rules: t.Rules, Down: t.Down}
	fail := func(err error) result {
		r.Err = err.Error()
		return r
	}
	dir := filepath.Join(env.tmp, t.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	sk, err := startSink(t.Down)
	if err != nil {
		return fail(fmt.Errorf("start sink: %w", err))
	}
	defer sk.Close()

	bin, args, procEnv, err := command(env, t, dir, sk.URL())
	if err != nil {
		return fail(err)
	}
	srv, err := startServer(ctx, bin, args, procEnv, filepath.Join(dir, "server.log"))
	if err != nil {
		return fail(err)
	}
	defer srv.stop()
	pid := srv.Pid()
	r.Startup = dur(srv.Startup)
	if !sleep(ctx, o.Settle) {
		return fail(ctx.Err())
	}
	r.IdleRSS, _, _ = memory(pid)

	client := newLoadClient(o.Connections)
	defer client.CloseIdleConnections()
	spec := loadSpec{
		URL: "http://" + srv.addr + "/webhooks/lago", Body: invoiceBody, Connections: o.Connections,
		KeyPrefix: "bench-" + env.runID + "-" + t.Name + "-", Keys: &atomic.Int64{},
	}
	accepted := 0
	if o.Warmup > 0 {
		spec.Duration = o.Warmup
		accepted += runLoad(ctx, client, spec).Accepted
	}
	cpu0, _ := cpuTime(pid)
	sink0 := sk.Count()
	spec.Duration = o.Duration
	lr := runLoad(ctx, client, spec)
	sink1 := sk.Count()
	cpu1, _ := cpuTime(pid)
	accepted += lr.Accepted

	secs := lr.Elapsed().Seconds()
	r.Window = dur(lr.Elapsed())
	r.Requests, r.Accepted, r.Errors, r.FirstError = lr.OK, lr.Accepted, lr.Errors, lr.FirstError
	for code, n := range lr.Statuses {
		if r.Rejected == nil {
			r.Rejected = map[string]int{}
		}
		r.Rejected[strconv.Itoa(code)] = n
	}
	r.ReqPerSec = float64(lr.OK) / secs
	r.AttemptsPerSec = float64(sink1-sink0) / secs
	r.LogLines, r.LogBytes = countLines(srv.logPath)
	r.P50, r.P99 = dur(percentile(lr.Latencies, 50)), dur(percentile(lr.Latencies, 99))
	r.P999, r.Max = dur(percentile(lr.Latencies, 99.9)), dur(percentile(lr.Latencies, 100))
	if lr.Accepted > 0 && cpu1 > cpu0 {
		r.CPUPerMessage = dur((cpu1 - cpu0) / time.Duration(lr.Accepted))
	}
	if t.Deliveries > 0 {
		r.DeliveriesExpected = int64(accepted * t.Deliveries)
		r.DeliveriesPerSec = float64(sink1-sink0) / secs
		r.Drained = sk.waitFor(ctx, r.DeliveriesExpected, o.DrainTimeout)
		r.Delivered = sk.Count()
		if r.Drained {
			r.Drain = dur(max(0, sk.LastAt().Sub(lr.End)))
		}
	}
	_, r.PeakRSS, _ = memory(pid)

	select {
	case <-srv.exited:
		return fail(fmt.Errorf("exited during the run (%v); log:\n%s", srv.waitErr, tail(srv.logPath, 15)))
	default:
	}
	var problems []string
	if ctx.Err() != nil {
		problems = append(problems, "interrupted: "+ctx.Err().Error())
	}
	if lr.OK == 0 {
		problems = append(problems, errNoLoad.Error())
	}
	if lr.Errors > 0 {
		problems = append(problems, fmt.Sprintf("%d requests got no answer (first: %s)", lr.Errors, lr.FirstError))
	}
	if t.Deliveries > 0 && !r.Drained && ctx.Err() == nil {
		problems = append(problems, fmt.Sprintf("the sink got %d of %d deliveries within %s", r.Delivered, r.DeliveriesExpected, o.DrainTimeout))
	}
	if len(problems) > 0 {
		r.Err = strings.Join(problems, "; ")
	}
	return r
}

// countLines counts the lines and bytes of a log file (0 if unreadable).
func countLines(path string) (lines, size int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	return int64(strings.Count(string(b), "\n")), int64(len(b))
}

// command returns how to start a target.
func command(env *environment, t target, dir, sinkURL string) (bin string, args, procEnv []string, err error) {
	procEnv = cleanEnv()
	if t.Baseline != "" {
		return env.self, []string{"serve-baseline", "-kind", t.Baseline, "-listen", "127.0.0.1:0",
			"-dir", dir, "-sink", sinkURL, "-workers", strconv.Itoa(env.o.RelayWorkers)}, procEnv, nil
	}
	if env.sb == "" {
		return "", nil, nil, errors.New("no switchboard binary")
	}
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(rulesFile(env.catalog.Types(), t.Rules, sinkURL, env.o.Concurrency)), 0o644); err != nil {
		return "", nil, nil, err
	}
	args = []string{"serve", "--rules", rules, "--templates", filepath.Join(dir, "templates"),
		"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data")}
	if env.o.Postgres != "" {
		// Through the environment, so the URL is not on a command line.
		procEnv = append(procEnv, "SWITCHBOARD_DATABASE="+env.o.Postgres.Reveal())
	}
	return env.sb, args, procEnv, nil
}

// cleanEnv is the harness's environment without SWITCHBOARD_* settings,
// so that a developer's shell cannot change what is measured.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHBOARD_") {
			out = append(out, kv)
		}
	}
	sort.Strings(out)
	return out
}

// sleep waits d unless ctx ends first, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
