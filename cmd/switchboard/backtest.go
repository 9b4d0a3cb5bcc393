package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/backtest"
)

// windowFlags are the flags that select the messages of a backtest.
type windowFlags struct {
	since, from, to, source, typ *string
	limit                        *int
}

func (w *windowFlags) declare(f *flagSet, defSince string) {
	w.since = f.str("since", defSince, "replay the messages received this `DURATION` ago or later, e.g. 7d or 24h")
	w.from = f.str("from", "", "replay the messages received at this `TIME` or later (RFC 3339 or 2026-12-01); instead of --since")
	w.to = f.str("to", "", "replay the messages received before this `TIME`")
	w.source = f.str("source", "", "only messages of this `SOURCE`")
	w.typ = f.str("type", "", "only messages of this webhook `TYPE`")
	w.limit = f.integer("limit", 0, "at most `N` messages (the oldest of the window)")
}

func (w *windowFlags) filter(f *flagSet, now time.Time) (backtest.Filter, error) {
	flt := backtest.Filter{Source: *w.source, Type: *w.typ, Limit: *w.limit}
	if *w.limit < 0 {
		return flt, usageError("--limit must not be negative")
	}
	if *w.from != "" {
		if f.given("since") {
			return flt, usageError("give --since or --from, not both")
		}
		t, err := app.ParseTime(*w.from)
		if err != nil {
			return flt, usageError("--from: %v", err)
		}
		flt.From = t
	} else if *w.since != "" {
		d, err := app.ParseSince(*w.since)
		if err != nil {
			return flt, usageError("--since: %v", err)
		}
		// The window ends now (unless --to says otherwise), as the API's
		// does, and the JSON report says so.
		flt.From, flt.To = now.Add(-d), now
	}
	if *w.to != "" {
		t, err := app.ParseTime(*w.to)
		if err != nil {
			return flt, usageError("--to: %v", err)
		}
		flt.To = t
		if !flt.From.IsZero() && !flt.To.After(flt.From) {
			return flt, usageError("--to must be after the start of the window")
		}
	}
	return flt, nil
}

// interruptible is a context that SIGINT and SIGTERM cancel, so a long
// backtest stops when asked.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func backtestCommand(stdout, stderr io.Writer) *command {
	return &command{
		name:    "backtest",
		summary: "Replay stored messages through a changed rules file and report what would change.",
		details: `Every message of the window goes through the candidate (--rules) and the
current file (--against) in memory. The report lists, per rule and channel,
the notifications added, removed and changed (same message, different
content) with the first examples and a diff, counts per hour and day, and
what throttles, digests and quiet hours would have let through, simulated in
time order with each file's settings. Without --against it shows what the
candidate alone would have sent. Messages come from the store serve uses
(opened read-only) or from --messages DIR: *.jsonl files of
{"id", "source", "received_at", "body"} lines in time order, or *.json files
of one such envelope or one bare payload each.
Exit 1 with --fail-on-change when anything changes (a pull-request check).`,
		example: `switchboard backtest --rules rules.new.yaml --against rules.yaml --since 7d
switchboard backtest --rules rules.yaml --against main/rules.yaml --messages testdata/messages --fail-on-change
switchboard backtest --rules rules.new.yaml --against rules.yaml --from 2026-12-01 --to 2026-12-02 --type invoice.created --format json`,
		flags: func(f *flagSet) func([]string) error {
			rules, templates := configFlags(f)
			against := f.str("against", "", "the current rules `FILE` to compare with")
			againstTemplates := f.str("against-templates", "", "the templates `DIR` of --against")
			f.defaults["against-templates"] = "templates/ next to the --against file"
			store := storeFlags(f)
			messages := f.str("messages", "", "read messages from this `DIR` of JSON files instead of the store")
			var w windowFlags
			w.declare(f, "7d")
			f.defaults["since"] = "7d; with --messages, every message"
			format := f.str("format", "text", "the report's `FORMAT`: text or json")
			failOnChange := f.boolean("fail-on-change", "exit 1 when anything would change")
			return func(args []string) error {
				if err := noArgs("backtest", args); err != nil {
					return err
				}
				if *messages != "" && (f.given("data") || f.given("database")) {
					return usageError("give --messages or a store (--data, --database), not both")
				}
				if *messages != "" && !f.given("since") {
					*w.since = "" // a directory is replayed whole unless a window is given
				}
				flt, err := w.filter(f, time.Now())
				if err != nil {
					return err
				}
				ctx, cancel := interruptible()
				defer cancel()
				return app.Backtest(ctx, app.BacktestOptions{
					Candidate: app.ConfigOptions{Rules: *rules, Templates: *templates},
					Against:   app.ConfigOptions{Rules: *against, Templates: *againstTemplates},
					Store:     store(), Messages: *messages, Filter: flt,
					Format: *format, FailOnChange: *failOnChange,
				}, stdout, stderr)
			}
		},
	}
}

func unmatchedCommand(stdout, stderr io.Writer) *command {
	return &command{
		name:    "unmatched",
		summary: "Count the received messages that no rule matches, by type.",
		details: `Routes the stored messages of the window through the rules file (nothing is
sent; the store is opened read-only) and lists the types no rule matched,
most first, with the most recent example of each.`,
		example: `switchboard unmatched --since 24h
switchboard unmatched --rules rules.yaml --since 7d --json`,
		flags: func(f *flagSet) func([]string) error {
			rules, templates := configFlags(f)
			store := storeFlags(f)
			messages := f.str("messages", "", "read messages from this `DIR` of JSON files instead of the store")
			var w windowFlags
			w.declare(f, "24h")
			asJSON := f.boolean("json", "print JSON")
			return func(args []string) error {
				if err := noArgs("unmatched", args); err != nil {
					return err
				}
				flt, err := w.filter(f, time.Now())
				if err != nil {
					return err
				}
				ctx, cancel := interruptible()
				defer cancel()
				return app.Unmatched(ctx, app.UnmatchedOptions{
					Config: app.ConfigOptions{Rules: *rules, Templates: *templates},
					Store:  store(), Messages: *messages, Filter: flt, JSON: *asJSON,
				}, stdout, stderr)
			}
		},
	}
}
