package config

import "github.com/goccy/go-yaml/ast"

// decodeRuleFast decodes the common shape of a rule without reflection:
// a mapping of name, description, when, enabled and send, whose values
// are plain scalars, and whose send entries are mappings of to, template,
// message, thread, update and broadcast. It returns false for anything
// else (other keys, tags, anchors, aliases, nulls, numbers where a string
// is expected, a repeated key), which is decoded the general way: that
// way reports every problem, and a rule this function accepts has none
// to report, so the result is the same either way. A 10,000-rule file
// loads several times faster and leaves far less garbage.
func decodeRuleFast(n ast.Node, rc *RuleConfig) bool {
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
			ok = once(&seen[4]) && decodeSendsFast(e.Value, &rc.Send)
		}
		if !ok {
			return false
		}
	}
	return true
}

// decodeSendsFast decodes a rule's send list of plain entries.
func decodeSendsFast(n ast.Node, out *[]SendConfig) bool {
	seq, ok := n.(*ast.SequenceNode)
	if !ok || len(seq.Values) == 0 {
		return false
	}
	sends := make([]SendConfig, len(seq.Values))
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
