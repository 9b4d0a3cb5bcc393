package router

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// Lago writes some numbers as decimal strings: an alert's current_value
// and thresholds ("3000.0"), a wallet's credits ("150.0"), a fee's units.
// expr refuses `"3000.0" > 1000` at run time (string > int), so a rule
// that looks right on paper never matches a real message. Conditions
// therefore compare through the functions below wherever a side's type is
// only known at run time: a numeric string against a number, or two
// numeric strings, compare as numbers; everything else compares exactly
// as expr would.

// compareFuncs maps an operator to the hidden function its comparisons are
// rewritten to. The names cannot clash with a user's call: the check for
// unknown functions runs on the condition as written.
var compareFuncs = map[string]string{
	"<": "__sb_lt", "<=": "__sb_le", ">": "__sb_gt", ">=": "__sb_ge",
	"==": "__sb_eq", "!=": "__sb_ne",
}

// numericCompareOptions registers the comparison functions and the patch
// that rewrites comparisons to them.
func numericCompareOptions() []expr.Option {
	opts := []expr.Option{expr.Patch(numericComparePatch{})}
	for op, name := range compareFuncs {
		opts = append(opts, expr.Function(name, func(params ...any) (any, error) {
			return compareLoose(op, params[0], params[1])
		}, new(func(any, any) bool)))
	}
	return opts
}

// numericComparePatch rewrites `a OP b` to `__sb_OP(a, b)` when the
// comparison is decided at run time: for <, <=, > and >= when a side's
// type is unknown at load (a message field); for == and != only when one
// side is a number literal and the other is unknown, so that
// `webhook_type == "invoice.created"` stays a plain comparison.
type numericComparePatch struct{}

// Visit implements ast.Visitor.
func (numericComparePatch) Visit(node *exprast.Node) {
	b, ok := (*node).(*exprast.BinaryNode)
	if !ok {
		return
	}
	name, ok := compareFuncs[b.Operator]
	if !ok {
		return
	}
	switch b.Operator {
	case "==", "!=":
		if !(isNumberLiteral(b.Left) && isDynamic(b.Right) || isNumberLiteral(b.Right) && isDynamic(b.Left)) {
			return
		}
	default:
		if !isDynamic(b.Left) && !isDynamic(b.Right) {
			return
		}
	}
	call := &exprast.CallNode{
		Callee:    &exprast.IdentifierNode{Value: name},
		Arguments: []exprast.Node{b.Left, b.Right},
	}
	exprast.Patch(node, call)
	(*node).SetType(reflect.TypeFor[bool]())
}

func isNumberLiteral(n exprast.Node) bool {
	switch x := n.(type) {
	case *exprast.IntegerNode, *exprast.FloatNode:
		return true
	case *exprast.UnaryNode:
		return (x.Operator == "-" || x.Operator == "+") && isNumberLiteral(x.Node)
	}
	return false
}

// isDynamic reports whether a node's type is only known at run time.
func isDynamic(n exprast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface
}

// compareLoose is `a op b` with numeric strings read as numbers.
func compareLoose(op string, a, b any) (result bool, err error) {
	if x, y, ok := asNumbers(a, b); ok {
		switch op {
		case "<":
			return x < y, nil
		case "<=":
			return x <= y, nil
		case ">":
			return x > y, nil
		case ">=":
			return x >= y, nil
		case "==":
			return x == y, nil
		case "!=":
			return x != y, nil
		}
	}
	if _, aStr := a.(string); aStr && isNumber(b) {
		return false, fmt.Errorf("cannot compare %q with a number: it is not a numeric string", a)
	}
	if _, bStr := b.(string); bStr && isNumber(a) {
		return false, fmt.Errorf("cannot compare a number with %q: it is not a numeric string", b)
	}
	// Anything else behaves as expr's own operators, whose invalid
	// operations panic with a readable message.
	defer func() {
		if r := recover(); r != nil {
			result, err = false, fmt.Errorf("%v", r)
		}
	}()
	switch op {
	case "<":
		return runtime.Less(a, b), nil
	case "<=":
		return runtime.LessOrEqual(a, b), nil
	case ">":
		return runtime.More(a, b), nil
	case ">=":
		return runtime.MoreOrEqual(a, b), nil
	case "==":
		return runtime.Equal(a, b), nil
	default:
		return !runtime.Equal(a, b), nil
	}
}

// asNumbers returns a and b as float64 when both are numbers or numeric
// strings and at least one of them is a string (two plain numbers are
// left to expr, which keeps integer precision).
func asNumbers(a, b any) (float64, float64, bool) {
	_, aStr := a.(string)
	_, bStr := b.(string)
	if !aStr && !bStr {
		return 0, 0, false
	}
	x, ok1 := toNumber(a)
	y, ok2 := toNumber(b)
	return x, y, ok1 && ok2
}

func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return true
	}
	return false
}

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if s == "" || strings.ContainsAny(s, "xXpP_") { // no hex, binary exponents or digit separators
			return 0, false
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != f { // NaN
			return 0, false
		}
		return f, true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}
