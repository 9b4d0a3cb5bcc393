package pagerduty

import (
	_ "embed"
	"strings"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTemplate is the built-in template of the kind: what a send
// entry with neither template nor message renders.
//
//go:embed default.tmpl
var defaultTemplate string

// Kind describes the PagerDuty channel kind: 120 events a minute per
// integration key (PagerDuty's limit); no pacing, since PagerDuty
// deduplicates by key itself and a summary would page as an incident of
// its own.
var Kind = notifiers.Kind{
	Name:          "pagerduty",
	NoUpdates:     "a PagerDuty incident is not edited; use thread (a follow-up with the same key updates the open incident)",
	RatePerSecond: 2,
	Burst:         10,
	Pacing:        0,
	Title:         "PagerDuty",
	MessageBlock:  "summary",
	Needs:         []string{"summary"},
	SecretKeys:    []string{"routing_key"},
	Blocks: []notifiers.Block{
		{Name: "summary", Escape: notifiers.EscapePlain, Set: func(p *notifiers.Parts, s string) { p.Text = s }},
		{Name: "details", Escape: notifiers.EscapePlain, JSON: true, Set: func(p *notifiers.Parts, s string) { p.Details = s }},
		{Name: "source", Escape: notifiers.EscapePlain, FromDefault: true, Set: func(p *notifiers.Parts, s string) { p.Source = strings.Join(strings.Fields(s), " ") }},
	},
	Template: defaultTemplate,
	Config:   func() notifiers.Settings { return new(Config) },
	New:      notifiers.Builds(New),
	// Each part under the name of the template block it comes from.
	Show: func(p notifiers.Parts) map[string]string {
		return notifiers.ShowParts("summary", p.Text, "details", p.Details, "source", p.Source)
	},
	// The summary line as the alert's summary, message or text; the
	// whole notice as Opsgenie's description.
	Notice:  notifiers.SummaryNotice,
	Summary: notifiers.TextSummary,
}
