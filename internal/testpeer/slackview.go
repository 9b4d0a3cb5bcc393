package testpeer

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
)

// SlackView renders what the successful requests would show in a Slack
// channel, as a self-contained HTML page: messages in the order they were
// posted, each thread's replies under its first message (a reply sent
// with reply_broadcast also in the channel, as "replied to a thread"), a
// message edited by chat.update with its last text and "(edited)". A
// message with blocks shows them (header, section text and fields,
// context, divider), else its text, with mrkdwn (*bold*, _italic_,
// ~strike~, `code`, <url|label>) and the common emoji codes drawn.
// Times are the requests' At, in UTC. It is meant for documentation
// screenshots and for reading what a test sent, not as a Slack
// emulation.
func SlackView(title string, reqs []SlackRequest) string {
	type message struct {
		req     SlackRequest
		edited  bool
		replies []*message
	}
	byTS := map[string]*message{}
	var channel []*message // top level, in order; broadcast replies too
	for _, r := range reqs {
		if !r.OK {
			continue
		}
		switch {
		case r.IsWebhook() || r.APIMethod() == "chat.postMessage":
			m := &message{req: r}
			if ts := r.PostedTS(); ts != "" {
				byTS[ts] = m
			}
			root := byTS[r.ThreadTS()]
			if r.ThreadTS() == "" || root == nil {
				channel = append(channel, m)
				continue
			}
			root.replies = append(root.replies, m)
			if r.Broadcast() {
				channel = append(channel, &message{req: r})
			}
		case r.APIMethod() == "chat.update":
			if m := byTS[r.TS()]; m != nil {
				at := m.req.At
				m.req, m.edited = r, true
				m.req.At = at
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html>
<html><head><meta charset="utf-8"><title>%s</title><style>%s</style></head>
<body><main class="slack"><header class="channel">%s</header>
`, html.EscapeString(title), slackViewCSS, html.EscapeString(title))
	var write func(m *message, reply bool)
	write = func(m *message, reply bool) {
		class := "msg"
		if reply {
			class = "msg reply"
		}
		fmt.Fprintf(&b, `<div class="%s"><div class="avatar">S</div><div class="body">`, class)
		fmt.Fprintf(&b, `<div class="meta"><b>Switchboard</b><span class="app">APP</span><span class="time">%s</span></div>`,
			m.req.At.UTC().Format("15:04"))
		if !reply && m.req.ThreadTS() != "" {
			b.WriteString(`<div class="note">replied to a thread</div>`)
		}
		b.WriteString(`<div class="content">`)
		b.WriteString(slackContent(m.req))
		if m.edited {
			b.WriteString(` <span class="edited">(edited)</span>`)
		}
		b.WriteString(`</div>`)
		if n := len(m.replies); n > 0 && !reply {
			fmt.Fprintf(&b, `<div class="thread"><div class="count">%d %s</div>`, n, plural(n, "reply", "replies"))
			for _, r := range m.replies {
				write(r, true)
			}
			b.WriteString(`</div>`)
		}
		b.WriteString("</div></div>\n")
	}
	for _, m := range channel {
		write(m, false)
	}
	b.WriteString("</main></body></html>\n")
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// slackContent is a message's blocks, or its text, as HTML.
func slackContent(r SlackRequest) string {
	raw := r.Blocks()
	if raw == nil {
		return mrkdwn(r.Text())
	}
	var blocks []struct {
		Type     string          `json:"type"`
		Text     *slackText      `json:"text"`
		Fields   []slackText     `json:"fields"`
		Elements json.RawMessage `json:"elements"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return mrkdwn(r.Text())
	}
	var b strings.Builder
	for _, bl := range blocks {
		switch bl.Type {
		case "header":
			if bl.Text != nil {
				fmt.Fprintf(&b, `<div class="header">%s</div>`, bl.Text.html())
			}
		case "section":
			if bl.Text != nil {
				fmt.Fprintf(&b, `<div class="section">%s</div>`, bl.Text.html())
			}
			if len(bl.Fields) > 0 {
				b.WriteString(`<div class="fields">`)
				for _, f := range bl.Fields {
					fmt.Fprintf(&b, `<div>%s</div>`, f.html())
				}
				b.WriteString(`</div>`)
			}
		case "context":
			var els []slackText
			_ = json.Unmarshal(bl.Elements, &els)
			b.WriteString(`<div class="context">`)
			for _, e := range els {
				b.WriteString(e.html())
				b.WriteString(" ")
			}
			b.WriteString(`</div>`)
		case "divider":
			b.WriteString(`<hr>`)
		}
	}
	return b.String()
}

// slackText is a Block Kit text object.
type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (t slackText) html() string {
	if t.Type == "plain_text" {
		return strings.ReplaceAll(html.EscapeString(t.Text), "\n", "<br>")
	}
	return mrkdwn(t.Text)
}

var (
	mrkdwnLink   = regexp.MustCompile(`&lt;((?:https?|mailto):[^|&]+)(?:\|([^&]*))?&gt;`)
	mrkdwnCode   = regexp.MustCompile("`([^`\n]+)`")
	mrkdwnBold   = regexp.MustCompile(`(^|[\s(>])\*([^*\n]+)\*`)
	mrkdwnItalic = regexp.MustCompile(`(^|[\s(>])_([^_\n]+)_`)
	mrkdwnStrike = regexp.MustCompile(`(^|[\s(>])~([^~\n]+)~`)
	emojiCode    = regexp.MustCompile(`:([a-z0-9_+-]+):`)
)

// emoji draws the codes the example templates and tests use with glyphs
// common fonts have (no colour emoji font needed).
var emoji = map[string]string{
	"x":                `<span class="emoji red">✖</span>`,
	"white_check_mark": `<span class="emoji ok">✔</span>`,
	"warning":          `<span class="emoji amber">⚠</span>`,
	"no_entry":         `<span class="emoji red">⛔</span>`,
	"hourglass":        `<span class="emoji amber">⌛</span>`,
	"moneybag":         `<span class="emoji amber">$</span>`,
	"rotating_light":   `<span class="emoji red">!</span>`,
}

// mrkdwn renders Slack mrkdwn as HTML.
func mrkdwn(s string) string {
	s = html.EscapeString(s)
	s = mrkdwnLink.ReplaceAllStringFunc(s, func(m string) string {
		p := mrkdwnLink.FindStringSubmatch(m)
		label := p[2]
		if label == "" {
			label = p[1]
		}
		return `<a href="` + p[1] + `">` + label + `</a>`
	})
	s = mrkdwnCode.ReplaceAllString(s, "<code>$1</code>")
	s = mrkdwnBold.ReplaceAllString(s, "$1<b>$2</b>")
	s = mrkdwnItalic.ReplaceAllString(s, "$1<i>$2</i>")
	s = mrkdwnStrike.ReplaceAllString(s, "$1<s>$2</s>")
	s = emojiCode.ReplaceAllStringFunc(s, func(m string) string {
		if e, ok := emoji[strings.Trim(m, ":")]; ok {
			return e
		}
		return m
	})
	return strings.ReplaceAll(s, "\n", "<br>")
}

const slackViewCSS = `
body { margin: 0; background: #fff; font: 15px/1.46668 -apple-system, "Segoe UI", "Noto Sans", "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1d1c1d; }
.slack { width: 760px; padding: 0 0 12px; }
.channel { font-weight: 900; font-size: 18px; padding: 12px 20px; border-bottom: 1px solid #ddd; margin-bottom: 8px; }
.msg { display: flex; gap: 8px; padding: 8px 20px; }
.msg.reply { padding: 6px 0; }
.avatar { flex: none; width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff; font-weight: 700; display: flex; align-items: center; justify-content: center; }
.reply .avatar { width: 28px; height: 28px; font-size: 13px; }
.body { flex: 1; min-width: 0; }
.meta b { font-weight: 900; }
.app { font-size: 10px; font-weight: 700; color: #616061; background: #e8e8e8; border-radius: 2px; padding: 1px 3px; margin: 0 6px; vertical-align: 2px; }
.time, .note, .edited, .context { color: #616061; font-size: 12px; }
.note { margin-top: -2px; }
.content { overflow-wrap: anywhere; }
code { font: 12px Menlo, Monaco, "DejaVu Sans Mono", monospace; color: #c01343; background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px; padding: 1px 3px; }
a { color: #1264a3; text-decoration: none; }
.header { font-weight: 900; font-size: 17px; margin: 4px 0; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin: 6px 0; }
.thread { margin-top: 6px; padding-left: 12px; border-left: 3px solid #ddd; }
.count { color: #1264a3; font-weight: 700; font-size: 13px; }
hr { border: 0; border-top: 1px solid #ddd; }
.emoji { display: inline-block; min-width: 18px; height: 18px; line-height: 18px; text-align: center; font-weight: 900; border-radius: 4px; vertical-align: -2px; }
.emoji.ok { background: #2eb67d; color: #fff; font-size: 13px; }
.emoji.red { color: #e01e5a; }
.emoji.amber { color: #d4900a; }
`
