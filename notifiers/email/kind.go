package email

import (
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// Kind describes the email channel kind: Send test asks for a recipient.
var Kind = notifiers.Kind{
	Name:          "email",
	TestRecipient: true,
	Config:        func() notifiers.Settings { return new(Config) },
	New: func(cfg any, o notifiers.Options) (notifiers.Notifier, error) {
		n, err := New(*cfg.(*Config), o)
		if err != nil {
			return nil, err
		}
		return n, nil
	},
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

// Addresses returns the channel's subject and recipient templates, which
// the router compiles with each rule's.
func (c Config) Addresses() notifiers.Addresses {
	return notifiers.Addresses{Subject: c.Subject, To: c.To, Cc: c.Cc, MaxRecipients: c.MaxRecipients}
}

var _ notifiers.Addressed = Config{}
