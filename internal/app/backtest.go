package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/backtest"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// BacktestOptions are the settings of `switchboard backtest`.
type BacktestOptions struct {
	// Candidate is the configuration to try.
	Candidate ConfigOptions
	// Against, if its Rules is set, is the configuration to compare with;
	// otherwise the report shows what the candidate alone would send.
	Against ConfigOptions
	// Store is read when Messages is empty.
	Store StoreOptions
	// Messages is a directory of JSON messages (see backtest.Dir).
	Messages string
	Filter   backtest.Filter
	// Format is text or json.
	Format string
	// FailOnChange makes the command fail (exit 1) when anything changes.
	FailOnChange bool
}

// Backtest replays stored messages through the candidate and the current
// configuration and prints what would change. Nothing is sent and the
// store is opened read-only. It returns ErrFailed (after printing the
// report) when FailOnChange is set and something changes.
func Backtest(ctx context.Context, o BacktestOptions, stdout, stderr io.Writer) error {
	if o.Format != "text" && o.Format != "json" {
		return usagef("--format: want text or json, got %q", o.Format)
	}
	cand, err := loadFor("candidate", o.Candidate, stderr)
	if err != nil {
		return err
	}
	defer cand.Close()
	var cur *router.Ruleset
	if o.Against.Rules != "" {
		cur, err = loadFor("--against", o.Against, stderr)
		if err != nil {
			return err
		}
		defer cur.Close()
	}
	var src backtest.Messages
	src, closeSrc, err := openMessages(ctx, o.Messages, o.Store, firstSource(cand))
	if err != nil {
		return err
	}
	defer closeSrc()
	rep, err := backtest.Run(ctx, src, backtest.Options{Candidate: cand, Current: cur, Filter: o.Filter})
	if err != nil {
		var de *backtest.DirError
		if errors.As(err, &de) {
			return de
		}
		return errors.New(scrubURL(err, o.Store))
	}
	if o.Format == "json" {
		if err := encodeJSON(stdout, rep); err != nil {
			return err
		}
	} else {
		against := "nothing (what the candidate alone would send)"
		if o.Against.Rules != "" {
			against = o.Against.Rules
		}
		fmt.Fprintf(stdout, "Backtest of %s against %s\n", o.Candidate.Rules, against)
		if err := backtest.WriteText(stdout, rep); err != nil {
			return err
		}
	}
	if o.FailOnChange && rep.Changed {
		return ErrFailed
	}
	return nil
}

// openMessages opens the messages a backtest reads: a directory, or the
// store opened read-only.
func openMessages(ctx context.Context, dir string, so StoreOptions, defSource string) (backtest.Messages, func(), error) {
	if dir != "" {
		return backtest.Dir{Path: dir, DefaultSource: defSource}, func() {}, nil
	}
	r, err := store.OpenReader(ctx, store.Options{DataDir: so.DataDir, DatabaseURL: so.DatabaseURL.Reveal()})
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %s", scrubURL(err, so))
	}
	return backtest.Stored{R: r}, func() { r.Close() }, nil
}

// UnmatchedOptions are the settings of `switchboard unmatched`.
type UnmatchedOptions struct {
	Config   ConfigOptions
	Store    StoreOptions
	Messages string
	Filter   backtest.Filter
	JSON     bool
}

// Unmatched prints the received messages that no rule matches, counted by
// type, with the most recent example of each.
func Unmatched(ctx context.Context, o UnmatchedOptions, stdout, stderr io.Writer) error {
	rs, err := loadFor("rules file", o.Config, stderr)
	if err != nil {
		return err
	}
	defer rs.Close()
	src, closeSrc, err := openMessages(ctx, o.Messages, o.Store, firstSource(rs))
	if err != nil {
		return err
	}
	defer closeSrc()
	rep, err := backtest.Unmatched(ctx, src, rs, o.Filter)
	if err != nil {
		var de *backtest.DirError
		if errors.As(err, &de) {
			return de
		}
		return errors.New(scrubURL(err, o.Store))
	}
	if o.JSON {
		return encodeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%d of %d messages matched no rule", rep.Unmatched, rep.Messages)
	if !rep.From.IsZero() {
		fmt.Fprintf(stdout, " since %s", rep.From.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(stdout)
	if len(rep.Types) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCOUNT\tTYPE\tSOURCE\tLAST SEEN\tEXAMPLE")
	for _, t := range rep.Types {
		typ := t.Type
		if typ == "" {
			typ = "(no type)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.Count, typ, t.Source, t.LastSeen.Format(time.RFC3339), t.ExampleID)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nWrite a rule for a type with `switchboard catalog TYPE` and the editor's rule builder (/ui/).")
	return nil
}

// loadFor compiles one side of a backtest; errors are printed with their
// positions and the command fails.
func loadFor(what string, o ConfigOptions, stderr io.Writer) (*router.Ruleset, error) {
	o.DryRun = true // nothing is sent: unset secrets do not matter
	rs, _, err := load(o)
	if err != nil {
		var le *config.LoadError
		if errors.As(err, &le) {
			fmt.Fprintf(stderr, "%s %s does not load:\n", what, o.Rules)
			for _, d := range le.Errors() {
				fmt.Fprintf(stderr, "  %s\n", d.String())
			}
			return nil, ErrFailed
		}
		return nil, err
	}
	return rs, nil
}

// scrubURL keeps a database URL's credentials out of an error.
func scrubURL(err error, s StoreOptions) string {
	msg := err.Error()
	if u := s.DatabaseURL.Reveal(); u != "" {
		msg = strings.ReplaceAll(msg, u, s.DatabaseURL.String())
	}
	return msg
}

// ParseSince reads a window length: a Go duration (36h, 90m) or a number
// of days (7d, 1d12h).
func ParseSince(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days int
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("want a duration such as 7d, 24h or 90m, got %q", s)
		}
		days, s = n, s[i+1:]
	}
	var rest time.Duration
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("want a duration such as 7d, 24h or 90m, got %q", s)
		}
		rest = d
	}
	d := time.Duration(days)*24*time.Hour + rest
	if d <= 0 {
		return 0, fmt.Errorf("want a positive duration such as 7d, 24h or 90m, got %q", s)
	}
	return d, nil
}

// ParseTime reads a window bound: RFC 3339 or a date (UTC midnight).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a time such as 2026-12-01T09:00:00Z or 2026-12-01, got %q", s)
}
