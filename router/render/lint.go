package render

import (
	"fmt"
	"reflect"
	"strings"
	"text/template/parse"
	"unicode/utf8"
)

// FieldRef is a path a template reads from the message's root:
// {{ .invoice.number }} or $.invoice.number reads ["invoice", "number"].
type FieldRef struct {
	Path []string
	// Line and Column (1-based, in characters) locate the reference in the
	// template's text (or its file); Offset is the same place in
	// characters from the start of the text.
	Line, Column, Offset int
}

// Analysis is what checking a template finds without executing it.
type Analysis struct {
	// Fields are the message fields the template reads at the root, in
	// the order they appear; reads inside range and with (where the dot is
	// another value) are not included.
	Fields []FieldRef
	// Problems are calls with the wrong number of arguments, which would
	// fail every rendering.
	Problems []*Error
}

// Checker analyses templates without executing them. Build one with
// NewChecker and reuse it: building it costs as much as compiling a
// template. It is immutable and safe for concurrent use.
type Checker struct {
	funcs map[string]any // every public function, for parsing and arity
}

// NewChecker returns a Checker of the template language's functions.
func NewChecker() *Checker {
	return &Checker{funcs: publicFuncs(funcMap(Plain, Options{}.normalized()))}
}

// Analyze checks an inline template (as given to Parse). A template that
// does not parse has an empty analysis: Parse reports its error.
func (c *Checker) Analyze(name, text string) Analysis {
	trees, err := parse.Parse(name, text, "", "", c.funcs, builtinNames())
	if err != nil {
		return Analysis{}
	}
	return c.analyze(name, text, trees[name])
}

// AnalyzeBlock checks one block of a file, as Analyze does an inline
// template. Positions are in the file.
func (c *Checker) AnalyzeBlock(f *File, block string) Analysis {
	if !f.Has(block) {
		return Analysis{}
	}
	return c.analyze(f.name, f.src, f.trees[block])
}

func (c *Checker) analyze(name, src string, tree *parse.Tree) Analysis {
	if tree == nil || tree.Root == nil {
		return Analysis{}
	}
	a := &analyzer{name: name, src: src, funcs: c.funcs}
	a.list(tree.Root, true)
	return a.out
}

type analyzer struct {
	name, src string
	funcs     map[string]any
	out       Analysis
}

func (a *analyzer) list(l *parse.ListNode, root bool) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch x := n.(type) {
		case *parse.ActionNode:
			a.pipe(x.Pipe, root)
		case *parse.IfNode:
			a.pipe(x.Pipe, root)
			a.list(x.List, root)
			a.list(x.ElseList, root)
		case *parse.RangeNode:
			a.pipe(x.Pipe, root)
			a.list(x.List, false)
			a.list(x.ElseList, root)
		case *parse.WithNode:
			a.pipe(x.Pipe, root)
			a.list(x.List, false)
			a.list(x.ElseList, root)
		case *parse.TemplateNode:
			a.pipe(x.Pipe, root)
		}
	}
}

func (a *analyzer) pipe(p *parse.PipeNode, root bool) {
	if p == nil {
		return
	}
	for i, c := range p.Cmds {
		if len(c.Args) == 0 {
			continue
		}
		if id, ok := c.Args[0].(*parse.IdentifierNode); ok {
			got := len(c.Args) - 1
			if i > 0 {
				got++ // the previous command's result
			}
			a.arity(id, got)
		}
		for _, arg := range c.Args {
			a.arg(arg, root)
		}
	}
}

func (a *analyzer) arg(n parse.Node, root bool) {
	switch x := n.(type) {
	case *parse.FieldNode:
		if root {
			a.field(x.Ident, int(x.Pos))
		}
	case *parse.VariableNode:
		if len(x.Ident) > 1 && x.Ident[0] == "$" {
			a.field(x.Ident[1:], int(x.Pos))
		}
	case *parse.PipeNode:
		a.pipe(x, root)
	case *parse.ChainNode:
		a.arg(x.Node, root)
	}
}

func (a *analyzer) field(path []string, pos int) {
	// The parser places a chain at its last element: go back to its start.
	pos = min(max(pos, 0), len(a.src))
	for pos > 0 && isChainByte(a.src[pos-1]) {
		pos--
	}
	line, col := lineCol(a.src, pos)
	a.out.Fields = append(a.out.Fields, FieldRef{Path: append([]string(nil), path...), Line: line, Column: col,
		Offset: utf8.RuneCountInString(a.src[:min(max(pos, 0), len(a.src))])})
}

// arity reports a call of a function with a number of arguments it cannot
// take ({{ money .invoice.total_amount_cents }}: money takes two).
func (a *analyzer) arity(id *parse.IdentifierNode, got int) {
	fn, ok := a.funcs[id.Ident]
	if !ok || strings.HasPrefix(id.Ident, "__") {
		return
	}
	t := reflect.TypeOf(fn)
	if t.Kind() != reflect.Func {
		return
	}
	want := t.NumIn()
	var msg string
	switch {
	case t.IsVariadic() && got < want-1:
		msg = fmt.Sprintf("%s takes at least %d argument%s, got %d", id.Ident, want-1, plural(want-1), got)
	case !t.IsVariadic() && got != want:
		msg = fmt.Sprintf("%s takes %d argument%s, got %d", id.Ident, want, plural(want), got)
		if id.Ident == "money" {
			msg += " (write money .invoice.total_amount_cents .invoice.currency)"
		}
	default:
		return
	}
	line, col := lineCol(a.src, int(id.Pos))
	a.out.Problems = append(a.out.Problems, &Error{Name: a.name, Line: line, Column: col, Msg: msg})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func isChainByte(b byte) bool {
	return b == '.' || b == '$' || b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
