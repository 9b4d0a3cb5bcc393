package webhook

import (
	_ "embed"
	"encoding/json"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/notifiers"
)

// defaultTemplate is the built-in template of the kind: what a send
// entry with neither template nor message renders.
//
//go:embed default.tmpl
var defaultTemplate string

// Kind describes the HTTP webhook channel kind (the rules file's `http:`
// block).
var Kind = notifiers.Kind{
	Name:         "http",
	Title:        "HTTP",
	MessageBlock: "body",
	Blocks: []notifiers.Block{
		// Without a body block the request forwards the message's bytes.
		{Name: "body", Escape: notifiers.EscapePlain, Set: func(p *notifiers.Parts, s string) { p.Body = s },
			Else: func(p *notifiers.Parts, raw []byte) { p.Body = string(raw) }},
		{Name: "content_type", Escape: notifiers.EscapeHeader, Set: func(p *notifiers.Parts, s string) { p.ContentType = strings.TrimSpace(s) }},
	},
	Complete: func(p *notifiers.Parts, inline bool) {
		if p.ContentType == "" {
			p.ContentType = "application/json"
			if inline && !json.Valid([]byte(p.Body)) {
				p.ContentType = "text/plain; charset=utf-8"
			}
		}
	},
	Digest:   digest,
	Template: defaultTemplate,
	Config:   func() notifiers.Settings { return new(Config) },
	New:      notifiers.Builds(New),
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

// digest is an HTTP digest: the file's digest_body, or a JSON object
// holding the group's messages.
func digest(d notifiers.Digest) (notifiers.Parts, error) {
	p := d.Base
	if s, ok := d.Block("digest_body"); ok {
		p.Body = s
		return p, nil
	}
	b, err := json.Marshal(map[string]any{"digest": map[string]any{
		"rule": d.Rule, "key": d.Key, "count": d.Count, "since": d.Since, "messages": d.Bodies,
	}})
	if err != nil {
		return notifiers.Parts{}, err
	}
	p.Body, p.ContentType = string(b), "application/json"
	return p, nil
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
