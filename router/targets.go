package router

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/mail"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router/render"
)

// target is one compiled `send` entry: the channel and the templates that
// produce each part it needs.
type target struct {
	channel *Channel
	// content describes where the content comes from, for `test` output:
	// "template x.tmpl", "message" or "default".
	content string

	// blocks are the kind's template blocks (notifiers.Kind.Blocks) the
	// target renders, by name; inline: the content is a `message:`.
	blocks map[string]*render.Template
	inline bool
	// to and cc are the channel's recipient templates (notifiers.Addressed).
	to, cc []*render.Template
	// pathTmpl and queryTmpl are the URL's path and query when templated,
	// headers the templated header values (notifiers.Routed).
	pathTmpl, queryTmpl *render.Template
	headers             map[string]*render.Template
	// addr is the channel's addressing as written: its to and cc sources
	// and max_recipients bound what templated entries may add; addressed
	// says the channel has one.
	addr      notifiers.Addresses
	addressed bool

	// file is the template file the target uses (nil for message: and
	// the defaults); digest holds its digest_* blocks, compiled when the
	// rule groups.
	file   *render.File
	tf     templateFile
	digest map[string]*render.Template

	// convMode is notifiers.ModeThread or ModeUpdate when the entry has a
	// thread or update key; broadcast is its broadcast.
	convMode  string
	broadcast bool
}

// block compiles one block of a template file, reporting errors at the
// file's positions.
func (c *compiler) block(f *render.File, tf templateFile, name string, esc render.Escape, rule string) *render.Template {
	// A file used by many rules is compiled once per block and escaping:
	// compiled templates are immutable and safe to share.
	key := blockKey{file: tf.path, block: name, esc: esc}
	if t, ok := c.blocks[key]; ok {
		return t
	}
	t, err := f.Block(name, esc, c.ropts)
	if err != nil {
		c.templateError(tf.path, err, rule)
		return nil
	}
	if problems := c.lint.AnalyzeBlock(f, name).Problems; len(problems) > 0 {
		for _, p := range problems {
			c.templateError(tf.path, p, rule)
		}
		c.blocks[key] = nil
		return nil
	}
	c.blocks[key] = t
	return t
}

// blockKey identifies a compiled block of a template file.
type blockKey struct {
	file, block string
	esc         render.Escape
}

func (c *compiler) templateError(file string, err error, rule string) {
	if te, ok := err.(*render.Error); ok {
		c.ds.Add(config.SeverityError, file, config.Pos{Line: te.Line, Col: te.Column}, rule, "", "%s", te.Msg)
		return
	}
	c.ds.Add(config.SeverityError, file, config.Pos{}, rule, "", "%v", err)
}

// inline compiles a template written in the rules file (message:, email
// to/cc/subject, http url and headers); errors point into the rules file.
func (c *compiler) inline(n ast.Node, text string, esc render.Escape, rule, field string) *render.Template {
	key := blockKey{file: "\x00inline", block: text, esc: esc}
	if t, ok := c.blocks[key]; ok {
		return t
	}
	t, err := render.Parse(field, text, esc, c.ropts)
	if err == nil {
		if problems := c.lint.Analyze(field, text).Problems; len(problems) > 0 {
			for _, p := range problems {
				c.inlineError(n, text, p, rule, field)
			}
			c.blocks[key] = nil
			return nil
		}
		c.blocks[key] = t
		return t
	}
	c.inlineError(n, text, err, rule, field)
	return nil
}

// inlineError reports a problem of a template written in the rules file
// at its position there.
func (c *compiler) inlineError(n ast.Node, text string, err error, rule, field string) {
	at := config.NodePos(n)
	msg := err.Error()
	if te, ok := err.(*render.Error); ok {
		msg = te.Msg
		if te.Line > 0 {
			at = c.inlinePos(n, text, te.Line, te.Column)
		}
	}
	c.ds.Add(config.SeverityError, c.file, at, rule, field, "%s: %s", field, msg)
}

// inlinePos converts a line and column inside an inline template to the
// rules file. Offsets inside a one-line value are exact; inside a block
// scalar they land on the right line.
func (c *compiler) inlinePos(n ast.Node, text string, line, col int) config.Pos {
	offset := 0
	for i, l := range strings.Split(text, "\n") {
		if i == line-1 {
			break
		}
		offset += len([]rune(l)) + 1
	}
	offset += max(col-1, 0)
	return config.ScalarOffsetPos(c.lines, n, offset)
}

// checkTemplateFields warns about fields a rule's templates read that do
// not exist in the Lago types its condition pins — {{ .invocie.number }}
// renders empty on every message — as checkPaths does for conditions.
func (c *compiler) checkTemplateFields(rule string, sn ast.Node, s SendConfig, t *target) {
	pinned := c.pinned
	if c.o.Catalog == nil || len(pinned) == 0 {
		return
	}
	missing := func(path []string) bool {
		// Capitalised keys are Switchboard's own (.Suppressed, .Previous);
		// meta is the message's metadata.
		if len(path) == 0 || path[0] == "meta" || (path[0][0] >= 'A' && path[0][0] <= 'Z') {
			return false
		}
		for _, typ := range pinned {
			if st := c.o.Catalog.Lookup(typ, path); st != lago.Missing {
				return false
			}
		}
		return true
	}
	types := strings.Join(pinned, ", ")
	switch {
	case t.file != nil:
		for _, b := range t.file.Blocks() {
			if strings.HasPrefix(b, "digest_") {
				continue
			}
			for _, f := range c.lint.AnalyzeBlock(t.file, b).Fields {
				if missing(f.Path) {
					c.ds.Add(config.SeverityWarning, t.tf.path, config.Pos{Line: f.Line, Col: f.Column}, rule, "",
						"{{ .%s }} does not exist in %s payloads (it renders empty)", strings.Join(f.Path, "."), types)
				}
			}
		}
	case s.Message != "":
		n := config.Lookup(sn, "message")
		for _, f := range c.lint.Analyze("message", s.Message).Fields {
			if missing(f.Path) {
				c.ds.Add(config.SeverityWarning, c.file, config.ScalarOffsetPos(c.lines, n, f.Offset), rule, "message",
					"message: {{ .%s }} does not exist in %s payloads (it renders empty)", strings.Join(f.Path, "."), types)
			}
		}
	}
}

// templateFile returns the parsed template file name, reporting a missing
// or broken file once.
func (c *compiler) templateFile(name string, n ast.Node, rule, field string) (*render.File, templateFile, bool) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	tf, ok := c.tmpls[clean]
	if !ok || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
		if st, err := os.Stat(c.o.TemplatesDir); err != nil || !st.IsDir() {
			c.ds.Add(config.SeverityError, c.file, config.NodePos(n), rule, field, "template %q not found: the templates directory %s does not exist", name, c.o.TemplatesDir)
		} else {
			c.ds.Add(config.SeverityError, c.file, config.NodePos(n), rule, field, "template %q not found in %s", name, c.o.TemplatesDir)
		}
		return nil, tf, false
	}
	if f, ok := c.files[clean]; ok {
		return f, tf, true
	}
	if c.badFile[clean] {
		return nil, tf, false
	}
	f, err := render.ParseFile(clean, string(tf.src))
	if err != nil {
		c.badFile[clean] = true
		c.templateError(tf.path, err, rule)
		return nil, tf, false
	}
	c.files[clean] = f
	unused := f.Unused()
	for _, name := range slices.Sorted(maps.Keys(unused)) {
		p := unused[name]
		c.ds.Add(config.SeverityWarning, tf.path, config.Pos{Line: p.Line, Col: p.Column}, rule, "",
			"block %q is rendered by no channel and called by no other block, so nothing uses it%s", name,
			didYouMean(name, slices.Values(render.KnownBlocks())))
	}
	return f, tf, true
}

func (c *compiler) compileTarget(rule string, ruleNode ast.Node, j int, s SendConfig) *target {
	return c.compileTargetAt(rule, config.Lookup(ruleNode, "send", j), fmt.Sprintf("send[%d]", j), s)
}

// compileTargetAt compiles one target whose entry is sn (a send entry or
// an escalate block); field names it in diagnostics.
func (c *compiler) compileTargetAt(rule string, sn ast.Node, field string, s SendConfig) *target {
	before := len(c.ds.List)
	if s.To == "" {
		c.ds.Add(config.SeverityError, c.file, config.NodePos(sn), rule, field+".to", "%s: to is required (the channel to send to)", field)
		return nil
	}
	ch, ok := c.rs.Channels[s.To]
	if !ok && c.brokenChannels[s.To] {
		return nil
	}
	if !ok {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "to"), rule, field+".to", "unknown channel %q%s", s.To, c.suggestChannel(s.To))
		return nil
	}
	if s.Template != "" && s.Message != "" {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(sn, "message"), rule, field, "%s: set template or message, not both", field)
		return nil
	}
	// A plain entry compiles the same for every rule (the built-in
	// template reads no rule's settings): once it compiled without a
	// diagnostic, the rules sending to that channel share the target.
	plain := s == SendConfig{To: s.To}
	if t := c.plainTargets[ch]; plain && t != nil {
		return t
	}
	t := &target{channel: ch}
	var file *render.File
	var tf templateFile
	switch {
	case s.Template != "":
		t.content = "template " + s.Template
		f, info, ok := c.templateFile(s.Template, config.Lookup(sn, "template"), rule, field+".template")
		if !ok {
			return nil
		}
		file, tf = f, info
	case s.Message != "":
		t.content = "message"
	default:
		t.content = "default"
		file = c.defaultFile(ch.Descriptor)
		tf = templateFile{name: "default " + ch.Kind, path: "(built-in " + ch.Kind + " template)"}
	}
	if s.Template != "" {
		t.file, t.tf = file, tf
	}
	if !c.compileBlocks(t, file, tf, s, sn, rule, field) {
		return nil
	}
	if cfg, ok := ch.settings.(notifiers.Addressed); ok {
		c.compileAddresses(t, cfg.Addresses(), s, rule)
	}
	if cfg, ok := ch.settings.(notifiers.Routed); ok {
		c.compileRoute(t, cfg, rule)
	}
	c.checkTemplateFields(rule, sn, s, t)
	if c.ds.HasErrorsSince(before) {
		return nil
	}
	// A template that blows its render budget without even looking at
	// the message (a loop over a number, a string doubled in a range)
	// would fail every delivery: refuse it now, with the file, rather
	// than on the first webhook.
	sample := map[string]any{"meta": map[string]any{"source": "", "id": "", "received_at": ""}}
	if _, err := t.render(sample, []byte("{}")); errors.Is(err, render.ErrBudget) || errors.Is(err, render.ErrTooLarge) {
		c.ds.Add(config.SeverityError, c.file, config.NodePos(sn), rule, field, "%s: %s exceeds its limits (rendering an empty message: %v)", field, t.content, err)
		return nil
	}
	if plain && len(c.ds.List) == before {
		c.plainTargets[ch] = t
	}
	return t
}

// cutOutsideActions splits s at the first sep that is not inside {{ }}.
func cutOutsideActions(s string, sep byte) (before, after string, found bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			depth++
			i++
		case strings.HasPrefix(s[i:], "}}") && depth > 0:
			depth--
			i++
		case s[i] == sep && depth == 0:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// defaultFile returns the built-in template of a channel kind, parsed
// once per load; nil when the kind has none.
func (c *compiler) defaultFile(k *notifiers.Kind) *render.File {
	f, ok := c.defaults[k.Name]
	if !ok {
		if k.Template != "" {
			f, _ = render.ParseBuiltin(k.Name, k.Template)
		}
		c.defaults[k.Name] = f
	}
	return f
}

func (c *compiler) channelNode(name string) ast.Node {
	return c.channelNodes[name]
}

func (c *compiler) suggestChannel(name string) string {
	return didYouMean(name, maps.Keys(c.rs.Channels))
}

// didYouMean returns " (did you mean "X"?)" for the candidate closest to
// name, within two edits, or "" when none is.
func didYouMean(name string, candidates iter.Seq[string]) string {
	best, bestD := "", 3
	for n := range candidates {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// render produces the parts of one delivery from a message's data.
func (t *target) render(data map[string]any, raw []byte) (notifiers.Parts, error) {
	var p notifiers.Parts
	var err error
	exec := func(name string, tm *render.Template) string {
		if tm == nil || err != nil {
			return ""
		}
		out, e := tm.Execute(data)
		if e != nil {
			err = fmt.Errorf("render %s: %w", name, e)
		}
		return out
	}
	// exec records a block's failure in err; keep it first.
	p, berr := t.renderBlocks(raw, exec)
	err = cmp.Or(err, berr)
	if t.pathTmpl != nil {
		p.Path = exec("url", t.pathTmpl)
		if !strings.HasPrefix(p.Path, "/") {
			p.Path = "/" + p.Path
		}
		if t.queryTmpl != nil {
			p.Path += "?" + exec("url", t.queryTmpl)
		}
	}
	for k, tm := range t.headers {
		if p.Headers == nil {
			p.Headers = map[string]string{}
		}
		p.Headers[k] = exec("header "+k, tm)
	}
	if t.addressed {
		limit := max(t.addr.MaxRecipients, 1)
		for i, tm := range t.to {
			p.To = append(p.To, t.recipients(fmt.Sprintf("to[%d]", i), exec("to", tm), t.addr.To[i], limit, &err)...)
		}
		for i, tm := range t.cc {
			p.Cc = append(p.Cc, t.recipients(fmt.Sprintf("cc[%d]", i), exec("cc", tm), t.addr.Cc[i], limit, &err)...)
		}
		if err == nil && len(p.To) == 0 {
			err = fmt.Errorf("render to: no recipient (every to entry rendered empty)")
		}
	}
	if err != nil {
		return notifiers.Parts{}, err
	}
	return p, nil
}

// splitAddresses splits a rendered recipient entry into addresses, so
// that one template may yield several ("a@x, b@y") or none (""). An entry
// that does not parse is kept whole for the email notifier to reject.
// recipients splits the rendered entry field (written as src) into
// addresses. An entry without template actions is the operator's list and
// is taken whole; a templated one may give at most limit addresses, so a
// value from the message ("a@x.com, everyone@corp.example") cannot add
// recipients. Too many sets *err (if not set yet) and returns none.
func (t *target) recipients(field, rendered, src string, limit int, err *error) []string {
	list := splitAddresses(rendered)
	if strings.Contains(src, "{{") && len(list) > limit {
		if *err == nil {
			*err = fmt.Errorf("render %s: %d addresses where max_recipients allows %d (a value of the message holds a comma?)", field, len(list), limit)
		}
		return nil
	}
	return list
}

func splitAddresses(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		return []string{s}
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
		if a.Name != "" {
			out[i] = a.String()
		}
	}
	return out
}
