package router

import (
	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// Explanation says why a rule did or did not match a message: the result
// of each top-level condition joined by &&.
type Explanation struct {
	Rule    string      `json:"rule"`
	Enabled bool        `json:"enabled"`
	Matched bool        `json:"matched"`
	Error   string      `json:"error,omitempty"`
	Parts   []Condition `json:"conditions"`
}

// Condition is one top-level conjunct of a rule's `when` and its value on
// the message.
type Condition struct {
	Expr   string `json:"expr"`
	Result *bool  `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Explain evaluates every rule's conditions on m piece by piece. It is for
// people (the editor, `switchboard test`), not for the hot path.
func (rs *Ruleset) Explain(m *Message) []Explanation {
	m.prepare()
	opts := exprOptions(rs.now)
	out := make([]Explanation, 0, len(rs.Rules))
	for _, r := range rs.Rules {
		e := Explanation{Rule: r.Name, Enabled: r.Enabled}
		cond := r.cond
		if cond == nil { // dropped for an exactly indexed rule
			cond, _ = compileCondition(r.When, opts)
		}
		ok, err := cond.eval(m.Data)
		e.Matched = ok && err == nil
		if err != nil {
			e.Error = rs.Scrub(err.Error())
		}
		for _, part := range conjuncts(r.When) {
			c := Condition{Expr: part}
			cond, err := compileCondition(part, opts)
			if err == nil {
				var v bool
				v, err = cond.eval(m.Data)
				if err == nil {
					c.Result = &v
				}
			}
			if err != nil {
				c.Error = rs.Scrub(err.Error())
			}
			e.Parts = append(e.Parts, c)
		}
		out = append(out, e)
	}
	return out
}

// conjuncts splits an expression at its top-level && into printable parts.
func conjuncts(src string) []string {
	tree, err := parser.Parse(src)
	if err != nil {
		return []string{src}
	}
	parts := Conjuncts(tree.Node)
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.String()
	}
	return out
}

// Conjuncts splits an expression tree at its top-level && (or `and`)
// into the conditions that must all hold, left to right. A node that is
// no conjunction is returned alone.
func Conjuncts(n exprast.Node) []exprast.Node {
	if b, ok := n.(*exprast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return append(Conjuncts(b.Left), Conjuncts(b.Right)...)
	}
	return []exprast.Node{n}
}
