package render

import (
	"regexp"
	"text/template/parse"
)

// Position is a place in a template file: 1-based line and column.
type Position struct {
	Line, Column int
}

// typeRe finds the "type" of a Block Kit object written before an action.
var typeRe = regexp.MustCompile(`"type"\s*:\s*"([a-z_]+)"`)

// UnescapedMrkdwn returns where block (Slack Block Kit JSON) prints a
// value of the message into a mrkdwn text object without mrkdwnJson:
// toJson keeps the JSON valid but lets the value mention (<!channel>) or
// link (<https://…|Click here>). An action is in a mrkdwn object when the
// last "type" written before it is "mrkdwn".
func (f *File) UnescapedMrkdwn(block string) []Position {
	if !f.Has(block) {
		return nil
	}
	var out []Position
	var walk func(l *parse.ListNode)
	walk = func(l *parse.ListNode) {
		if l == nil {
			return
		}
		for _, n := range l.Nodes {
			switch n := n.(type) {
			case *parse.ActionNode:
				if len(n.Pipe.Decl) > 0 || !readsData(n.Pipe) || endsEscaped(n.Pipe) {
					continue
				}
				pos := int(n.Position())
				if pos > len(f.src) {
					continue
				}
				types := typeRe.FindAllStringSubmatch(f.src[:pos], -1)
				if len(types) > 0 && types[len(types)-1][1] == "mrkdwn" {
					line, col := lineCol(f.src, pos)
					out = append(out, Position{line, col})
				}
			case *parse.IfNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.WithNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.RangeNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.ListNode:
				walk(n)
			}
		}
	}
	walk(f.trees[block].Root)
	return out
}

// endsEscaped reports whether a pipeline's last command is mrkdwnJson.
func endsEscaped(p *parse.PipeNode) bool {
	last := p.Cmds[len(p.Cmds)-1]
	id, ok := last.Args[0].(*parse.IdentifierNode)
	return ok && id.Ident == "mrkdwnJson"
}

// readsData reports whether a pipeline uses a value (dot, a field or a
// variable), as opposed to constants only.
func readsData(p *parse.PipeNode) bool {
	if p == nil {
		return false
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			switch a := a.(type) {
			case *parse.DotNode, *parse.FieldNode, *parse.ChainNode, *parse.VariableNode:
				return true
			case *parse.PipeNode:
				if readsData(a) {
					return true
				}
			}
		}
	}
	return false
}
