package slack

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTemplate is the built-in template of the kind: what a send
// entry with neither template nor message renders.
//
//go:embed default.tmpl
var defaultTemplate string

// Kind describes the Slack channel kind: one message a second (burst 3),
// Slack's own pace, and a backlog above 20 collapsed into one summary.
var Kind = notifiers.Kind{
	Name:          "slack",
	Broadcasts:    true,
	RatePerSecond: 1,
	Burst:         3,
	Pacing:        20,
	Title:         "Slack",
	MessageBlock:  "text",
	Needs:         []string{"text"},
	Blocks: []notifiers.Block{
		{Name: "text", Escape: notifiers.EscapeMrkdwn, Set: func(p *notifiers.Parts, s string) { p.Text = s }},
		{Name: "blocks", Escape: notifiers.EscapePlain, JSON: true, JSONHint: "toJson", MrkdwnJSON: true,
			Set: func(p *notifiers.Parts, s string) { p.Blocks = s }},
	},
	DigestEscape: notifiers.EscapeMrkdwn,
	Digest:       digest,
	Template:     defaultTemplate,
	Config:       func() notifiers.Settings { return new(Config) },
	New:          notifiers.Builds(New),
	Show: func(p notifiers.Parts) map[string]string {
		return notifiers.ShowParts("text", p.Text, "blocks", p.Blocks)
	},
	Notice:      func(n notifiers.Notice) notifiers.Parts { return notifiers.Parts{Text: n.Text} },
	EscapeValue: escapeMrkdwn,
	Summary:     notifiers.TextSummary,
}

// escapeMrkdwn escapes the characters Slack mrkdwn gives a meaning.
var escapeMrkdwn = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// digest is a Slack digest: the file's digest_text, or the header in
// bold over the lines; the file's digest_blocks or none.
func digest(d notifiers.Digest) (notifiers.Parts, error) {
	p := d.Base
	if s, ok := d.Block("digest_text"); ok {
		p.Text = s
	} else {
		p.Text = "*" + escapeMrkdwn(d.Header) + "*\n" + d.Lines
	}
	p.Blocks = ""
	if s, ok := d.Block("digest_blocks"); ok {
		p.Blocks = strings.TrimSpace(s)
		if p.Blocks != "" && !json.Valid([]byte(p.Blocks)) {
			return p, fmt.Errorf("render digest_blocks: the result is not valid JSON (insert values with toJson)")
		}
	}
	return p, nil
}

// Unthreaded reports whether the channel posts through an incoming
// webhook, which returns no message ts to reply to or update.
func (c Config) Unthreaded() bool { return !c.WebhookURL.IsZero() }

var _ notifiers.Unthreaded = Config{}
