package webhook

import (
	"encoding/json"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// Kind describes the HTTP webhook channel kind (the rules file's `http:`
// block).
var Kind = notifiers.Kind{
	Name:   "http",
	Config: func() notifiers.Settings { return new(Config) },
	New: func(cfg any, o notifiers.Options) (notifiers.Notifier, error) {
		n, err := New(*cfg.(*Config), o)
		if err != nil {
			return nil, err
		}
		return n, nil
	},
	Show: func(p notifiers.Parts) map[string]string {
		// The query may carry a credential and header values are secret
		// fields: show where the request goes, not what authenticates it.
		path := ""
		if p.Path != "" {
			path = secret.RedactURL("http://x" + p.Path)[len("http://x"):]
		}
		m := notifiers.ShowParts("path", path, "content_type", p.ContentType, "body", p.Body)
		for k := range p.Headers {
			m["header "+k] = secret.Redacted
		}
		return m
	},
	NoConversations: "is HTTP, which has no conversations (Slack, email, PagerDuty and Opsgenie have)",
	Notice: func(n notifiers.Notice) notifiers.Parts {
		return notifiers.Parts{Body: string(n.JSON), ContentType: "application/json"}
	},
	Summary: func(channel string, last notifiers.Parts, text string, collapsed int, byType map[string]int) notifiers.Parts {
		p := notifiers.Addressing(last)
		b, _ := json.Marshal(map[string]any{"summary": map[string]any{
			"channel": channel, "collapsed": collapsed, "by_type": byType, "text": text,
		}})
		p.Body, p.ContentType = string(b), "application/json"
		return p
	},
}

// HeaderTemplates returns every header value as written, for the router to
// compile the templated ones.
func (c Config) HeaderTemplates() map[string]string {
	out := make(map[string]string, len(c.Headers))
	for k, v := range c.Headers {
		out[k] = v.Reveal()
	}
	return out
}

var _ notifiers.Routed = Config{}
