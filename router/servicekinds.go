package router

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/render"
)

// Channel kinds whose every part is a template block.
const (
	KindPagerDuty = "pagerduty"
	KindOpsgenie  = "opsgenie"
	KindTeams     = "teams"
	KindDiscord   = "discord"
)

// partBlock is one template block a channel kind reads and the part of
// the delivery it fills.
type partBlock struct {
	name string
	esc  render.Escape
	// json: the result must be JSON (an object, or Discord's array).
	json bool
	set  func(p *notifiers.Parts, s string)
}

// serviceKind describes a channel kind whose parts all come from template
// blocks: which blocks, which one an inline message: fills, and the
// pacing that suits the service.
type serviceKind struct {
	title  string // for people: "PagerDuty"
	blocks []partBlock
	// text is the block an inline message: stands for.
	text string
	// needs lists the blocks of which a template file must define at
	// least one.
	needs []string
}

func setText(p *notifiers.Parts, s string)        { p.Text = s }
func setDetails(p *notifiers.Parts, s string)     { p.Details = s }
func setDescription(p *notifiers.Parts, s string) { p.Description = s }
func setSource(p *notifiers.Parts, s string)      { p.Source = oneLine(s) }
func setCard(p *notifiers.Parts, s string)        { p.Card = s }
func setEmbeds(p *notifiers.Parts, s string)      { p.Embeds = s }

// serviceKindOf returns the description of kind, if it is one of the
// template-block kinds.
// (Their rates and pacing are in each notifier package's Kind.)
func serviceKindOf(kind string) (serviceKind, bool) {
	switch kind {
	case KindPagerDuty:
		return serviceKind{title: "PagerDuty", text: "summary", needs: []string{"summary"},
			blocks: []partBlock{
				{name: "summary", esc: render.Plain, set: setText},
				{name: "details", esc: render.Plain, json: true, set: setDetails},
				{name: "source", esc: render.Plain, set: setSource},
			}}, true
	case KindOpsgenie:
		return serviceKind{title: "Opsgenie", text: "message", needs: []string{"message"},
			blocks: []partBlock{
				{name: "message", esc: render.Plain, set: setText},
				{name: "description", esc: render.Plain, set: setDescription},
				{name: "details", esc: render.Plain, json: true, set: setDetails},
			}}, true
	case KindTeams:
		return serviceKind{title: "Teams", text: "text", needs: []string{"card", "text"},
			blocks: []partBlock{
				{name: "card", esc: render.Plain, json: true, set: setCard},
				{name: "text", esc: render.Markdown, set: setText},
			}}, true
	case KindDiscord:
		return serviceKind{title: "Discord", text: "content", needs: []string{"content", "embeds"},
			blocks: []partBlock{
				{name: "content", esc: render.Markdown, set: setText},
				{name: "embeds", esc: render.Plain, json: true, set: setEmbeds},
			}}, true
	}
	return serviceKind{}, false
}

// compileServiceTarget compiles the blocks of a template-block kind into
// t.service: those file defines, or the inline message as the kind's
// text block. It reports false when the file lacks what the kind needs.
func (c *compiler) compileServiceTarget(t *target, sk serviceKind, file *render.File, tf templateFile, s SendConfig, sn ast.Node, rule, field string) bool {
	t.service = map[string]*render.Template{}
	if file == nil {
		esc := render.Plain
		for _, b := range sk.blocks {
			if b.name == sk.text {
				esc = b.esc
			}
		}
		t.service[sk.text] = c.inline(config.Lookup(sn, "message"), s.Message, esc, rule, field+".message")
		return true
	}
	has := false
	for _, n := range sk.needs {
		has = has || file.Has(n)
	}
	if !has {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "template"), rule, field+".template",
			"template %q has no %s block, which %s needs", s.Template, quoteOr(sk.needs), sk.title)
		return false
	}
	for _, b := range sk.blocks {
		if file.Has(b.name) {
			t.service[b.name] = c.block(file, tf, b.name, b.esc, rule)
		}
	}
	return true
}

// quoteOr writes names as `"a" or "b"`.
func quoteOr(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " or ")
}

// renderService renders the parts of a template-block kind with exec.
func (t *target) renderService(sk serviceKind, exec func(string, *render.Template) string) (notifiers.Parts, error) {
	var p notifiers.Parts
	for _, b := range sk.blocks {
		tm := t.service[b.name]
		if tm == nil {
			continue
		}
		out := exec(b.name, tm)
		if b.json {
			out = strings.TrimSpace(out)
			if out != "" && !json.Valid([]byte(out)) {
				return notifiers.Parts{}, fmt.Errorf("render %s: the result is not valid JSON (insert values with toJson or markdownJson)", b.name)
			}
		}
		b.set(&p, out)
	}
	return p, nil
}

// secretKeys are the keys of a template-block kind that hold a credential.
func secretKeys(kind string) []string {
	switch kind {
	case KindPagerDuty:
		return []string{"routing_key"}
	case KindOpsgenie:
		return []string{"api_key"}
	case KindTeams, KindDiscord:
		return []string{"webhook_url"}
	}
	return nil
}

// warnLiteralSecrets warns about a credential written into the rules file
// rather than read from the environment: the file is shared, versioned and
// shown in the editor, and the credential would travel with it. The
// warning names the key, never the value.
func (c *compiler) warnLiteralSecrets(kind string, kindNode ast.Node, where string) {
	for _, k := range secretKeys(kind) {
		n := config.Lookup(kindNode, k)
		if n == nil || strings.Contains(n.String(), "${") {
			continue
		}
		c.ds.Add(config.SeverityWarning, c.file, config.NodePos(n), "", where+"."+k,
			"%s.%s is written in the rules file: write it as ${VAR} and set the variable, so the credential stays out of the file", where, k)
	}
}
