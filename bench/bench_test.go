package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		var out []time.Duration
		for _, x := range xs {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 100 is the max", hundred, 99.9, 100 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p1 of 100", hundred, 1, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Fatalf("percentile(%v) = %s, want %s", tt.p, got, tt.want)
			}
		})
	}
}

// TestRulesFile loads the generated rules with the real router: the
// load's message matches exactly the one rule and is forwarded as is to
// the sink, and no catalog example matches any other rule.
func TestRulesFile(t *testing.T) {
	catalog, err := lago.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 77, 400} {
		t.Run(strconv.Itoa(n)+" rules", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "rules.yaml")
			src := rulesFile(catalog.Types(), n, "http://127.0.0.1:9/deliveries", 50)
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: filepath.Join(dir, "templates"), Catalog: catalog})
			if err != nil {
				t.Fatalf("load:\n%v\n%s", err, src[:min(len(src), 2000)])
			}
			if len(rs.Rules) != n {
				t.Fatalf("%d rules, want %d", len(rs.Rules), n)
			}
			if _, ok := rs.Sources["lago"]; !ok {
				t.Fatalf("sources %v, want lago", rs.SourceNames())
			}
			if ch := rs.Channels["sink"]; ch == nil || ch.Kind != "http" || ch.Concurrency != 50 {
				t.Fatalf("sink channel = %+v", ch)
			}
			res := routeBody(t, rs, invoiceBody)
			if !slices.Equal(res.Matched, []string{matchingRule}) || len(res.Errors) != 0 {
				t.Fatalf("matched %v, errors %v", res.Matched, res.Errors)
			}
			if len(res.Deliveries) != 1 || res.Deliveries[0].Channel != "sink" || res.Deliveries[0].Parts.Body != string(invoiceBody) {
				t.Fatalf("deliveries %+v", res.Deliveries)
			}
			for _, typ := range catalog.Types() {
				raw, _ := catalog.Example(typ.WebhookType)
				res := routeBody(t, rs, raw)
				want := []string(nil)
				if typ.WebhookType == "invoice.created" {
					want = []string{matchingRule}
				}
				if !slices.Equal(res.Matched, want) {
					t.Fatalf("%s matched %v, want %v", typ.WebhookType, res.Matched, want)
				}
			}
		})
	}
}

func TestRulesFileShape(t *testing.T) {
	types := []lago.Type{{WebhookType: "invoice.created", ObjectKey: "invoice"}, {WebhookType: "wallet.created", ObjectKey: "wallet"}}
	src := rulesFile(types, 4, "http://127.0.0.1:1/x", 16)
	for _, want := range []string{
		`when: 'webhook_type == "invoice.created" && invoice.lago_id == "00000000-0000-4000-8000-000000000000"'`,
		`when: 'webhook_type == "wallet.created" && wallet.lago_id == "00000000-0000-4000-8000-000000000001"'`,
		`when: 'webhook_type == "invoice.created" && invoice.lago_id == "00000000-0000-4000-8000-000000000002"'`,
		"  - name: invoice-created\n    when: webhook_type == \"invoice.created\"\n",
		`url: "http://127.0.0.1:1/x"`,
		"\n    concurrency: 16\n",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("rules file lacks %q:\n%s", want, src)
		}
	}
	if got := strings.Count(src, "  - name: "); got != 4 {
		t.Errorf("%d rules, want 4", got)
	}
}

func routeBody(t *testing.T, rs *router.Ruleset, body []byte) router.Result {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(body, &data); err != nil {
		t.Fatal(err)
	}
	return rs.Route(&router.Message{ID: "m1", Source: "lago", ReceivedAt: time.Now(), Body: body, Data: data})
}

// TestBaselines runs each baseline in process against a real sink and the
// real load generator: every request is answered 202, the fsync log holds
// every message, and the relay delivers every accepted message.
func TestBaselines(t *testing.T) {
	for _, kind := range []string{baselineBare, baselineFsync, baselineRelay} {
		t.Run(kind, func(t *testing.T) {
			sk, err := startSink(false)
			if err != nil {
				t.Fatal(err)
			}
			defer sk.Close()
			dir := t.TempDir()
			b, err := newBaseline(baselineOptions{Kind: kind, Dir: dir, SinkURL: sk.URL(), Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- b.serve(ctx, ln) }()
			defer func() {
				cancel()
				if err := <-served; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()

			base := "http://" + ln.Addr().String()
			client := newLoadClient(4)
			defer client.CloseIdleConnections()
			res := runLoad(context.Background(), client, loadSpec{
				URL: base + "/webhooks/lago", Body: invoiceBody, Connections: 4,
				Duration: 300 * time.Millisecond, KeyPrefix: "k-", Keys: &atomic.Int64{},
			})
			if res.Accepted == 0 || res.Accepted != res.OK || res.Errors != 0 || len(res.Statuses) != 0 {
				t.Fatalf("accepted %d, 2xx %d, errors %d (%s), other answers %v", res.Accepted, res.OK, res.Errors, res.FirstError, res.Statuses)
			}
			if len(res.Latencies) != res.OK || !slices.IsSorted(res.Latencies) {
				t.Fatalf("%d latencies for %d answers, sorted %v", len(res.Latencies), res.OK, slices.IsSorted(res.Latencies))
			}
			if res.Elapsed() < 300*time.Millisecond {
				t.Fatalf("load ran %s, want at least 300ms", res.Elapsed())
			}

			status, err := post(context.Background(), client, base+"/webhooks/lago", "bad", []byte("not json"))
			if err != nil || status != http.StatusBadRequest {
				t.Fatalf("invalid JSON: status %d, err %v", status, err)
			}

			switch kind {
			case baselineFsync, baselineRelay:
				log, err := os.ReadFile(filepath.Join(dir, "messages.log"))
				if err != nil {
					t.Fatal(err)
				}
				if got := bytes.Count(log, []byte("\n{")); got != res.Accepted {
					t.Fatalf("log holds %d messages, want %d", got, res.Accepted)
				}
				last := "k-" + strconv.Itoa(res.Accepted) + "\t"
				if !bytes.Contains(log, []byte(last)) {
					t.Fatalf("log lacks key %q", last)
				}
			}
			if kind == baselineRelay {
				if !sk.waitFor(context.Background(), int64(res.Accepted), 30*time.Second) {
					t.Fatalf("sink got %d of %d deliveries", sk.Count(), res.Accepted)
				}
				if got, want := sk.bytes.Load(), int64(res.Accepted*len(invoiceBody)); got != want {
					t.Fatalf("sink got %d bytes, want %d", got, want)
				}
				if sk.LastAt().IsZero() {
					t.Fatal("sink recorded no delivery time")
				}
			} else if sk.Count() != 0 {
				t.Fatalf("%s delivered %d messages", kind, sk.Count())
			}
		})
	}
}

// TestStartServer starts the relay baseline as a child process the way a
// run does, reads its memory and CPU time, and stops it.
func TestStartServer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	sk, err := startSink(false)
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := append(os.Environ(), childEnv+"=1")
	srv, err := startServer(context.Background(), self,
		[]string{"serve-baseline", "-kind", baselineRelay, "-dir", dir, "-sink", sk.URL(), "-workers", "2"},
		env, filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	if srv.Startup <= 0 || !strings.HasPrefix(srv.addr, "127.0.0.1:") {
		t.Fatalf("startup %s, addr %q", srv.Startup, srv.addr)
	}
	client := newLoadClient(2)
	defer client.CloseIdleConnections()
	status, err := post(context.Background(), client, "http://"+srv.addr+"/webhooks/lago", "one", invoiceBody)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("status %d, err %v", status, err)
	}
	if !sk.waitFor(context.Background(), 1, 30*time.Second) {
		t.Fatal("no delivery")
	}
	rss, peak, err := memory(srv.Pid())
	if err != nil || rss <= 0 || peak < rss {
		t.Fatalf("rss %d, peak %d, err %v", rss, peak, err)
	}
	if _, err := cpuTime(srv.Pid()); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	select {
	case <-srv.exited:
	default:
		t.Fatal("stop returned before the process exited")
	}
	if srv.waitErr != nil {
		t.Fatalf("baseline exited with %v; log:\n%s", srv.waitErr, tail(srv.logPath, 10))
	}
	srv.stop() // a second stop is harmless
}

func TestStartServerExitsEarly(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = startServer(context.Background(), self, []string{"serve-baseline", "-kind", "nonsense"},
		append(os.Environ(), childEnv+"=1"), filepath.Join(dir, "server.log"))
	if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), `unknown baseline \"nonsense\"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSelectTargets(t *testing.T) {
	all := targets(10000)
	tests := []struct {
		name    string
		only    []string
		want    []string
		wantErr bool
	}{
		{"all by default", nil, []string{"bare", "fsync", "relay", "switchboard-1", "switchboard-down", "switchboard-10000"}, false},
		{"some", []string{"relay", " switchboard-1"}, []string{"relay", "switchboard-1"}, false},
		{"switchboard means every Switchboard target", []string{"switchboard"}, []string{"switchboard-1", "switchboard-down", "switchboard-10000"}, false},
		{"unknown", []string{"bare", "nginx"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectTargets(all, tt.only)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if !slices.Equal(names(got), tt.want) {
				t.Fatalf("got %v, want %v", names(got), tt.want)
			}
		})
	}
	if got := names(targets(1)); !slices.Equal(got, []string{"bare", "fsync", "relay", "switchboard-1", "switchboard-down"}) {
		t.Fatalf("-rules 1: %v", got)
	}
}

// TestReport checks the ratios, the verdicts against the targets
// and both renderings.
func TestReport(t *testing.T) {
	ms := func(x float64) dur { return dur(x * float64(time.Millisecond)) }
	rs := []result{
		{Target: "relay", Requests: 10000, ReqPerSec: 10000, P99: ms(5), CPUPerMessage: ms(0.1), DeliveriesExpected: 1, Drained: true},
		{Target: "switchboard-1", Rules: 1, Requests: 6000, ReqPerSec: 6000, P99: ms(10), CPUPerMessage: ms(0.2),
			DeliveriesExpected: 1, DeliveriesPerSec: 5900, Drained: true, Drain: ms(40), Startup: ms(30), IdleRSS: 30e6, PeakRSS: 60e6},
		{Target: "switchboard-10000", Rules: 10000, Requests: 4000, ReqPerSec: 4000, P99: ms(25), CPUPerMessage: ms(0.5),
			DeliveriesExpected: 100, Delivered: 90, DeliveriesPerSec: 3000, Startup: ms(1500), IdleRSS: 50e6, PeakRSS: 160e6,
			Err: "the sink got 90 of 100 deliveries"},
		{Target: "switchboard-down", Rules: 1, Down: true, Requests: 5000, ReqPerSec: 5000, P99: ms(12),
			AttemptsPerSec: 0.2, LogLines: 3, LogBytes: 900},
	}
	rep := report{Connections: 50, Results: rs, Ratios: ratios(rs, map[string]bool{"relay": true}), Checks: checks(rs, 50, false)}
	if len(rep.Ratios) != 2 || rep.Ratios[0].ReqPerS != 0.6 || rep.Ratios[0].P99 != 2 || rep.Ratios[1].CPU != 5 {
		t.Fatalf("ratios %+v", rep.Ratios)
	}
	verdicts := map[string]bool{}
	for _, c := range rep.Checks {
		verdicts[c.Target+": "+c.Goal] = c.Pass
	}
	want := map[string]bool{
		"switchboard-1: req/s ≥ 0.5× relay":                                             true,
		"switchboard-1: p99 ≤ 20ms at 50 connections":                                   true,
		"switchboard-1: CPU/msg ≤ 1.5× relay":                                           false,
		"switchboard-1: deliveries/s during load ≥ 0.9× req/s":                          true,
		"switchboard-1: peak RSS ≤ 150 MB (issue: over a 60 s run)":                     true,
		"switchboard-1: idle RSS ≤ 40 MB":                                               true,
		"switchboard-10000: req/s ≥ 0.5× relay":                                         false,
		"switchboard-10000: p99 ≤ 20ms at 50 connections":                               false,
		"switchboard-10000: deliveries/s during load ≥ 0.9× req/s":                      false,
		"switchboard-10000: CPU/msg ≤ 2× switchboard-1 (routing cost)":                  false,
		"switchboard-10000: peak RSS ≤ 150 MB (issue: over a 60 s run)":                 false,
		"switchboard-10000: idle RSS ≤ 40 MB":                                           false,
		"switchboard-10000: startup to ready ≤ 1s":                                      false,
		"switchboard-down: req/s with the receiver down ≥ 0.8× healthy (switchboard-1)": true,
	}
	for k, v := range want {
		if got, ok := verdicts[k]; !ok || got != v {
			t.Errorf("%s: pass %v (present %v), want %v", k, got, ok, v)
		}
	}
	if len(verdicts) != len(want) {
		t.Errorf("checks %v", verdicts)
	}
	// On PostgreSQL the throughput goal is 0.4× the relay.
	rs[1].ReqPerSec = 4500
	for _, c := range checks(rs, 50, true) {
		if c.Target == "switchboard-1" && strings.HasPrefix(c.Goal, "req/s") && (c.Goal != "req/s ≥ 0.4× relay" || !c.Pass) {
			t.Errorf("on PostgreSQL: %+v", c)
		}
	}
	rs[1].ReqPerSec = 6000

	var out bytes.Buffer
	rep.write(&out)
	text := out.String()
	for _, s := range []string{
		"target             req/s  p50     p99  non-2xx",
		"switchboard-1       6000",
		"40.0ms",
		"timeout (90/100)",
		"switchboard-10000: the sink got 90 of 100 deliveries",
		"switchboard-1      relay     0.60×  2.00×",
		"Receiver healthy vs down (same run):",
		"switchboard-down  down (503)   5000  12.0ms         0.2          3    0.9 KB",
		"MISSED",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("output lacks %q:\n%s", s, text)
		}
	}
	md := rep.markdown()
	for _, s := range []string{
		"| " + strings.Join(columns, " | ") + " |",
		"| switchboard-1 | 6000 | 0 | 10.0ms | 0 | 5900 | 40.0ms | 200µs | 30.0ms | 30.0 MB | 60.0 MB |",
		"| switchboard-10000 | startup to ready ≤ 1s | 1.50s | **missed** |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}

	dir := t.TempDir()
	if err := rep.save(dir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "bench-*"))
	if len(files) != 2 || !strings.HasSuffix(files[0], ".json") || !strings.HasSuffix(files[1], ".md") {
		t.Fatalf("saved %v", files)
	}
	var back struct {
		Results []map[string]any `json:"results"`
	}
	js, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Results[1]["p99_ms"]; got != 10.0 {
		t.Fatalf("p99_ms = %v, want 10", got)
	}
}
