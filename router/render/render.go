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
}

func (o Options) normalized() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
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
	}
	return fmt.Sprintf("Escape(%d)", int(e))
}

// Template is one compiled template. It is safe for concurrent Execute.
type Template struct {
	name string // for errors: the template's or the file's name
	src  string // the source, to turn byte offsets into columns
	text *texttemplate.Template
	html *htmltemplate.Template
	max  int
	bufs sync.Pool // of *capWriter
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

// compile rewrites trees (see rewrite.go) and builds the template set whose
// entry point is exec.
func compile(name, src string, trees map[string]*parse.Tree, exec string, esc Escape, funcs map[string]any, o Options) (*Template, error) {
	t := &Template{name: name, src: src, max: o.MaxBytes}
	if esc == HTML {
		set := htmltemplate.New(name).Funcs(htmltemplate.FuncMap(funcs))
		for n, tree := range trees {
			rewriteTree(tree, true)
			if _, err := set.AddParseTree(n, tree); err != nil {
				return nil, &Error{Name: name, Msg: err.Error()}
			}
		}
		if err := escapeNow(set, name, src, exec, trees[exec]); err != nil {
			return nil, err
		}
		t.html = set.Lookup(exec)
	} else {
		set := texttemplate.New(name).Funcs(texttemplate.FuncMap(funcs))
		for n, tree := range trees {
			rewriteTree(tree, false)
			if _, err := set.AddParseTree(n, tree); err != nil {
				return nil, &Error{Name: name, Msg: err.Error()}
			}
		}
		t.text = set.Lookup(exec)
	}
	if t.text == nil && t.html == nil {
		return nil, &Error{Name: name, Msg: fmt.Sprintf("no template %q", exec)}
	}
	return t, nil
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
func (t *Template) Execute(data any) (string, error) {
	w, _ := t.bufs.Get().(*capWriter)
	if w == nil {
		w = &capWriter{}
	}
	w.buf.Reset()
	w.max = t.max
	var err error
	if t.html != nil {
		err = t.html.Execute(w, data)
	} else {
		err = t.text.Execute(w, data)
	}
	out := w.buf.String()
	if w.buf.Cap() <= 4*DefaultMaxBytes {
		t.bufs.Put(w)
	}
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
