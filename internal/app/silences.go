package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/internal/api"
	"github.com/switchboard-dev/switchboard/internal/silence"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/router"
)

// SilenceAddOptions are the settings of `switchboard silence add`.
type SilenceAddOptions struct {
	StoreOptions
	// Rules is the rules file a silence's Rule is checked against, with
	// Templates its templates directory (empty: next to it).
	Rules, Templates string
	// Force adds a silence of a rule that cannot be checked (the rules
	// file is elsewhere).
	Force                                   bool
	Rule, When, For, Starts, Reason, Author string
}

// SilenceAdd stores a silence and prints its ID and end. A silence of a
// rule that the rules file does not have, or when the rules file cannot
// be read, is refused: it would mute nothing.
func SilenceAdd(ctx context.Context, o SilenceAddOptions, stdout io.Writer) error {
	var rs *router.Ruleset
	if o.Rule != "" && !o.Force {
		loaded, _, err := load(ConfigOptions{Rules: o.Rules, Templates: o.Templates, CheckOnly: true})
		if err != nil {
			return fmt.Errorf("cannot check that rule %q exists: %s does not load (%v); fix it, point --rules at the rules file serve uses, or add --force", o.Rule, o.Rules, firstLine(err))
		}
		rs = loaded
		defer rs.Close()
	}
	author := o.Author
	if author == "" {
		author = "cli"
	}
	s, details := api.NewSilence(api.SilenceInput{
		Rule: o.Rule, When: o.When, Duration: o.For, StartsAt: o.Starts, Reason: o.Reason, Author: author,
	}, rs, time.Now())
	if len(details) > 0 {
		// Every one is about the command line (a missing --reason, a bad
		// --for): a usage error, exit 2, like any other command's; a rule
		// the rules file does not have is a finding, exit 1.
		var msgs []string
		usage := true
		for _, d := range details {
			msg := d.Message
			switch d.Field {
			case "duration":
				msg = "--for: a positive duration such as 30m, 2h or 72h (how long the silence lasts)"
			case "starts_at":
				msg = "--starts: use RFC 3339, e.g. 2026-11-22T18:00:00Z"
			case "reason":
				msg = "--reason: " + msg
			case "rule":
				usage = false
			}
			msgs = append(msgs, msg)
		}
		msg := strings.Join(msgs, "\n")
		if usage {
			return usagef("%s", msg)
		}
		return errors.New(msg)
	}
	st, err := openExistingStore(ctx, o.StoreOptions)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err = st.AddSilence(ctx, s)
	if err != nil {
		return err
	}
	what := "rule " + s.Rule
	switch {
	case s.Rule != "" && s.When != "":
		what += " where " + s.When
	case s.Rule == "":
		what = "messages where " + s.When
	}
	fmt.Fprintf(stdout, "%s silences %s until %s\n", s.ID, what, s.EndsAt.UTC().Format(time.RFC3339))
	return nil
}

// SilenceList prints the silences in force (and with all, those ended in
// the last 30 days).
func SilenceList(ctx context.Context, o StoreOptions, all, asJSON bool, stdout io.Writer) error {
	st, err := openExistingStore(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.Silences(ctx, all)
	if err != nil {
		return err
	}
	now := time.Now()
	if asJSON {
		out := make([]api.SilenceJSON, len(list))
		for i, s := range list {
			out[i] = api.SilenceJSON{Silence: s, State: s.State(now)}
		}
		return encodeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRULE\tWHEN\tENDS\tAUTHOR\tREASON")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State(now), dash(s.Rule), dash(truncate(s.When, 40)),
			s.EndsAt.UTC().Format(time.RFC3339), s.Author, truncate(s.Reason, 60))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// SilenceExpire ends silences now.
func SilenceExpire(ctx context.Context, o StoreOptions, ids []string, stdout io.Writer) error {
	st, err := openExistingStore(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	var errs []error
	for _, id := range ids {
		full, err := expandID(ctx, st, store.SilenceIDs, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s, err := st.ExpireSilence(ctx, full, time.Now())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		fmt.Fprintf(stdout, "%s expired at %s\n", s.ID, s.EndsAt.UTC().Format(time.RFC3339))
	}
	return errors.Join(errs...)
}

// silencesOf returns a matcher over the silences in force in st now.
func silencesOf(ctx context.Context, st *store.Store) func(rule string, data map[string]any, now time.Time) (string, string, bool) {
	c := silence.New(silence.Options{Store: st})
	if err := c.Refresh(ctx); err != nil {
		return nil
	}
	return c.Silenced
}

// firstLine returns the first line of an error's message.
func firstLine(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
