package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// report is one run: its settings, every target's result and the checks
// against the targets.
type report struct {
	Started      time.Time `json:"started"`
	Duration     string    `json:"duration"`
	Warmup       string    `json:"warmup"`
	Connections  int       `json:"connections"`
	CPUs         int       `json:"cpus"`
	GoVersion    string    `json:"go_version"`
	Store        string    `json:"store"`
	RelayWorkers int       `json:"relay_workers"`
	Concurrency  int       `json:"channel_concurrency"`
	Results      []result  `json:"results"`
	Ratios       []ratio   `json:"ratios"`
	Checks       []check   `json:"checks"`
}

// ratio compares one Switchboard target with one baseline.
type ratio struct {
	Target   string  `json:"target"`
	Baseline string  `json:"baseline"`
	ReqPerS  float64 `json:"req_per_sec"`
	P99      float64 `json:"p99"`
	CPU      float64 `json:"cpu_per_message"`
}

// check is one of the targets, evaluated on this run.
type check struct {
	Target string `json:"target"`
	Goal   string `json:"goal"`
	Value  string `json:"value"`
	Pass   bool   `json:"pass"`
}

// Columns of the results table, shared by the terminal, the markdown file
// and the README.
var columns = []string{"target", "req/s", "p50", "p99", "non-2xx", "deliveries/s", "drain", "CPU/msg", "startup", "idle RSS", "peak RSS"}

func (r result) row() []string {
	dash := "–"
	deliv, drain := dash, dash
	if r.DeliveriesExpected > 0 {
		deliv = fmt.Sprintf("%.0f", r.DeliveriesPerSec)
		drain = fmtDur(time.Duration(r.Drain))
		if !r.Drained {
			drain = fmt.Sprintf("timeout (%d/%d)", r.Delivered, r.DeliveriesExpected)
		}
	}
	non2xx := 0
	for _, n := range r.Rejected {
		non2xx += n
	}
	non2xx += r.Errors
	return []string{
		r.Target, fmt.Sprintf("%.0f", r.ReqPerSec), fmtDur(time.Duration(r.P50)), fmtDur(time.Duration(r.P99)),
		fmt.Sprint(non2xx), deliv, drain, fmtDur(time.Duration(r.CPUPerMessage)), fmtDur(time.Duration(r.Startup)),
		fmtBytes(r.IdleRSS), fmtBytes(r.PeakRSS),
	}
}

// ratios compares every Switchboard target with every baseline.
func ratios(rs []result, baselines map[string]bool) []ratio {
	var out []ratio
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	for _, s := range rs {
		if baselines[s.Target] || s.Requests == 0 || s.Down {
			continue
		}
		for _, b := range rs {
			if !baselines[b.Target] || b.Requests == 0 {
				continue
			}
			out = append(out, ratio{
				Target: s.Target, Baseline: b.Target,
				ReqPerS: div(s.ReqPerSec, b.ReqPerSec),
				P99:     div(float64(s.P99), float64(b.P99)),
				CPU:     div(float64(s.CPUPerMessage), float64(b.CPUPerMessage)),
			})
		}
	}
	return out
}

// checks evaluates the targets on the Switchboard results; on
// PostgreSQL the throughput goal is 0.4× the relay instead of 0.5×.
func checks(rs []result, connections int, postgres bool) []check {
	var out []check
	var relay, one *result
	for i := range rs {
		switch rs[i].Target {
		case "relay":
			relay = &rs[i]
		case "switchboard-1":
			one = &rs[i]
		}
	}
	for i := range rs {
		s := &rs[i]
		if s.Down && one != nil && one.ReqPerSec > 0 && s.Requests > 0 {
			x := s.ReqPerSec / one.ReqPerSec
			out = append(out, check{Target: s.Target, Goal: "req/s with the receiver down ≥ 0.8× healthy (switchboard-1)",
				Value: fmt.Sprintf("%.0f vs %.0f: %.2f×", s.ReqPerSec, one.ReqPerSec, x), Pass: x >= 0.8})
			continue
		}
		if s.Rules == 0 || s.Requests == 0 || s.Down {
			continue
		}
		add := func(goal, value string, pass bool) {
			out = append(out, check{Target: s.Target, Goal: goal, Value: value, Pass: pass})
		}
		if relay != nil && relay.ReqPerSec > 0 {
			x, goal := s.ReqPerSec/relay.ReqPerSec, 0.5
			if postgres {
				goal = 0.4
			}
			add(fmt.Sprintf("req/s ≥ %.1f× relay", goal), fmt.Sprintf("%.0f vs %.0f: %.2f×", s.ReqPerSec, relay.ReqPerSec, x), x >= goal)
		}
		if relay != nil && relay.CPUPerMessage > 0 && s == one {
			x := float64(s.CPUPerMessage) / float64(relay.CPUPerMessage)
			add("CPU/msg ≤ 1.5× relay", fmt.Sprintf("%s vs %s: %.2f×",
				fmtDur(time.Duration(s.CPUPerMessage)), fmtDur(time.Duration(relay.CPUPerMessage)), x), x <= 1.5)
		}
		add(fmt.Sprintf("p99 ≤ 20ms at %d connections", connections), fmtDur(time.Duration(s.P99)), time.Duration(s.P99) <= 20*time.Millisecond)
		if s.ReqPerSec > 0 {
			x := s.DeliveriesPerSec / s.ReqPerSec
			add("deliveries/s during load ≥ 0.9× req/s", fmt.Sprintf("%.0f vs %.0f: %.2f×", s.DeliveriesPerSec, s.ReqPerSec, x), x >= 0.9)
		}
		if one != nil && s != one && one.CPUPerMessage > 0 {
			x := float64(s.CPUPerMessage) / float64(one.CPUPerMessage)
			add("CPU/msg ≤ 2× switchboard-1 (routing cost)", fmt.Sprintf("%s vs %s: %.2f×",
				fmtDur(time.Duration(s.CPUPerMessage)), fmtDur(time.Duration(one.CPUPerMessage)), x), x <= 2)
		}
		add("peak RSS ≤ 150 MB (issue: over a 60 s run)", fmtBytes(s.PeakRSS), s.PeakRSS > 0 && s.PeakRSS <= 150e6)
		add("idle RSS ≤ 40 MB", fmtBytes(s.IdleRSS), s.IdleRSS > 0 && s.IdleRSS <= 40e6)
		if s.Rules >= 10000 {
			add("startup to ready ≤ 1s", fmtDur(time.Duration(s.Startup)), time.Duration(s.Startup) <= time.Second)
		}
	}
	return out
}

// write prints the table, the ratios and the checks.
func (rep *report) write(w io.Writer) {
	rows := [][]string{columns}
	for _, r := range rep.Results {
		rows = append(rows, r.row())
	}
	writeTable(w, 1, rows)
	for _, r := range rep.Results {
		if r.Err != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Target, r.Err)
		}
	}
	if len(rep.Ratios) > 0 {
		fmt.Fprintln(w, "\nSwitchboard ÷ baseline:")
		rows = [][]string{{"target", "baseline", "req/s", "p99", "CPU/msg"}}
		for _, x := range rep.Ratios {
			rows = append(rows, []string{x.Target, x.Baseline, fmtRatio(x.ReqPerS), fmtRatio(x.P99), fmtRatio(x.CPU)})
		}
		writeTable(w, 2, rows)
	}
	if rows := rep.outage(); rows != nil {
		fmt.Fprintln(w, "\nReceiver healthy vs down (same run):")
		writeTable(w, 1, rows)
	}
	if len(rep.Checks) > 0 {
		fmt.Fprintln(w, "\nTargets:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range rep.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Target, c.Goal, c.Value, c.verdict())
		}
		_ = tw.Flush()
	}
}

// writeTable prints rows as columns: the first left columns (names)
// left-aligned, the others (numbers) right-aligned.
func writeTable(w io.Writer, left int, rows [][]string) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			switch {
			case i == 0:
				b.WriteString(cell + pad)
			case i < left:
				b.WriteString("  " + cell + pad)
			default:
				b.WriteString("  " + pad + cell)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func (c check) verdict() string {
	if c.Pass {
		return "ok"
	}
	return "MISSED"
}

func fmtRatio(x float64) string { return fmt.Sprintf("%.2f×", x) }

// markdown renders the report for bench/results/ and the README.
func (rep *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark run %s\n\n", rep.Started.Format(time.RFC3339))
	fmt.Fprintf(&b, "%d connections, %s warm-up + %s measured per target, %d CPUs, %s, store: %s, relay workers: %d, channel concurrency: %d.\n\n",
		rep.Connections, rep.Warmup, rep.Duration, rep.CPUs, rep.GoVersion, rep.Store, rep.RelayWorkers, rep.Concurrency)
	b.WriteString("| " + strings.Join(columns, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(columns)) + "\n")
	for _, r := range rep.Results {
		b.WriteString("| " + strings.Join(r.row(), " | ") + " |\n")
	}
	for _, r := range rep.Results {
		if r.Err != "" {
			fmt.Fprintf(&b, "\n%s: %s\n", r.Target, strings.ReplaceAll(r.Err, "\n", " "))
		}
	}
	if len(rep.Ratios) > 0 {
		b.WriteString("\n| target | baseline | req/s | p99 | CPU/msg |\n| --- | --- | --- | --- | --- |\n")
		for _, x := range rep.Ratios {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", x.Target, x.Baseline, fmtRatio(x.ReqPerS), fmtRatio(x.P99), fmtRatio(x.CPU))
		}
	}
	if rows := rep.outage(); rows != nil {
		b.WriteString("\n| " + strings.Join(rows[0], " | ") + " |\n|" + strings.Repeat(" --- |", len(rows[0])) + "\n")
		for _, r := range rows[1:] {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
	}
	if len(rep.Checks) > 0 {
		b.WriteString("\n| target | goal | value | |\n| --- | --- | --- | --- |\n")
		for _, c := range rep.Checks {
			v := c.verdict()
			if !c.Pass {
				v = "**missed**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Target, c.Goal, c.Value, v)
		}
	}
	return b.String()
}

// save writes the report as JSON and markdown into dir, named by its
// start time.
func (rep *report) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := "bench-" + rep.Started.Format("20060102-150405")
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".md"), []byte(rep.markdown()), 0o644)
}

// fmtDur prints a duration with about three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// fmtBytes prints a size in MB (10^6 bytes), the unit of the issue's
// targets.
func fmtBytes(n int64) string {
	if n <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// outage compares the healthy and the receiver-down runs of the same
// configuration; nil without a receiver-down result.
func (rep *report) outage() [][]string {
	var rows [][]string
	for _, r := range rep.Results {
		if r.Target != "switchboard-1" && !r.Down {
			continue
		}
		if rows == nil {
			rows = [][]string{{"target", "receiver", "req/s", "p99", "attempts/s", "log lines", "log size"}}
		}
		state := "healthy"
		if r.Down {
			state = "down (503)"
		}
		rows = append(rows, []string{r.Target, state, fmt.Sprintf("%.0f", r.ReqPerSec), fmtDur(time.Duration(r.P99)),
			fmt.Sprintf("%.1f", r.AttemptsPerSec), fmt.Sprint(r.LogLines), fmt.Sprintf("%.1f KB", float64(r.LogBytes)/1e3)})
	}
	for _, r := range rep.Results {
		if r.Down {
			return rows
		}
	}
	return nil
}
