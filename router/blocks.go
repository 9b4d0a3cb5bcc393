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

// Channel kinds whose every part is a template block (each described by
// its notifier package's Kind: notifiers.Kind.Blocks).
const (
	KindPagerDuty = "pagerduty"
	KindOpsgenie  = "opsgenie"
	KindTeams     = "teams"
	KindDiscord   = "discord"
)

// escape maps a block's escaping as a kind names it to the renderer's.
func escape(e notifiers.Escape) render.Escape {
	if e == notifiers.EscapeMarkdown {
		return render.Markdown
	}
	return render.Plain
}

// blockKind returns the descriptor of a channel's kind when every part of
// it is a template block.
func blockKind(ch *Channel) (*notifiers.Kind, bool) {
	if ch.Descriptor == nil || len(ch.Descriptor.Blocks) == 0 {
		return nil, false
	}
	return ch.Descriptor, true
}

// compileServiceTarget compiles the blocks of a template-block kind into
// t.service: those file defines, or the inline message as the kind's
// text block. It reports false when the file lacks what the kind needs.
func (c *compiler) compileServiceTarget(t *target, sk *notifiers.Kind, file *render.File, tf templateFile, s SendConfig, sn ast.Node, rule, field string) bool {
	t.service = map[string]*render.Template{}
	if file == nil {
		esc := render.Plain
		for _, b := range sk.Blocks {
			if b.Name == sk.MessageBlock {
				esc = escape(b.Escape)
			}
		}
		t.service[sk.MessageBlock] = c.inline(config.Lookup(sn, "message"), s.Message, esc, rule, field+".message")
		return true
	}
	has := false
	for _, n := range sk.Needs {
		has = has || file.Has(n)
	}
	if !has {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "template"), rule, field+".template",
			"template %q has no %s block, which %s needs", s.Template, quoteOr(sk.Needs), sk.Title)
		return false
	}
	for _, b := range sk.Blocks {
		if file.Has(b.Name) {
			t.service[b.Name] = c.block(file, tf, b.Name, escape(b.Escape), rule)
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
func (t *target) renderService(sk *notifiers.Kind, exec func(string, *render.Template) string) (notifiers.Parts, error) {
	var p notifiers.Parts
	for _, b := range sk.Blocks {
		tm := t.service[b.Name]
		if tm == nil {
			continue
		}
		out := exec(b.Name, tm)
		if b.JSON {
			out = strings.TrimSpace(out)
			if out != "" && !json.Valid([]byte(out)) {
				return notifiers.Parts{}, fmt.Errorf("render %s: the result is not valid JSON (insert values with toJson or markdownJson)", b.Name)
			}
		}
		b.Set(&p, out)
	}
	return p, nil
}

// warnLiteralSecrets warns about a credential written into the rules file
// rather than read from the environment: the file is shared, versioned and
// shown in the editor, and the credential would travel with it. The
// warning names the key, never the value.
func (c *compiler) warnLiteralSecrets(kind *notifiers.Kind, kindNode ast.Node, where string) {
	for _, k := range kind.SecretKeys {
		n := config.Lookup(kindNode, k)
		if n == nil || strings.Contains(n.String(), "${") {
			continue
		}
		c.ds.Add(config.SeverityWarning, c.file, config.NodePos(n), "", where+"."+k,
			"%s.%s is written in the rules file: write it as ${VAR} and set the variable, so the credential stays out of the file", where, k)
	}
}
