package router

import (
	"github.com/expr-lang/expr/ast"

	"github.com/switchboard-dev/switchboard/router/render"
)

// Reads is a tree of the parts of a message's data something reads: a
// caller that decodes messages only for that can skip the rest. Whole
// marks a value read entirely (whatever lies under it).
type Reads struct {
	Whole bool
	Keys  map[string]*Reads
}

// Add marks the value at path as read entirely; a nil path marks the
// whole data.
func (r *Reads) Add(path []string) {
	for _, k := range path {
		if r.Whole {
			return
		}
		next := r.Keys[k]
		if next == nil {
			if r.Keys == nil {
				r.Keys = map[string]*Reads{}
			}
			next = &Reads{}
			r.Keys[k] = next
		}
		r = next
	}
	r.Whole, r.Keys = true, nil
}

// RoutingReads adds to r what Plan reads of a message: the rules'
// conditions and the index's fields, throttle, group and conversation
// keys.
// A rule in a conversation marks everything (its escalation renders).
func (rs *Ruleset) RoutingReads(r *Reads) {
	for _, k := range []string{"webhook_type", "type", "event_type", "event", "meta"} {
		r.Add([]string{k})
	}
	// A rule the index matches exactly keeps no program: its field is
	// read through the index.
	rs.index.reads(r)
	for _, rule := range rs.Rules {
		if rule.cond != nil {
			exprReads(rule.cond.program.Node(), r)
		}
		if rule.Throttle != nil {
			rule.Throttle.key.Reads(r.Add)
		}
		if rule.Group != nil {
			rule.Group.by.Reads(r.Add)
		}
		if rule.conv != nil {
			r.Add(nil)
		}
	}
}

// MessageReads returns what routing a message through rs (Route) reads
// of its data: RoutingReads and every rule's ContentReads, or nil when
// that is everything. It is computed once per Ruleset.
func (rs *Ruleset) MessageReads() *Reads {
	rs.readsOnce.Do(func() {
		r := &Reads{}
		rs.RoutingReads(r)
		for _, rule := range rs.Rules {
			if r.Whole {
				break
			}
			for _, ch := range rule.Channels() {
				rs.ContentReads(rule.Name, ch, r)
			}
		}
		if !r.Whole {
			rs.reads = r
		}
	})
	return rs.reads
}

// ContentReads adds to r what rendering the named rule's deliveries to
// channel reads of a message.
func (rs *Ruleset) ContentReads(rule, channel string, r *Reads) {
	ru, ok := rs.Rule(rule)
	if !ok {
		return
	}
	for _, t := range ru.targets {
		if t.channel.Name != channel {
			continue
		}
		for _, tm := range []*render.Template{t.pathTmpl, t.queryTmpl} {
			tm.Reads(r.Add)
		}
		for _, list := range [][]*render.Template{t.to, t.cc} {
			for _, tm := range list {
				tm.Reads(r.Add)
			}
		}
		for _, m := range []map[string]*render.Template{t.headers, t.blocks} {
			for _, tm := range m {
				tm.Reads(r.Add)
			}
		}
	}
}

// exprReads adds the data paths a condition reads: each chain of field
// names from a variable (invoice.customer.name, invoice["number"]) is
// read entirely; $env reads everything.
func exprReads(n ast.Node, r *Reads) {
	if n == nil {
		r.Add(nil)
		return
	}
	bases := map[ast.Node]bool{} // the inner links of longer chains
	var chains []ast.Node
	ast.Walk(&n, visitor(func(n ast.Node) {
		switch n := n.(type) {
		case *ast.IdentifierNode:
			chains = append(chains, n)
		case *ast.MemberNode:
			if _, ok := n.Property.(*ast.StringNode); ok && chainPath(n.Node) != nil {
				bases[n.Node] = true
				if c, ok := n.Node.(*ast.ChainNode); ok {
					bases[c.Node] = true
				}
				chains = append(chains, n)
			}
		case *ast.ChainNode: // a?.b
			if chainPath(n.Node) != nil {
				bases[n.Node] = true
				chains = append(chains, n)
			}
		}
	}))
	for _, c := range chains {
		if bases[c] {
			continue
		}
		p := chainPath(c)
		if len(p) > 0 && p[0] == "$env" {
			r.Add(nil)
			continue
		}
		r.Add(p)
	}
}

// chainPath is the field path of an identifier or a chain of constant
// member accesses on one, or nil.
func chainPath(n ast.Node) []string {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return []string{n.Value}
	case *ast.ChainNode:
		return chainPath(n.Node)
	case *ast.MemberNode:
		s, ok := n.Property.(*ast.StringNode)
		if !ok {
			return nil
		}
		if p := chainPath(n.Node); p != nil {
			return append(p, s.Value)
		}
	}
	return nil
}

type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }

// Channels returns the names of the channels the rule sends to, in order
// (a channel twice when the rule sends to it twice).
func (r *Rule) Channels() []string {
	out := make([]string, len(r.targets))
	for i, t := range r.targets {
		out[i] = t.channel.Name
	}
	return out
}
