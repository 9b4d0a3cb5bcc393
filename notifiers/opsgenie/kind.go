package opsgenie

import (
	_ "embed"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTemplate is the built-in template of the kind: what a send
// entry with neither template nor message renders.
//
//go:embed default.tmpl
var defaultTemplate string

// Kind describes the Opsgenie channel kind: within Opsgenie's per-minute
// API quota; no pacing, since Opsgenie deduplicates by alias itself and a
// summary would page as an alert of its own.
var Kind = notifiers.Kind{
	Name:          "opsgenie",
	NoUpdates:     "an Opsgenie alert is not edited; use thread (a follow-up with the same key counts on the open alert)",
	RatePerSecond: 5,
	Burst:         10,
	Pacing:        0,
	Title:         "Opsgenie",
	MessageBlock:  "message",
	Needs:         []string{"message"},
	SecretKeys:    []string{"api_key"},
	Blocks: []notifiers.Block{
		{Name: "message", Escape: notifiers.EscapePlain, Set: func(p *notifiers.Parts, s string) { p.Text = s }},
		{Name: "description", Escape: notifiers.EscapePlain, Set: func(p *notifiers.Parts, s string) { p.Description = s }},
		{Name: "details", Escape: notifiers.EscapePlain, JSON: true, Set: func(p *notifiers.Parts, s string) { p.Details = s }},
	},
	Template: defaultTemplate,
	Config:   func() notifiers.Settings { return new(Config) },
	New:      notifiers.Builds(New),
	// Each part under the name of the template block it comes from.
	Show: func(p notifiers.Parts) map[string]string {
		return notifiers.ShowParts("message", p.Text, "description", p.Description, "details", p.Details)
	},
	// The summary line as the alert's summary, message or text; the
	// whole notice as Opsgenie's description.
	Notice:  notifiers.SummaryNotice,
	Summary: notifiers.TextSummary,
}
