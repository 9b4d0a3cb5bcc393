package web

import (
	"fmt"
	"strconv"
	"strings"

	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// Operators the guided builder offers, in menu order.
var operators = []string{"==", "!=", ">", ">=", "<", "<=", "contains", "startsWith"}

// condRow is one field / operator / value row of the guided builder.
type condRow struct {
	Field, Op, Value string
}

// buildWhen writes the `when` expression of a guided condition: the event
// type pinned first, then each row. A value is a number when the field is
// a number in the type's example (and parses as one), a boolean for a
// boolean field, and a quoted string otherwise.
func buildWhen(catalog *lago.Catalog, typ string, rows []condRow) (string, error) {
	kinds := map[string]string{}
	for _, f := range catalog.Fields(typ) {
		kinds[f.Path] = f.Kind
	}
	var parts []string
	if typ != "" {
		parts = append(parts, "webhook_type == "+strconv.Quote(typ))
	}
	for i, r := range rows {
		if r.Field == "" {
			continue
		}
		if !validOperator(r.Op) {
			return "", fmt.Errorf("condition %d: unknown operator %q", i+1, r.Op)
		}
		v := strings.TrimSpace(r.Value)
		var lit string
		switch kinds[r.Field] {
		case "number":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return "", fmt.Errorf("condition %d: %s is a number; %q is not", i+1, r.Field, r.Value)
			}
			lit = v
		case "bool":
			if v != "true" && v != "false" {
				return "", fmt.Errorf("condition %d: %s is true or false; %q is neither", i+1, r.Field, r.Value)
			}
			lit = v
		default:
			lit = strconv.Quote(r.Value)
		}
		parts = append(parts, r.Field+" "+r.Op+" "+lit)
	}
	return strings.Join(parts, " && "), nil
}

func validOperator(op string) bool {
	for _, o := range operators {
		if o == op {
			return true
		}
	}
	return false
}

// parseGuided reads an expression back into the guided builder's shape:
// `webhook_type == "t"` and then field-operator-literal conjuncts. ok is
// false when the expression says anything the builder cannot show.
func parseGuided(when string) (typ string, rows []condRow, ok bool) {
	if strings.TrimSpace(when) == "" {
		return "", nil, true
	}
	tree, err := parser.Parse(when)
	if err != nil {
		return "", nil, false
	}
	var conj []exprast.Node
	var walk func(n exprast.Node)
	walk = func(n exprast.Node) {
		if b, ok := n.(*exprast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
			walk(b.Left)
			walk(b.Right)
			return
		}
		conj = append(conj, n)
	}
	walk(tree.Node)
	for i, n := range conj {
		b, isBin := n.(*exprast.BinaryNode)
		if !isBin || !validOperator(b.Operator) {
			return "", nil, false
		}
		path, okPath := nodePath(b.Left)
		if !okPath {
			return "", nil, false
		}
		var val string
		switch v := b.Right.(type) {
		case *exprast.StringNode:
			val = v.Value
		case *exprast.IntegerNode:
			val = strconv.Itoa(v.Value)
		case *exprast.FloatNode:
			val = strconv.FormatFloat(v.Value, 'f', -1, 64)
		case *exprast.BoolNode:
			val = strconv.FormatBool(v.Value)
		default:
			return "", nil, false
		}
		if i == 0 && path == "webhook_type" && b.Operator == "==" {
			if _, isStr := b.Right.(*exprast.StringNode); isStr {
				typ = val
				continue
			}
		}
		rows = append(rows, condRow{Field: path, Op: b.Operator, Value: val})
	}
	return typ, rows, true
}

// nodePath returns a.b.c for an identifier or a chain of member accesses
// by name.
func nodePath(n exprast.Node) (string, bool) {
	switch v := n.(type) {
	case *exprast.IdentifierNode:
		return v.Value, true
	case *exprast.MemberNode:
		if v.Optional {
			return "", false
		}
		s, ok := v.Property.(*exprast.StringNode)
		if !ok {
			return "", false
		}
		base, ok := nodePath(v.Node)
		if !ok {
			return "", false
		}
		return base + "." + s.Value, true
	}
	return "", false
}
