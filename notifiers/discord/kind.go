package discord

import (
	_ "embed"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTemplate is the built-in template of the kind: what a send
// entry with neither template nor message renders.
//
//go:embed default.tmpl
var defaultTemplate string

// Kind describes the Discord channel kind: 30 messages a minute per
// channel (bursts of 5), Discord's limit, and a backlog above 20
// collapsed into one summary, as for chat.
var Kind = notifiers.Kind{
	Name:            "discord",
	RatePerSecond:   0.5,
	Burst:           5,
	Pacing:          20,
	Title:           "Discord",
	NoConversations: "is Discord, which has no conversations (Slack, email, PagerDuty and Opsgenie have)",
	MessageBlock:    "content",
	Needs:           []string{"content", "embeds"},
	SecretKeys:      []string{"webhook_url"},
	Blocks: []notifiers.Block{
		{Name: "content", Escape: notifiers.EscapeMarkdown, Set: func(p *notifiers.Parts, s string) { p.Text = s }},
		{Name: "embeds", Escape: notifiers.EscapePlain, JSON: true, Set: func(p *notifiers.Parts, s string) { p.Embeds = s }},
	},
	Template: defaultTemplate,
	Config:   func() notifiers.Settings { return new(Config) },
	New:      notifiers.Builds(New),
	// Each part under the name of the template block it comes from.
	Show: func(p notifiers.Parts) map[string]string {
		return notifiers.ShowParts("content", p.Text, "embeds", p.Embeds)
	},
	// The summary line as the alert's summary, message or text; the
	// whole notice as Opsgenie's description.
	Notice:  notifiers.SummaryNotice,
	Summary: notifiers.TextSummary,
}
