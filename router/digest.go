package router

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/render"
)

// digestLines is how many messages the built-in digest lists.
const digestLines = 5

// digestBlocks maps each digest block to its escaping.
var digestBlocks = map[string]render.Escape{
	"digest_text":    render.Plain, // the kind's DigestEscape, see compileDigest
	"digest_blocks":  render.Plain,
	"digest_subject": render.Plain,
	"digest_html":    render.HTML,
	"digest_body":    render.Plain,
}

// compileDigest compiles the digest_* blocks of a grouping rule's
// template files.
func (c *compiler) compileDigest(rule *Rule) {
	for _, t := range rule.targets {
		if t.file == nil {
			continue
		}
		for name, esc := range digestBlocks {
			if !t.file.Has(name) {
				continue
			}
			if name == "digest_text" {
				esc = escape(t.channel.Descriptor.DigestEscape)
			}
			if tm := c.block(t.file, t.tf, name, esc, rule.Name); tm != nil {
				if t.digest == nil {
					t.digest = map[string]*render.Template{}
				}
				t.digest[name] = tm
			}
		}
	}
}

// Digest is the content of one digest: a group's messages, oldest first.
type Digest struct {
	Rule, Channel, Key string
	// Messages are the first messages of the group (at most the rule's
	// group.max), oldest first; Count counts them all.
	Messages []*Message
	Count    int
	// Now is when the digest is rendered.
	Now time.Time
}

// RenderDigest renders the digest of a group for each of the rule's
// targets on its channel. ok is false when the rule or the target no
// longer exists (a reload removed it).
func (rs *Ruleset) RenderDigest(d Digest) (out []Outgoing, ok bool) {
	r, found := rs.Rule(d.Rule)
	if !found || len(d.Messages) == 0 {
		return nil, false
	}
	last := d.Messages[len(d.Messages)-1]
	for _, t := range r.targets {
		if t.channel.Name != d.Channel {
			continue
		}
		parts, err := t.renderDigest(r, d)
		if err != nil {
			err = fmt.Errorf("%s", rs.Scrub(err.Error()))
		}
		out = append(out, Outgoing{
			Notification: notifiers.Notification{
				ID: NewMessageID(), MessageID: last.ID, Rule: r.Name, Channel: t.channel.Name, Parts: parts,
			},
			Kind: t.channel.Kind, Content: t.content, Err: err,
		})
	}
	return out, len(out) > 0
}

// digestData is what digest_* blocks see.
func digestData(r *Rule, d Digest) map[string]any {
	msgs := make([]any, len(d.Messages))
	for i, m := range d.Messages {
		m.prepare()
		msgs[i] = m.Data
	}
	first, last := d.Messages[0], d.Messages[len(d.Messages)-1]
	return map[string]any{
		"Messages":    msgs,
		"Count":       d.Count,
		"Omitted":     d.Count - len(d.Messages),
		"First":       first.Data,
		"Last":        last.Data,
		"Key":         d.Key,
		"Rule":        r.Name,
		"Description": r.Description,
		"Since":       first.ReceivedAt.UTC().Format(time.RFC3339),
		"Period":      humanDuration(d.Now.Sub(first.ReceivedAt)),
	}
}

// renderDigest renders one target's digest.
func (t *target) renderDigest(r *Rule, d Digest) (notifiers.Parts, error) {
	last := d.Messages[len(d.Messages)-1]
	last.prepare()
	if d.Count == 1 && len(t.digest) == 0 {
		// A group of one is just the message.
		return t.render(last.Data, last.Body)
	}
	// Addressing (email recipients, HTTP path and headers) comes from the
	// messages; every message must agree, or one recipient could be sent
	// another's data.
	base, err := t.render(last.Data, last.Body)
	if err != nil {
		return notifiers.Parts{}, err
	}
	if t.addressed {
		for _, m := range d.Messages[:len(d.Messages)-1] {
			m.prepare()
			p, err := t.render(m.Data, m.Body)
			if err != nil {
				return notifiers.Parts{}, err
			}
			if !slices.Equal(p.To, base.To) || !slices.Equal(p.Cc, base.Cc) {
				return notifiers.Parts{}, fmt.Errorf("digest: the messages of the group have different recipients; group by the recipient (group.by) when email to or cc are templated")
			}
		}
	}
	data := digestData(r, d)
	var rerr error
	exec := func(name string) (string, bool) {
		tm := t.digest[name]
		if tm == nil || rerr != nil {
			return "", false
		}
		s, err := tm.Execute(data)
		if err != nil {
			rerr = fmt.Errorf("render %s: %w", name, err)
		}
		return s, true
	}
	header := fmt.Sprintf("%d × %s in the last %s", d.Count, ruleLabel(r), data["Period"])
	lines, err := t.digestLines(d)
	if err != nil {
		return notifiers.Parts{}, err
	}
	bodies := make([]json.RawMessage, 0, len(d.Messages))
	for _, m := range d.Messages {
		if json.Valid(m.Body) {
			bodies = append(bodies, m.Body)
		}
	}
	digest := t.channel.Descriptor.Digest
	if digest == nil {
		digest = notifiers.TextDigest
	}
	p, kerr := digest(notifiers.Digest{
		Base: base, Header: header, Lines: lines, Block: exec,
		Rule: r.Name, Key: d.Key, Count: d.Count, Since: data["Since"].(string), Bodies: bodies,
	})
	// exec records a block's failure in rerr; keep it first.
	if err := cmp.Or(rerr, kerr); err != nil {
		return notifiers.Parts{}, err
	}
	return p, nil
}

// digestLines lists the first messages of a digest, one line each, as
// the target renders them on their own.
func (t *target) digestLines(d Digest) (string, error) {
	var b strings.Builder
	for i, m := range d.Messages {
		if i == digestLines {
			break
		}
		m.prepare()
		p, err := t.render(m.Data, m.Body)
		if err != nil {
			return "", err
		}
		line := p.Text
		if p.Subject != "" {
			line = p.Subject
		}
		if strings.TrimSpace(line) == "" {
			// A kind that sends a body, or whose default is all card or
			// embeds: the type says what happened.
			line = m.WebhookType()
		}
		line, _, _ = strings.Cut(strings.TrimSpace(line), "\n")
		b.WriteString("• ")
		b.WriteString(line)
		b.WriteString("\n")
	}
	if more := d.Count - min(len(d.Messages), digestLines); more > 0 {
		fmt.Fprintf(&b, "… and %d more\n", more)
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// ruleLabel names a rule for people: its description, or its name.
func ruleLabel(r *Rule) string {
	if r.Description != "" {
		return r.Description
	}
	return r.Name
}

// humanDuration writes a period the way people say it: "45 seconds",
// "5 minutes", "2 hours".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d < time.Minute:
		return plural(max(int64(d.Round(time.Second)/time.Second), 1), "second")
	case d < time.Hour:
		return plural(int64(d.Round(time.Minute)/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int64(d.Round(time.Hour)/time.Hour), "hour")
	default:
		return plural(int64(d.Round(24*time.Hour)/(24*time.Hour)), "day")
	}
}
