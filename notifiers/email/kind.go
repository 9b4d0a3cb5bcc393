package email

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTemplate is the built-in template of the kind: what a send
// entry with neither template nor message renders.
//
//go:embed default.tmpl
var defaultTemplate string

// Kind describes the email channel kind: Send test asks for a recipient.
var Kind = notifiers.Kind{
	Name:          "email",
	TestRecipient: true,
	Title:         "email",
	MessageBlock:  "text",
	Needs:         []string{"text", "html"},
	Missing:       `neither a "text" nor an "html" block`,
	Blocks: []notifiers.Block{
		{Name: "subject", Escape: notifiers.EscapePlain, Set: func(p *notifiers.Parts, s string) { p.Subject = oneLine(s) }},
		{Name: "text", Escape: notifiers.EscapePlain, Set: func(p *notifiers.Parts, s string) { p.Text = s }},
		{Name: "html", Escape: notifiers.EscapeHTML, Set: func(p *notifiers.Parts, s string) { p.HTML = s }},
	},
	Digest:   digest,
	Template: defaultTemplate,
	Config:   func() notifiers.Settings { return new(Config) },
	New:      notifiers.Builds(New),
	Show: func(p notifiers.Parts) map[string]string {
		return notifiers.ShowParts("to", strings.Join(p.To, ", "), "cc", strings.Join(p.Cc, ", "),
			"subject", p.Subject, "text", p.Text, "html", p.HTML)
	},
	NoUpdates: "a sent email cannot be edited; use thread (follow-ups carry In-Reply-To)",
	Notice:    func(n notifiers.Notice) notifiers.Parts { return notifiers.Parts{Subject: n.Subject, Text: n.Text} },
	Summary: func(channel string, last notifiers.Parts, text string, collapsed int, byType map[string]int) notifiers.Parts {
		p := notifiers.TextSummary(channel, last, text, collapsed, byType)
		p.Subject = fmt.Sprintf("+%d more notifications", collapsed)
		return p
	},
}

// oneLine folds a subject onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// digest is an email digest: the file's digest_subject or the header as
// the subject; its digest_text and digest_html, or the header over the
// lines as text. The recipients are the messages'.
func digest(d notifiers.Digest) (notifiers.Parts, error) {
	p := d.Base
	if s, ok := d.Block("digest_subject"); ok {
		p.Subject = oneLine(s)
	} else {
		p.Subject = d.Header
	}
	text, hasText := d.Block("digest_text")
	html, hasHTML := d.Block("digest_html")
	if !hasText && !hasHTML {
		text = d.Header + "\n\n" + d.Lines
	}
	p.Text, p.HTML = text, html
	return p, nil
}

// Addresses returns the channel's subject and recipient templates, which
// the router compiles with each rule's.
func (c Config) Addresses() notifiers.Addresses {
	return notifiers.Addresses{Subject: c.Subject, To: c.To, Cc: c.Cc, MaxRecipients: c.MaxRecipients}
}

var _ notifiers.Addressed = Config{}
