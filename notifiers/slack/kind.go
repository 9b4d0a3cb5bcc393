package slack

import (
	"strings"

	"github.com/switchboard-dev/switchboard/notifiers"
)

// Kind describes the Slack channel kind: one message a second (burst 3),
// Slack's own pace, and a backlog above 20 collapsed into one summary.
var Kind = notifiers.Kind{
	Name:          "slack",
	RatePerSecond: 1,
	Burst:         3,
	Pacing:        20,
	Config:        func() notifiers.Settings { return new(Config) },
	New: func(cfg any, o notifiers.Options) (notifiers.Notifier, error) {
		n, err := New(*cfg.(*Config), o)
		if err != nil {
			return nil, err
		}
		return n, nil
	},
	Show: func(p notifiers.Parts) map[string]string {
		return notifiers.ShowParts("text", p.Text, "blocks", p.Blocks)
	},
	Notice:      func(n notifiers.Notice) notifiers.Parts { return notifiers.Parts{Text: n.Text} },
	EscapeValue: strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace,
	Summary:     notifiers.TextSummary,
}

// Unthreaded reports whether the channel posts through an incoming
// webhook, which returns no message ts to reply to or update.
func (c Config) Unthreaded() bool { return !c.WebhookURL.IsZero() }

var _ notifiers.Unthreaded = Config{}
