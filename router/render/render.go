package render

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"
	"time"
)

// DefaultMaxBytes is the default cap on one rendered part (64 KiB).
const DefaultMaxBytes = 64 << 10

// maxIterations caps integer ranges and the list generators (until,
// untilStep, seq): a template can never spin on a number it made up.
const maxIterations = 10_000

// ErrTooLarge is returned (wrapped) by Execute when the output would exceed
// Options.MaxBytes. Execution stops at the first write past the limit, so a
// huge range loop ends early.
var ErrTooLarge = errors.New("rendered output exceeds the size limit")

// Options bound rendering.
type Options struct {
	// MaxBytes caps each rendered part; 0 (or less) means DefaultMaxBytes.
	// Exceeding it aborts execution with an error wrapping ErrTooLarge.
	MaxBytes int
	// Now is the clock of now, ago, hours_since, hours_until, days_since
	// and days_until; nil means time.Now.
	Now func() time.Time
	// MaxSteps caps the steps of one execution (function calls, field
	// lookups, outputs, range iterations); 0 means DefaultMaxSteps.
	MaxSteps int
	// MaxMemory caps the intermediate values one execution builds: the
	// sum of the sizes of the strings, lists and objects its functions
	// return; 0 means DefaultMaxMemory.
	MaxMemory int
	// Timeout caps the wall-clock time of one execution; 0 means
	// DefaultTimeout. It is measured on the real clock, not Now.
	Timeout time.Duration
}

func (o Options) normalized() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	if o.MaxMemory <= 0 {
		o.MaxMemory = DefaultMaxMemory
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Escape says how values interpolated by {{ … }} actions are escaped. The
// template's literal text is never touched.
type Escape int

const (
	// Plain interpolates values as they are.
	Plain Escape = iota
	// Mrkdwn escapes values for Slack mrkdwn (& → &amp;, < → &lt;,
	// > → &gt;), so a template's own "<https://x|link>" survives while a
	// value cannot inject links or mentions.
	Mrkdwn
	// HTML parses and executes the template with html/template
	// (contextual auto-escaping).
	HTML
	// URLPath escapes values with url.PathEscape: a value cannot add "/",
	// "?" or "#".
	URLPath
	// URLQuery escapes values with url.QueryEscape.
	URLQuery
	// HeaderValue removes CR, LF and other control characters (except
	// tab) from values, so a value cannot inject headers.
	HeaderValue
	// Markdown escapes values for Discord and Teams Markdown: a backslash
	// before every formatting, link or mention character, so a customer
	// named "@everyone" or "**Acme**" shows as written.
	Markdown
)

// String returns the escaping's name.
func (e Escape) String() string {
	switch e {
	case Plain:
		return "plain"
	case Mrkdwn:
		return "mrkdwn"
	case HTML:
		return "html"
	case URLPath:
		return "url path"
	case URLQuery:
		return "url query"
	case HeaderValue:
		return "header value"
	case Markdown:
		return "markdown"
	}
	return fmt.Sprintf("Escape(%d)", int(e))
}

// Template is one compiled template. It is safe for concurrent Execute:
// each execution takes an instance of its own — the template set bound to
// functions that count against that instance's budget — from a pool.
type Template struct {
	name  string // for errors: the template's or the file's name
	src   string // the source, to turn byte offsets into columns
	exec  string // the entry point in trees
	esc   Escape
	trees map[string]*parse.Tree // rewritten; html instances escape copies
	funcs map[string]any         // unbound: see bindFuncs
	opts  Options
	pool  sync.Pool // of *instance
}

// instance is one executable copy of a Template with its own budget and
// output buffer; one goroutine uses it at a time.
type instance struct {
	text   *texttemplate.Template
	html   *htmltemplate.Template
	budget *budget
	w      capWriter
}

// Parse compiles text as one template whose values are escaped with esc.
// name is used in errors. A parse error is an *Error with the line and
// column inside text.
func Parse(name, text string, esc Escape, opts Options) (*Template, error) {
	funcs := funcMap(esc, opts.normalized())
	trees, err := parse.Parse(name, text, "", "", publicFuncs(funcs), builtinNames())
	if err != nil {
		return nil, parseError(name, text, err)
	}
	return compile(name, text, trees, name, esc, funcs, opts.normalized())
}

// compile rewrites trees (see rewrite.go) and builds the first instance,
// which reports the errors of compilation (html/template escapes here).
func compile(name, src string, trees map[string]*parse.Tree, exec string, esc Escape, funcs map[string]any, o Options) (*Template, error) {
	for _, tree := range trees {
		rewriteTree(tree, esc == HTML)
	}
	t := &Template{name: name, src: src, exec: exec, esc: esc, trees: trees, funcs: funcs, opts: o}
	in, err := t.newInstance()
	if err != nil {
		return nil, err
	}
	t.pool.Put(in)
	return t, nil
}

// newInstance builds an executable copy of t with a budget of its own.
func (t *Template) newInstance() (*instance, error) {
	b := newBudget(t.opts)
	funcs := bindFuncs(t.funcs, t.esc, t.opts, b)
	in := &instance{budget: b}
	if t.esc == HTML {
		set := htmltemplate.New(t.name).Funcs(htmltemplate.FuncMap(funcs))
		for n, tree := range t.trees {
			// html/template escapes a tree in place: each instance
			// escapes its own copy.
			if _, err := set.AddParseTree(n, tree.Copy()); err != nil {
				return nil, &Error{Name: t.name, Msg: err.Error()}
			}
		}
		if err := escapeNow(set, t.name, t.src, t.exec, t.trees[t.exec]); err != nil {
			return nil, err
		}
		in.html = set.Lookup(t.exec)
	} else {
		set := texttemplate.New(t.name).Funcs(texttemplate.FuncMap(funcs))
		for n, tree := range t.trees {
			if _, err := set.AddParseTree(n, tree); err != nil {
				return nil, &Error{Name: t.name, Msg: err.Error()}
			}
		}
		in.text = set.Lookup(t.exec)
	}
	if in.text == nil && in.html == nil {
		return nil, &Error{Name: t.name, Msg: fmt.Sprintf("no template %q", t.exec)}
	}
	return in, nil
}

// errStopProbe ends the probe execution that forces html/template to
// escape a block at compile time; see escapeNow.
var errStopProbe = errors.New("stop")

// escapeNow makes html/template escape the block exec now, at compile time,
// so that its contextual errors ("… appears in an ambiguous context within
// a URL", "ends in a non-text context") are compile errors with positions
// and not failures of the first delivery. html/template escapes on first
// execution only, so a probe template calls the block after a function
// that stops execution before anything runs.
func escapeNow(set *htmltemplate.Template, name, src, exec string, tree *parse.Tree) error {
	const probe = "\x00escape"
	probeSrc := "{{ if " + fnStop + " }}{{ end }}{{ template " + strconv.Quote(exec) + " . }}"
	trees, err := parse.Parse(probe, probeSrc, "", "", map[string]any{fnStop: true})
	if err != nil {
		return &Error{Name: name, Msg: err.Error()}
	}
	p, err := set.AddParseTree(probe, trees[probe])
	if err != nil {
		return &Error{Name: name, Msg: err.Error()}
	}
	err = p.Execute(io.Discard, nil)
	if err == nil || errors.Is(err, errStopProbe) {
		return nil
	}
	var he *htmltemplate.Error
	if !errors.As(err, &he) {
		return &Error{Name: name, Msg: err.Error()}
	}
	e := &Error{Name: name, Line: he.Line, Msg: he.Description}
	if he.Node != nil && int(he.Node.Position()) <= len(src) {
		pos := int(he.Node.Position())
		e.Line, e.Column = lineCol(src, pos)
		// The description quotes the rewritten action; quote the source.
		if action, ok := actionAt(src, pos); ok {
			e.Msg = strings.ReplaceAll(e.Msg, he.Node.String(), action)
		}
	} else if he.ErrorCode == htmltemplate.ErrEndContext {
		if tree != nil && tree.Root != nil && len(tree.Root.Nodes) > 0 {
			last := tree.Root.Nodes[len(tree.Root.Nodes)-1]
			e.Line, e.Column = lineCol(src, int(last.Position()))
		}
		state, _, _ := strings.Cut(strings.TrimPrefix(he.Description[strings.Index(he.Description, "{")+1:], "state"), " ")
		e.Msg = fmt.Sprintf("%q ends inside unfinished HTML (%s): close the tag, attribute, comment or script", exec, state)
	}
	return e
}

// actionAt returns the source text of the action around byte offset pos.
func actionAt(src string, pos int) (string, bool) {
	start := strings.LastIndex(src[:pos], "{{")
	if start < 0 {
		return "", false
	}
	end := strings.Index(src[pos:], "}}")
	if end < 0 {
		return "", false
	}
	return src[start : pos+end+2], true
}

// Execute renders the template with data: normally the decoded message
// (map[string]any from json.Unmarshal) plus extra keys such as "meta".
// Errors are short: "template: name:3:12: required: invoice number missing".
// An execution that exceeds its budget (Options.MaxSteps, MaxMemory,
// Timeout) stops with an error wrapping ErrBudget.
func (t *Template) Execute(data any) (string, error) {
	in, _ := t.pool.Get().(*instance)
	if in == nil {
		var err error
		if in, err = t.newInstance(); err != nil {
			return "", err
		}
	}
	in.w.buf.Reset()
	in.w.max = t.opts.MaxBytes
	in.budget.start()
	var err error
	if in.html != nil {
		err = in.html.Execute(&in.w, data)
	} else {
		err = in.text.Execute(&in.w, data)
	}
	out := in.w.buf.String()
	if in.w.buf.Cap() > 4*DefaultMaxBytes {
		in.w.buf = bytes.Buffer{}
	}
	t.pool.Put(in)
	if err != nil {
		return "", t.execError(err)
	}
	return out, nil
}

// capWriter is a buffer that refuses to grow past max.
type capWriter struct {
	buf bytes.Buffer
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, fmt.Errorf("%w of %d bytes", ErrTooLarge, w.max)
	}
	return w.buf.Write(p)
}
