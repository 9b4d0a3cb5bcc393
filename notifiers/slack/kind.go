package slack

import "github.com/switchboard-dev/switchboard/notifiers"

// Kind describes the Slack channel kind: one message a second (burst 3),
// Slack's own pace, and a backlog above 20 collapsed into one summary.
var Kind = notifiers.Kind{
	Name:          "slack",
	RatePerSecond: 1,
	Burst:         3,
	Pacing:        20,
	Conversations: true,
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
	Summary: notifiers.TextSummary,
}
