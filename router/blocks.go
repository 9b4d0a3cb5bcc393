package router

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/render"
)

// escape maps a block's escaping as a kind names it to the renderer's.
func escape(e notifiers.Escape) render.Escape {
	switch e {
	case notifiers.EscapeMarkdown:
		return render.Markdown
	case notifiers.EscapeMrkdwn:
		return render.Mrkdwn
	case notifiers.EscapeHTML:
		return render.HTML
	case notifiers.EscapeHeader:
		return render.HeaderValue
	}
	return render.Plain
}

// compileBlocks compiles the kind's blocks into t.blocks: those file
// defines, or the inline message as the kind's message block. It reports
// false when the file lacks what the kind needs.
func (c *compiler) compileBlocks(t *target, file *render.File, tf templateFile, s SendConfig, sn ast.Node, rule, field string) bool {
	k := t.channel.Descriptor
	t.blocks = map[string]*render.Template{}
	if file == nil {
		esc := render.Plain
		for _, b := range k.Blocks {
			if b.Name == k.MessageBlock {
				esc = escape(b.Escape)
			}
		}
		t.blocks[k.MessageBlock] = c.inline(config.Lookup(sn, "message"), s.Message, esc, rule, field+".message")
		t.inline = true
		c.blocksFromDefault(t, rule)
		return true
	}
	has := len(k.Needs) == 0
	for _, n := range k.Needs {
		has = has || file.Has(n)
	}
	if !has {
		missing := k.Missing
		if missing == "" {
			missing = "no " + quoteOr(k.Needs) + " block"
		}
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "template"), rule, field+".template",
			"template %q has %s, which %s needs", s.Template, missing, k.Title)
		return false
	}
	for _, b := range k.Blocks {
		if !file.Has(b.Name) {
			continue
		}
		t.blocks[b.Name] = c.block(file, tf, b.Name, escape(b.Escape), rule)
		if b.MrkdwnJSON {
			for _, p := range file.UnescapedMrkdwn(b.Name) {
				c.ds.Add(config.SeverityWarning, tf.path, config.Pos{Line: p.Line, Col: p.Column}, rule, "",
					"a message value goes into a Slack mrkdwn text without mrkdwnJson: it could mention (<!channel>) or add links; write \"text\": \"…{{ mrkdwnJson .x }}\"")
			}
		}
	}
	c.blocksFromDefault(t, rule)
	return true
}

// blocksFromDefault gives t the built-in template's block for each of its
// kind's FromDefault blocks that t's template or message does not define.
func (c *compiler) blocksFromDefault(t *target, rule string) {
	k := t.channel.Descriptor
	for _, b := range k.Blocks {
		if !b.FromDefault || t.blocks[b.Name] != nil {
			continue
		}
		def := c.defaultFile(k)
		if !def.Has(b.Name) {
			continue
		}
		t.blocks[b.Name] = c.block(def, templateFile{path: "(built-in " + k.Name + " template)"}, b.Name, escape(b.Escape), rule)
	}
}

// subjectBlock is the block of an addressed kind (notifiers.Addressed)
// that the channel's subject stands for.
const subjectBlock = "subject"

// compileAddresses compiles a channel's addressing (notifiers.Addressed):
// its recipients, and the subject when the template has none — the
// channel's subject, then (for message:) the message itself, then the
// built-in default.
func (c *compiler) compileAddresses(t *target, a notifiers.Addresses, s SendConfig, rule string) {
	ch := t.channel
	t.addr, t.addressed = a, true
	chNode := c.channelNode(ch.Name)
	where := "channels." + ch.Name + "." + ch.Kind
	// The built-in default's subject comes after the channel's.
	builtIn := s.Template == "" && s.Message == ""
	if (t.blocks[subjectBlock] == nil || builtIn) && a.Subject != "" {
		t.blocks[subjectBlock] = c.inline(config.Lookup(chNode, ch.Kind, "subject"), a.Subject, render.Plain, rule, where+".subject")
	}
	if t.blocks[subjectBlock] == nil && s.Message != "" {
		t.blocks[subjectBlock] = t.blocks[ch.Descriptor.MessageBlock]
	}
	if t.blocks[subjectBlock] == nil {
		t.blocks[subjectBlock] = c.block(c.defaultFile(ch.Descriptor), templateFile{path: "(built-in " + ch.Kind + " template)"}, subjectBlock, render.Plain, rule)
	}
	for i, to := range a.To {
		t.to = append(t.to, c.inline(config.Lookup(chNode, ch.Kind, "to", i), to, render.Plain, rule, fmt.Sprintf("%s.to[%d]", where, i)))
	}
	for i, cc := range a.Cc {
		t.cc = append(t.cc, c.inline(config.Lookup(chNode, ch.Kind, "cc", i), cc, render.Plain, rule, fmt.Sprintf("%s.cc[%d]", where, i)))
	}
}

// compileRoute compiles the templated path, query and header values of a
// channel that sends to a URL (notifiers.Routed).
func (c *compiler) compileRoute(t *target, r notifiers.Routed, rule string) {
	ch := t.channel
	chNode := c.channelNode(ch.Name)
	where := "channels." + ch.Name + "." + ch.Kind
	if pt := r.PathTemplate(); strings.Contains(pt, "{{") {
		// Values interpolated in the path are path-escaped and in the
		// query query-escaped, so a message can never add segments or
		// parameters, and the host always comes from the config.
		urlNode := config.Lookup(chNode, ch.Kind, "url")
		p, q, hasQuery := cutOutsideActions(pt, '?')
		t.pathTmpl = c.inline(urlNode, p, render.URLPath, rule, where+".url")
		if hasQuery {
			t.queryTmpl = c.inline(urlNode, q, render.URLQuery, rule, where+".url")
		}
	}
	for k, v := range r.HeaderTemplates() {
		if strings.Contains(v, "{{") {
			if t.headers == nil {
				t.headers = map[string]*render.Template{}
			}
			t.headers[k] = c.inline(config.Lookup(chNode, ch.Kind, "headers", k), v, render.HeaderValue, rule, where+".headers."+k)
		}
	}
}

// quoteOr writes names as `"a" or "b"`.
func quoteOr(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " or ")
}

// errNotJSON is a JSON block (Slack's blocks, an HTTP body sent as JSON,
// a Teams card) that rendered to something else.
var errNotJSON = errors.New("the result is not valid JSON")

// renderBlocks renders the kind's blocks with exec, then lets the kind
// complete the parts.
func (t *target) renderBlocks(raw []byte, exec func(string, *render.Template) string) (notifiers.Parts, error) {
	k := t.channel.Descriptor
	var p notifiers.Parts
	for _, b := range k.Blocks {
		tm := t.blocks[b.Name]
		if tm == nil {
			if b.Else != nil {
				b.Else(&p, raw)
			}
			continue
		}
		out := exec(b.Name, tm)
		if b.JSON {
			out = strings.TrimSpace(out)
			if out != "" && !json.Valid([]byte(out)) {
				return notifiers.Parts{}, fmt.Errorf("render %s: %w (insert values with %s)", b.Name, errNotJSON, cmp.Or(b.JSONHint, "toJson or markdownJson"))
			}
		}
		b.Set(&p, out)
	}
	if k.Complete != nil {
		k.Complete(&p, t.inline)
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
