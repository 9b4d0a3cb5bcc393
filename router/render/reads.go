package render

import (
	"strings"
	"text/template/parse"
)

// Reads calls read with each path of the data the template reads (field
// names from the top); everything under a path may be read. A nil path
// means the template may read anything (it passes the whole data on, or
// calls another template with it). Inside range and with, fields are
// relative to a value already reported whole, so only fields from the
// top ($) are reported there.
func (t *Template) Reads(read func(path []string)) {
	if t == nil {
		return
	}
	tree := t.trees[t.exec]
	if tree == nil || tree.Root == nil {
		read(nil)
		return
	}
	w := readWalker{read: read, trees: t.trees, seen: map[string]bool{t.exec: true}}
	w.list(tree.Root, true)
}

type readWalker struct {
	read  func([]string)
	trees map[string]*parse.Tree
	seen  map[string]bool
}

func (w *readWalker) list(l *parse.ListNode, top bool) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		w.node(n, top)
	}
}

// node walks n; top is true while dot is the whole data.
func (w *readWalker) node(n parse.Node, top bool) {
	switch n := n.(type) {
	case nil:
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode,
		*parse.StringNode, *parse.NumberNode, *parse.BoolNode, *parse.NilNode, *parse.IdentifierNode:
	case *parse.ListNode:
		w.list(n, top)
	case *parse.ActionNode:
		w.pipe(n.Pipe, top)
	case *parse.PipeNode:
		w.pipe(n, top)
	case *parse.CommandNode:
		if w.lookup(n, top) {
			return
		}
		for _, a := range n.Args {
			w.node(a, top)
		}
	case *parse.IfNode:
		w.pipe(n.Pipe, top)
		w.list(n.List, top)
		w.list(n.ElseList, top)
	case *parse.RangeNode:
		w.pipe(n.Pipe, top)
		w.list(n.List, false)
		w.list(n.ElseList, top)
	case *parse.WithNode:
		w.pipe(n.Pipe, top)
		w.list(n.List, false)
		w.list(n.ElseList, top)
	case *parse.TemplateNode:
		// The called template's dot is the pipeline's value: a value
		// reported whole, or, for dot at the top, the whole data, which
		// the called template is walked for instead.
		if top && isDot(n.Pipe) && !w.seen[n.Name] && w.trees[n.Name] != nil {
			w.seen[n.Name] = true
			w.list(w.trees[n.Name].Root, true)
			return
		}
		w.pipe(n.Pipe, top)
	case *parse.DotNode:
		if top {
			w.read(nil)
		}
	case *parse.FieldNode:
		if top {
			w.read(n.Ident)
		}
	case *parse.VariableNode:
		if n.Ident[0] == "$" {
			if len(n.Ident) == 1 {
				w.read(nil)
			} else {
				w.read(n.Ident[1:])
			}
		}
	case *parse.ChainNode:
		w.node(n.Node, top)
	default:
		w.read(nil) // a node this walk does not know: assume anything
	}
}

func (w *readWalker) pipe(p *parse.PipeNode, top bool) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		w.node(c, top)
	}
}

func isDot(p *parse.PipeNode) bool {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	_, ok := p.Cmds[0].Args[0].(*parse.DotNode)
	return ok
}

// lookup reports a rewritten field chain (__get2 . "a" "b", __show $ "a")
// as the path it reads; false when n is not one on dot or $.
func (w *readWalker) lookup(n *parse.CommandNode, top bool) bool {
	if len(n.Args) < 2 {
		return false
	}
	id, ok := n.Args[0].(*parse.IdentifierNode)
	if !ok || (id.Ident != fnShow && !strings.HasPrefix(id.Ident, fnGet)) {
		return false
	}
	path := make([]string, 0, len(n.Args)-2)
	for _, a := range n.Args[2:] {
		s, ok := a.(*parse.StringNode)
		if !ok {
			return false
		}
		path = append(path, s.Text)
	}
	switch b := n.Args[1].(type) {
	case *parse.DotNode:
		if top {
			w.read(path)
		}
		return true
	case *parse.VariableNode:
		if len(b.Ident) == 1 && b.Ident[0] == "$" {
			w.read(path)
			return true
		}
	}
	return false
}
