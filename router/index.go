package router

import (
	"slices"
	"strings"

	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/switchboard-dev/switchboard/config"
)

// ruleIndex narrows the rules worth evaluating on a message. At load, each
// condition's top-level conjuncts are analysed: a rule that requires
// webhook_type == T (or `in [...]`, or startsWith P) is filed under T (or
// P), and within a type, a rule that also requires field == literal is
// filed under that field's value, so thousands of per-customer rules cost a
// hash lookup. Rules that cannot be indexed are always evaluated. The index
// only selects candidates: each candidate's whole condition is still
// evaluated, so the matched set is exactly the naive loop's.
type ruleIndex struct {
	byType   map[string]*typeBucket
	prefixes []prefixBucket
	// always holds rules evaluated on every message, by position.
	always []int
	// all holds every enabled rule that needs evaluating, for messages
	// whose webhook_type is not a string (evaluated naively, as the index
	// assumes a string). Exact rules cannot match those: they are left out.
	all []int
	// exact marks rules whose condition is entirely what the index checks
	// (webhook_type pins and one field == literal), by position: selecting
	// them is matching them, so they need no program at all.
	exact []bool
}

type typeBucket struct {
	plain  []int
	fields []*fieldGroup
}

// fieldGroup files rules by the value of one field. String values, by
// far the most common (one per customer or invoice), are a sorted list
// searched by halves: a third of the memory of a map holding the same.
type fieldGroup struct {
	path    []string
	strings []fileEntry
	numbers map[float64][]int
}

// fileEntry is a rule filed under a string value.
type fileEntry struct {
	value string
	rule  int32
}

// appendRules appends the rules filed under v (a string or a float64),
// in file order.
func (g *fieldGroup) appendRules(out []int, v any) []int {
	switch v := v.(type) {
	case string:
		i, _ := slices.BinarySearchFunc(g.strings, v, func(e fileEntry, v string) int { return strings.Compare(e.value, v) })
		for ; i < len(g.strings) && g.strings[i].value == v; i++ {
			out = append(out, int(g.strings[i].rule))
		}
	case float64:
		out = append(out, g.numbers[v]...)
	}
	return out
}

// sort orders the string entries by value, keeping file order among
// equal values, in a list of their exact size.
func (g *fieldGroup) sort() {
	slices.SortStableFunc(g.strings, func(a, b fileEntry) int { return strings.Compare(a.value, b.value) })
	g.strings = slices.Clone(g.strings)
}

type prefixBucket struct {
	prefix string
	rules  []int
}

// indexAnalysis is what analyzeIndexTree finds in a condition.
type indexAnalysis struct {
	p     *pin
	key   *fieldKey
	exact bool
}

// pin is what a condition requires of webhook_type: one of a set of exact
// values or one of a set of prefixes.
type pin struct {
	exact    map[string]bool
	prefixes []string
}

func (p *pin) empty() bool { return p == nil || (len(p.exact) == 0 && len(p.prefixes) == 0) }

// fieldKey is a `path == literal` conjunct.
type fieldKey struct {
	path  []string
	value any // string or float64
	// str is value when a string, compacted by buildIndex.
	str string
}

func buildIndex(rules []*Rule) *ruleIndex {
	ix := &ruleIndex{byType: map[string]*typeBucket{}, exact: make([]bool, len(rules))}
	prefixes := map[string]int{} // prefix → position in ix.prefixes
	found := make([]indexAnalysis, len(rules))
	var values []*string
	for i, r := range rules {
		if !r.Enabled || r.cond == nil {
			continue
		}
		a := &found[i]
		switch {
		case r.cond.index != nil:
			*a = *r.cond.index
			r.cond.index = nil // the index holds it now
		case r.cond.tree != nil:
			a.p, a.key, a.exact = analyzeIndexTree(r.cond.tree)
		default:
			a.p, a.key, a.exact = analyzeIndex(r.When)
		}
		if a.p != nil && a.key != nil {
			if _, ok := a.key.value.(string); ok {
				// Most literals are written as they are in the condition,
				// which the rule keeps anyway.
				if at := strings.Index(r.When, a.key.str); at >= 0 {
					a.key.str = r.When[at : at+len(a.key.str)]
				} else {
					values = append(values, &a.key.str)
				}
			}
		}
	}
	// The other values are kept for as long as the Ruleset: in one
	// string, instead of one small allocation each amid the load's
	// garbage.
	config.CompactStrings(values)
	// Each rule's list of one, out of one allocation.
	ones := make([]int, len(rules))
	for i := range ones {
		ones[i] = i
	}
	for i, r := range rules {
		if !r.Enabled || r.cond == nil {
			continue
		}
		p, key, exact := found[i].p, found[i].key, found[i].exact
		if p == nil {
			ix.all = append(ix.all, i)
			ix.always = append(ix.always, i)
			continue
		}
		if exact {
			ix.exact[i] = true
		} else {
			ix.all = append(ix.all, i)
		}
		for t := range p.exact {
			b := ix.byType[t]
			if b == nil {
				b = &typeBucket{}
				ix.byType[t] = b
			}
			b.add(i, key, ones[i:i+1:i+1])
		}
		for _, pre := range p.prefixes {
			j, ok := prefixes[pre]
			if !ok {
				j = len(ix.prefixes)
				prefixes[pre] = j
				ix.prefixes = append(ix.prefixes, prefixBucket{prefix: pre})
			}
			ix.prefixes[j].rules = append(ix.prefixes[j].rules, i)
		}
	}
	for _, b := range ix.byType {
		for _, g := range b.fields {
			g.sort()
		}
	}
	return ix
}

// add files rule under key; one is the list []int{rule}.
func (b *typeBucket) add(rule int, key *fieldKey, one []int) {
	if key == nil {
		b.plain = append(b.plain, rule)
		return
	}
	var g *fieldGroup
	for _, x := range b.fields {
		if slices.Equal(x.path, key.path) {
			g = x
			break
		}
	}
	if g == nil {
		g = &fieldGroup{path: key.path, numbers: map[float64][]int{}}
		b.fields = append(b.fields, g)
	}
	switch v := key.value.(type) {
	case string:
		g.strings = append(g.strings, fileEntry{value: key.str, rule: int32(rule)})
	case float64:
		g.numbers[v] = appendRule(g.numbers[v], one)
	}
}

// appendRule appends one (a rule's list of one) to list; a first rule's
// list is one itself.
func appendRule(list, one []int) []int {
	if list == nil {
		return one
	}
	return append(list, one...)
}

// reads adds to r the fields the index looks up in a message (nothing
// for a nil index).
func (ix *ruleIndex) reads(r *Reads) {
	if ix == nil {
		return
	}
	for _, b := range ix.byType {
		for _, g := range b.fields {
			r.Add(g.path)
		}
	}
}

// candidates returns the positions of the rules to evaluate, in file
// order, appended to buf.
func (ix *ruleIndex) candidates(data map[string]any, buf []int) []int {
	wt, ok := data["webhook_type"].(string)
	if !ok {
		if _, present := data["webhook_type"]; present {
			return append(buf, ix.all...)
		}
	}
	out := append(buf, ix.always...)
	if b := ix.byType[wt]; b != nil && ok {
		out = append(out, b.plain...)
		for _, g := range b.fields {
			if v, found := lookupPath(data, g.path); found {
				out = g.appendRules(out, v)
			}
		}
	}
	if ok {
		for _, p := range ix.prefixes {
			if strings.HasPrefix(wt, p.prefix) {
				out = append(out, p.rules...)
			}
		}
	}
	if len(out) > len(buf)+1 {
		slices.Sort(out[len(buf):])
		out = append(out[:len(buf)], slices.Compact(out[len(buf):])...)
	}
	return out
}

// lookupPath returns the value at path as an index key (strings and
// float64 numbers only).
func lookupPath(data map[string]any, path []string) (any, bool) {
	var cur any = data
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[p]
		if !ok {
			return nil, false
		}
	}
	switch v := cur.(type) {
	case string, float64:
		return v, true
	}
	return nil, false
}

// analyzeIndex returns what a condition requires of webhook_type (nil:
// nothing it can be indexed on), one `field == literal` conjunct, and
// whether those two are the whole condition.
func analyzeIndex(src string) (*pin, *fieldKey, bool) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, nil, false
	}
	return analyzeIndexTree(tree)
}

// analyzeIndexTree is analyzeIndex on an already parsed expression.
func analyzeIndexTree(tree *parser.Tree) (*pin, *fieldKey, bool) {
	conj := Conjuncts(tree.Node)
	var p *pin
	var key *fieldKey
	used := 0
	for _, c := range conj {
		if p.empty() {
			if cp := pinOf(c); !cp.empty() {
				p = cp
				used++
				continue
			}
		}
		if key == nil {
			if key = fieldEquality(c); key != nil {
				used++
			}
		}
	}
	if p.empty() {
		return nil, nil, false
	}
	return p, key, used == len(conj)
}

// pinOf returns the webhook_type requirement of one conjunct.
func pinOf(n exprast.Node) *pin {
	b, ok := n.(*exprast.BinaryNode)
	if !ok {
		return nil
	}
	switch b.Operator {
	case "||", "or":
		l, r := pinOf(b.Left), pinOf(b.Right)
		if l.empty() || r.empty() {
			return nil
		}
		out := &pin{exact: map[string]bool{}}
		for _, x := range []*pin{l, r} {
			for t := range x.exact {
				out.exact[t] = true
			}
			out.prefixes = append(out.prefixes, x.prefixes...)
		}
		return out
	case "==":
		for _, side := range [][2]exprast.Node{{b.Left, b.Right}, {b.Right, b.Left}} {
			if s, ok := side[1].(*exprast.StringNode); ok && isWebhookType(side[0]) {
				return &pin{exact: map[string]bool{s.Value: true}}
			}
		}
	case "in":
		arr, ok := b.Right.(*exprast.ArrayNode)
		if !ok || !isWebhookType(b.Left) {
			return nil
		}
		out := &pin{exact: map[string]bool{}}
		for _, el := range arr.Nodes {
			s, ok := el.(*exprast.StringNode)
			if !ok {
				return nil
			}
			out.exact[s.Value] = true
		}
		return out
	case "startsWith":
		if s, ok := b.Right.(*exprast.StringNode); ok && isWebhookType(b.Left) {
			return &pin{prefixes: []string{s.Value}}
		}
	}
	return nil
}

// fieldEquality recognises `a.b.c == "literal"` (or a number, either side).
func fieldEquality(n exprast.Node) *fieldKey {
	b, ok := n.(*exprast.BinaryNode)
	if !ok || b.Operator != "==" {
		return nil
	}
	for _, side := range [][2]exprast.Node{{b.Left, b.Right}, {b.Right, b.Left}} {
		var path []string
		switch m := side[0].(type) {
		case *exprast.MemberNode:
			p, ok := memberPath(m)
			if !ok {
				continue
			}
			path = p
		case *exprast.ChainNode:
			mm, ok := m.Node.(*exprast.MemberNode)
			if !ok {
				continue
			}
			p, ok := memberPath(mm)
			if !ok {
				continue
			}
			path = p
		default:
			continue
		}
		if path[0] == "meta" || path[0] == "webhook_type" {
			continue
		}
		switch lit := side[1].(type) {
		case *exprast.StringNode:
			return &fieldKey{path: path, value: lit.Value, str: lit.Value}
		case *exprast.IntegerNode:
			return &fieldKey{path: path, value: float64(lit.Value)}
		case *exprast.FloatNode:
			return &fieldKey{path: path, value: lit.Value}
		}
	}
	return nil
}
