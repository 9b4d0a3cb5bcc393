package config

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// decodeRuleFast decodes the common shape of a rule without reflection:
// a mapping of name, description, when, enabled and send, whose values
// are plain scalars, and whose send entries are mappings of to, template,
// message, thread, update and broadcast. It returns false for anything
// else (other keys, tags, anchors, aliases, nulls, numbers where a string
// is expected, a repeated key), which is decoded the general way: that
// way reports every problem, and a rule this function accepts has none
// to report, so the result is the same either way. A 10,000-rule file
// loads several times faster and leaves far less garbage.
func decodeRuleFast(n ast.Node, rc *RuleConfig, slab *sendSlab) bool {
	entries, ok := plainMapping(n)
	if !ok {
		return false
	}
	var seen [5]bool
	for _, e := range entries {
		key := e.Key.(*ast.StringNode).Value
		var ok bool
		switch key {
		case "name":
			ok = once(&seen[0]) && scalarText(e.Value, &rc.Name)
		case "description":
			ok = once(&seen[1]) && scalarText(e.Value, &rc.Description)
		case "when":
			ok = once(&seen[2]) && scalarText(e.Value, &rc.When)
		case "enabled":
			b, isBool := e.Value.(*ast.BoolNode)
			ok = once(&seen[3]) && isBool
			if ok {
				v := b.Value
				rc.Enabled = &v
			}
		case "send":
			ok = once(&seen[4]) && decodeSendsFast(e.Value, &rc.Send, slab)
		}
		if !ok {
			return false
		}
	}
	return true
}

// decodeSendsFast decodes a rule's send list of plain entries.
func decodeSendsFast(n ast.Node, out *[]SendConfig, slab *sendSlab) bool {
	seq, ok := n.(*ast.SequenceNode)
	if !ok || len(seq.Values) == 0 {
		return false
	}
	sends := slab.take(len(seq.Values))
	for i, item := range seq.Values {
		entries, ok := plainMapping(item)
		if !ok {
			return false
		}
		s := &sends[i]
		var seen [6]bool
		for _, e := range entries {
			var ok bool
			switch e.Key.(*ast.StringNode).Value {
			case "to":
				ok = once(&seen[0]) && scalarText(e.Value, &s.To)
			case "template":
				ok = once(&seen[1]) && scalarText(e.Value, &s.Template)
			case "message":
				ok = once(&seen[2]) && scalarText(e.Value, &s.Message)
			case "thread":
				ok = once(&seen[3]) && scalarText(e.Value, &s.Thread)
			case "update":
				ok = once(&seen[4]) && scalarText(e.Value, &s.Update)
			case "broadcast":
				b, isBool := e.Value.(*ast.BoolNode)
				ok = once(&seen[5]) && isBool
				if ok {
					s.Broadcast = b.Value
				}
			}
			if !ok {
				return false
			}
		}
	}
	*out = sends
	return true
}

// plainMapping returns the entries of a mapping node whose keys are all
// plain strings (no merge keys, tags or anchors).
func plainMapping(n ast.Node) ([]*ast.MappingValueNode, bool) {
	var entries []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	default:
		return nil, false
	}
	for _, e := range entries {
		if _, ok := e.Key.(*ast.StringNode); !ok || e.Value == nil {
			return nil, false
		}
	}
	return entries, true
}

// scalarText sets *dst to a string or block scalar's text, as the decoder
// would; it returns false for any other node.
func scalarText(n ast.Node, dst *string) bool {
	switch s := n.(type) {
	case *ast.StringNode:
		*dst = s.Value
	case *ast.LiteralNode:
		if s.Value == nil {
			return false
		}
		*dst = s.Value.Value
	default:
		return false
	}
	return true
}

// once reports whether a key is seen for the first time, marking it.
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

// sendSlab hands out the rules' send lists from shared blocks: the lists
// live as long as the rules, and one allocation per rule amid the parse's
// garbage would keep many memory pages partly used.
type sendSlab struct {
	free []SendConfig
	// rules is how many rules are left to decode, to size the blocks.
	rules int
}

// take returns a list of n zero entries (cut to capacity n, so an append
// copies it) for the next rule.
func (s *sendSlab) take(n int) []SendConfig {
	if n > len(s.free) {
		s.free = make([]SendConfig, max(n, min(512, s.rules)))
	}
	s.rules--
	out := s.free[:n:n]
	s.free = s.free[n:]
	return out
}

// compactRuleStrings copies the strings the rules keep (names,
// conditions, send entries) into one allocation, each distinct string
// once: as decoded they are small allocations spread among the parser's
// garbage.
func compactRuleStrings(rules []RuleDoc) {
	var ps []*string
	for i := range rules {
		rc := &rules[i].Config
		ps = append(ps, &rc.Name, &rc.Description, &rc.When, &rc.Resolves)
		for j := range rc.Send {
			s := &rc.Send[j]
			ps = append(ps, &s.To, &s.Template, &s.Message, &s.Thread, &s.Update)
		}
	}
	CompactStrings(ps)
}

// CompactStrings copies the strings ps point to into one allocation, each
// distinct string once, and points each at its copy: strings kept long
// after a load, decoded one small allocation at a time amid its garbage,
// would otherwise keep many memory pages partly used.
func CompactStrings(ps []*string) {
	offsets := make(map[string]int, len(ps))
	size := 0
	for _, p := range ps {
		if _, ok := offsets[*p]; !ok {
			offsets[*p] = size
			size += len(*p)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for _, p := range ps {
		if offsets[*p] == b.Len() {
			b.WriteString(*p)
		}
	}
	all := b.String()
	for _, p := range ps {
		off := offsets[*p]
		*p = all[off : off+len(*p)]
	}
}
