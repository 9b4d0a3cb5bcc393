package backtest

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes a report for people: the window, one line per rule and
// channel, the totals, the examples (with a diff for changed ones) and the
// counts per day.
func WriteText(w io.Writer, rep *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Window: %s\n", FormatWindow(rep))
	fmt.Fprintf(&b, "Messages: %d replayed, %d matched by the candidate", rep.Messages, rep.Matched)
	if rep.Errors > 0 {
		fmt.Fprintf(&b, ", %d errors", rep.Errors)
	}
	b.WriteString("\n\n")
	if len(rep.Rules) == 0 {
		b.WriteString("No rule matched any message on either side.\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tCHANNEL\tSTATUS\tADDED\tREMOVED\tCHANGED\tSENT BEFORE\tSENT AFTER\tAFTER (FATIGUE)")
		for _, r := range rep.Rules {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Rule, r.Channel, r.Status,
				r.Added, r.Removed, r.Changed, r.Before.Sent, r.After.Sent, fatigue(r.After))
		}
		tw.Flush()
	}
	t := rep.Totals
	fmt.Fprintf(&b, "\nTotal: %d added, %d removed, %d changed; %d notifications sent before, %d after (%+g a day)\n",
		t.Added, t.Removed, t.Changed, t.BeforeSent, t.AfterSent, t.DeltaPerDay)
	for _, r := range rep.Rules {
		writeExamples(&b, r, "added", r.Added, r.Examples.Added)
		writeExamples(&b, r, "removed", r.Removed, r.Examples.Removed)
		writeExamples(&b, r, "changed", r.Changed, r.Examples.Changed)
	}
	if len(rep.Rules) > 0 {
		b.WriteString("\nPer day (added, removed, changed; sent before → after):\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, r := range rep.Rules {
			for _, d := range r.PerDay {
				fmt.Fprintf(tw, "  %s\t%s → %s\t+%d\t-%d\t~%d\t%d → %d\n", d.Start.Format(time.DateOnly), r.Rule, r.Channel,
					d.Added, d.Removed, d.Changed, d.Before, d.After)
			}
		}
		tw.Flush()
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fatigue summarises what throttles, digests and quiet hours did.
func fatigue(s Side) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.Suppressed, "throttled")
	if s.Grouped > 0 {
		parts = append(parts, fmt.Sprintf("%d in %d digests", s.Grouped, s.Digests))
	}
	add(s.Held, "held")
	add(s.Dropped, "dropped")
	add(s.Failed, "failed")
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func writeExamples(b *strings.Builder, r RuleReport, kind string, n int, exs []Example) {
	if len(exs) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s → %s: %s (%d of %d)\n", r.Rule, r.Channel, kind, len(exs), n)
	for _, ex := range exs {
		fmt.Fprintf(b, "  message %s (%s, %s)\n", ex.MessageID, ex.WebhookType, ex.ReceivedAt.Format(time.RFC3339))
		switch {
		case ex.Diff != "":
			writeIndented(b, ex.Diff)
		case ex.After != nil:
			writeParts(b, ex.After)
		default:
			writeParts(b, ex.Before)
		}
	}
}

func writeParts(b *strings.Builder, parts map[string]string) {
	for _, k := range []string{"error", "to", "cc", "subject", "text", "blocks", "html", "path", "content_type", "body"} {
		if v, ok := parts[k]; ok {
			v = strings.TrimRight(v, "\n")
			if len(v) > 500 {
				v = strings.ToValidUTF8(v[:500], "") + "…"
			}
			fmt.Fprintf(b, "    %s: %s\n", k, strings.ReplaceAll(v, "\n", "\n      "))
		}
	}
}

func writeIndented(b *strings.Builder, s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
}
