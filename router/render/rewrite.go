package render

import (
	"strconv"
	"strings"
	"text/template/parse"
)

// Names of the functions the rewritten trees call. They start with "__"
// and are not offered to template authors: parsing checks names against
// the public functions only.
const (
	fnGet   = "__get"   // nil-safe field lookup
	fnOut   = "__out"   // nil → "", numbers without exponent, escaping
	fnRange = "__range" // caps integer ranges
	fnStr   = "__str"   // nil-safe print, before html/template's predefined escapers
	fnStop  = "__stop"  // ends the compile-time escaping probe
	fnShow  = "__show"  // __get and __out in one call, for {{ .a.b }}
	fnTick  = "__tick"  // counts a step of the render budget
)

// rewriteTree makes a parsed template forgiving about data, the way
// notification templates need to be:
//
//   - every field chain — .a.b, $x.a, (pipeline).a — becomes a call of the
//     nil-safe lookup (__get2 . "a" "b"; __get1 to __get3 by length, __get
//     beyond), so a missing or null field, or a field of a string, is nil
//     instead of "<no value>" or an error;
//   - every output action ends with __out, which prints nil as "", floats
//     without exponent, and escapes the value for the template's Escape;
//   - every range pipeline ends with __range, which refuses integer ranges
//     longer than maxIterations;
//   - every range body and every defined template starts with
//     {{ if __tick }}{{ end }}, so each iteration and each template call
//     counts against the render budget even when it calls nothing else.
//
// A field in function position with arguments (.Method arg), or receiving a
// piped value, is a method call and is left as it is.
func rewriteTree(t *parse.Tree, html bool) {
	if t == nil || t.Root == nil {
		return
	}
	r := &rewriter{tree: t, html: html}
	r.list(t.Root)
	r.tick(t.Root, t.Root.Pos)
}

// tick prepends {{ if __tick }}{{ end }} to l. An if prints nothing, so
// html/template has no context to escape for it.
func (r *rewriter) tick(l *parse.ListNode, pos parse.Pos) {
	if l == nil {
		return
	}
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{r.ident(fnTick, pos)}}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{cmd}}
	if r.pipe0 != nil {
		pipe = r.pipe0.CopyPipe()
		pipe.Pos, pipe.Decl, pipe.IsAssign, pipe.Cmds = pos, nil, false, []*parse.CommandNode{cmd}
	}
	n := &parse.IfNode{BranchNode: parse.BranchNode{NodeType: parse.NodeIf, Pos: pos, Pipe: pipe,
		List: &parse.ListNode{NodeType: parse.NodeList, Pos: pos}}}
	l.Nodes = append([]parse.Node{n}, l.Nodes...)
}

type rewriter struct {
	tree *parse.Tree
	html bool
	// pipe0 and cmd0 are the pipeline and command being rewritten: new
	// nodes are copies of them, because only a copy carries the tree that
	// error messages need (html/template executes copies of trees that
	// lack the source text, and text/template reports a failing function
	// at its command node).
	pipe0 *parse.PipeNode
	cmd0  *parse.CommandNode
}

func (r *rewriter) list(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		r.node(n)
	}
}

func (r *rewriter) node(n parse.Node) {
	switch n := n.(type) {
	case *parse.ActionNode:
		r.pipe(n.Pipe)
		if len(n.Pipe.Decl) == 0 {
			r.output(n.Pipe)
		}
	case *parse.IfNode:
		r.branch(&n.BranchNode, false)
	case *parse.WithNode:
		r.branch(&n.BranchNode, false)
	case *parse.RangeNode:
		r.branch(&n.BranchNode, true)
	case *parse.TemplateNode:
		r.pipe(n.Pipe)
	case *parse.ListNode:
		r.list(n)
	}
}

func (r *rewriter) branch(b *parse.BranchNode, isRange bool) {
	r.pipe(b.Pipe)
	if isRange && b.Pipe != nil && len(b.Pipe.Cmds) > 0 {
		r.cmd0 = b.Pipe.Cmds[0]
		b.Pipe.Cmds = append(b.Pipe.Cmds, r.command(b.Pipe.Pos, r.ident(fnRange, b.Pipe.Pos)))
		r.cmd0 = nil
	}
	r.list(b.List)
	r.list(b.ElseList)
	if isRange {
		r.tick(b.List, b.Pos)
	}
}

func (r *rewriter) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	saved := r.pipe0
	r.pipe0 = p
	defer func() { r.pipe0 = saved }()
	for i, c := range p.Cmds {
		r.cmd(c, i == 0)
	}
}

func (r *rewriter) cmd(c *parse.CommandNode, first bool) {
	if len(c.Args) == 0 {
		return
	}
	saved := r.cmd0
	r.cmd0 = c
	defer func() { r.cmd0 = saved }()
	head := c.Args[0]
	if isPath(head) {
		if len(c.Args) > 1 || !first {
			// A method call: .Method arg, or x | .Method.
			for i := 1; i < len(c.Args); i++ {
				c.Args[i] = r.arg(c.Args[i])
			}
			return
		}
		// {{ .a.b }} → {{ __get . "a" "b" }}, without an extra pipeline.
		c.Args = r.getArgs(head)
		return
	}
	for i, a := range c.Args {
		c.Args[i] = r.arg(a)
	}
}

// arg rewrites one argument: a field chain becomes (__get …).
func (r *rewriter) arg(n parse.Node) parse.Node {
	if isPath(n) {
		pos := n.Position()
		p := r.pipe0.CopyPipe()
		p.Pos, p.Decl, p.IsAssign = pos, nil, false
		p.Cmds = []*parse.CommandNode{r.command(pos, r.getArgs(n)...)}
		return p
	}
	if p, ok := n.(*parse.PipeNode); ok {
		r.pipe(p)
	}
	return n
}

// isPath reports whether n reads fields: .a.b, $x.a or (…).a.
func isPath(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode, *parse.ChainNode:
		return true
	case *parse.VariableNode:
		return len(n.Ident) > 1
	}
	return false
}

// getArgs returns the words of the lookup call for a field chain.
func (r *rewriter) getArgs(n parse.Node) []parse.Node {
	pos := n.Position()
	var base parse.Node
	var fields []string
	switch n := n.(type) {
	case *parse.FieldNode:
		base, fields = &parse.DotNode{NodeType: parse.NodeDot, Pos: pos}, n.Ident
	case *parse.VariableNode:
		base = &parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: n.Ident[:1]}
		fields = n.Ident[1:]
	case *parse.ChainNode:
		base, fields = r.arg(n.Node), n.Field
	}
	words := make([]parse.Node, 0, len(fields)+2)
	words = append(words, r.ident(getName(len(fields)), pos), base)
	for _, f := range fields {
		words = append(words, &parse.StringNode{NodeType: parse.NodeString, Pos: pos, Quoted: strconv.Quote(f), Text: f})
	}
	return words
}

// output appends the output function to an action's pipeline. Under
// html/template, a pipeline ending in the predefined escapers html or
// urlquery must keep them last, so the output function goes before them
// (or, when they have arguments, a nil-safe print does).
func (r *rewriter) output(p *parse.PipeNode) {
	if len(p.Cmds) == 0 {
		return
	}
	r.cmd0 = p.Cmds[0]
	defer func() { r.cmd0 = nil }()
	if r.html {
		last := p.Cmds[len(p.Cmds)-1]
		if id, ok := last.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "html" || id.Ident == "urlquery") {
			var before *parse.CommandNode
			if len(last.Args) > 1 {
				before = r.command(last.Pos, append([]parse.Node{r.ident(fnStr, last.Pos)}, last.Args[1:]...)...)
				last.Args = last.Args[:1]
			} else {
				before = r.command(last.Pos, r.ident(fnOut, last.Pos))
			}
			cmds := append([]*parse.CommandNode{}, p.Cmds[:len(p.Cmds)-1]...)
			p.Cmds = append(cmds, before, last)
			return
		}
	}
	if len(p.Cmds) == 1 {
		// {{ .a.b }}, the most common action, in one call instead of two.
		if id, ok := p.Cmds[0].Args[0].(*parse.IdentifierNode); ok && strings.HasPrefix(id.Ident, fnGet) {
			p.Cmds[0].Args[0] = r.ident(fnShow, id.Pos)
			return
		}
	}
	p.Cmds = append(p.Cmds, r.command(p.Pos, r.ident(fnOut, p.Pos)))
}

func (r *rewriter) command(pos parse.Pos, args ...parse.Node) *parse.CommandNode {
	c := &parse.CommandNode{NodeType: parse.NodeCommand}
	if r.cmd0 != nil {
		c = r.cmd0.Copy().(*parse.CommandNode)
	}
	c.Pos, c.Args = pos, args
	return c
}

// ident names a function; it carries the tree so that errors raised by
// the function report the right position.
func (r *rewriter) ident(name string, pos parse.Pos) *parse.IdentifierNode {
	return parse.NewIdentifier(name).SetTree(r.tree).SetPos(pos)
}

// getName names the lookup for a path of n fields: fixed arities are
// cheaper to call than the variadic form.
func getName(n int) string {
	if n >= 1 && n <= 3 {
		return fnGet + strconv.Itoa(n)
	}
	return fnGet
}
