package teams

import (
	_ "embed"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTemplate is the built-in template of the kind: what a send
// entry with neither template nor message renders.
//
//go:embed default.tmpl
var defaultTemplate string

// Kind describes the Microsoft Teams channel kind: a post a second (burst
// 4), what a Workflows webhook takes, and a backlog above 20 collapsed
// into one summary, as for chat.
var Kind = notifiers.Kind{
	Name:            "teams",
	RatePerSecond:   1,
	Burst:           4,
	Pacing:          20,
	Title:           "Teams",
	NoConversations: "is Teams, which has no conversations (Slack, email, PagerDuty and Opsgenie have)",
	MessageBlock:    "text",
	Needs:           []string{"card", "text"},
	SecretKeys:      []string{"webhook_url"},
	Blocks: []notifiers.Block{
		{Name: "card", Escape: notifiers.EscapePlain, JSON: true, Set: func(p *notifiers.Parts, s string) { p.Card = s }},
		{Name: "text", Escape: notifiers.EscapeMarkdown, Set: func(p *notifiers.Parts, s string) { p.Text = s }},
	},
	Template: defaultTemplate,
	Config:   func() notifiers.Settings { return new(Config) },
	New:      notifiers.Builds(New),
	// Each part under the name of the template block it comes from.
	Show: func(p notifiers.Parts) map[string]string {
		return notifiers.ShowParts("text", p.Text, "card", p.Card)
	},
	// The summary line as the alert's summary, message or text; the
	// whole notice as Opsgenie's description.
	Notice:  notifiers.SummaryNotice,
	Summary: notifiers.TextSummary,
}
