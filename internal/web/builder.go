package web

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/switchboard-dev/switchboard/internal/lago/fields"
	"github.com/switchboard-dev/switchboard/router"
)

// Operator codes of the guided builder, as the form posts them. The page
// shows them in words (opWords).
const (
	opIs       = "=="
	opIsNot    = "!="
	opMore     = ">"
	opAtLeast  = ">="
	opLess     = "<"
	opAtMost   = "<="
	opOneOf    = "in"
	opContains = "contains"
	opStarts   = "startsWith"
	opEmpty    = "empty"
	opNotEmpty = "notempty"
)

// anyCurrency is the currency choice of a money condition that compares
// the amount whatever the currency.
const anyCurrency = "any"

// Join choices: every condition must hold, or one is enough.
const (
	joinAll = "all"
	joinAny = "any"
)

// opChoice is one operator of a field's operator menu.
type opChoice struct{ Code, Words string }

// operatorsFor returns the operators a field of kind k offers, in words.
// A field the schema does not know ("" kind) offers them all.
func operatorsFor(k fields.Kind) []opChoice {
	c := func(codes ...string) []opChoice {
		out := make([]opChoice, len(codes))
		for i, code := range codes {
			out[i] = opChoice{code, opWords(code, k)}
		}
		return out
	}
	switch k {
	case fields.Money, fields.Count:
		return c(opMore, opAtLeast, opLess, opAtMost, opIs, opIsNot, opEmpty, opNotEmpty)
	case fields.Date:
		return c(opMore, opAtLeast, opLess, opAtMost, opIs, opStarts, opEmpty, opNotEmpty)
	case fields.Enum:
		return c(opIs, opIsNot, opOneOf, opStarts, opContains, opEmpty, opNotEmpty)
	case fields.YesNo:
		return c(opIs, opIsNot)
	case fields.Text, fields.ID:
		return c(opIs, opIsNot, opOneOf, opContains, opStarts, opEmpty, opNotEmpty)
	}
	return c(opIs, opIsNot, opOneOf, opMore, opAtLeast, opLess, opAtMost, opContains, opStarts, opEmpty, opNotEmpty)
}

// opWords says an operator in words for a field of kind k.
func opWords(code string, k fields.Kind) string {
	if k == fields.Date {
		switch code {
		case opMore:
			return "is after"
		case opAtLeast:
			return "is on or after"
		case opLess:
			return "is before"
		case opAtMost:
			return "is on or before"
		case opStarts:
			return "is on (day or month)"
		}
	}
	switch code {
	case opIs:
		return "is"
	case opIsNot:
		return "is not"
	case opMore:
		return "is more than"
	case opAtLeast:
		return "is at least"
	case opLess:
		return "is less than"
	case opAtMost:
		return "is at most"
	case opOneOf:
		return "is one of"
	case opContains:
		return "contains"
	case opStarts:
		return "starts with"
	case opEmpty:
		return "is empty"
	case opNotEmpty:
		return "is not empty"
	}
	return code
}

func validOperator(op string) bool {
	return slices.ContainsFunc(operatorsFor(""), func(c opChoice) bool { return c.Code == op })
}

// condRow is one field / operator / value row of the guided builder.
// Value holds several values separated by commas for "is one of";
// Currency is a money condition's currency code or anyCurrency.
type condRow struct {
	Field, Op, Value, Currency string
}

// builder writes and reads guided conditions with the field schema.
type builder struct{ schema *fields.Schema }

// field returns the schema's field for a row, looking in every type when
// typ is "" (any event). ok is false for a path the schema does not know.
func (b builder) field(typ, path string) (fields.Field, bool) {
	if f, ok := b.schema.Field(typ, path); ok {
		return f, true
	}
	return b.schema.Field("", path)
}

// buildWhen writes the `when` expression of a guided condition: the event
// type pinned first, then the rows, all of them (join "all") or any of
// them (join "any"). A money row is the amount in cents and, unless it is
// for any currency, the currency condition.
func (b builder) buildWhen(typ, join string, rows []condRow) (string, error) {
	var conds []string
	var multis []bool
	for i, r := range rows {
		if r.Field == "" {
			continue
		}
		c, multi, err := b.rowExpr(typ, r)
		if err != nil {
			return "", fmt.Errorf("condition %d: %w", i+1, err)
		}
		conds, multis = append(conds, c), append(multis, multi)
	}
	if join == joinAny && len(conds) > 1 {
		for i := range conds {
			if multis[i] {
				conds[i] = "(" + conds[i] + ")"
			}
		}
	}
	var parts []string
	if typ != "" {
		parts = append(parts, "webhook_type == "+strconv.Quote(typ))
	}
	if join == joinAny && len(conds) > 1 {
		or := strings.Join(conds, " || ")
		if len(parts) > 0 {
			or = "(" + or + ")"
		}
		parts = append(parts, or)
	} else {
		parts = append(parts, conds...)
	}
	return strings.Join(parts, " && "), nil
}

// rowExpr writes one row; multi is true when it is two conditions joined
// by && (an amount and its currency).
func (b builder) rowExpr(typ string, r condRow) (expr string, multi bool, err error) {
	if !validOperator(r.Op) {
		return "", false, fmt.Errorf("unknown operator %q", r.Op)
	}
	f, known := b.field(typ, r.Field)
	name := r.Field
	if known {
		name = f.Title()
	}
	switch r.Op {
	case opEmpty:
		return "(" + r.Field + ` ?? "") == ""`, false, nil
	case opNotEmpty:
		return "(" + r.Field + ` ?? "") != ""`, false, nil
	case opOneOf:
		var lits []string
		for _, v := range strings.Split(r.Value, ",") {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			lit, err := literal(f, known, name, v, true)
			if err != nil {
				return "", false, err
			}
			lits = append(lits, lit)
		}
		if len(lits) == 0 {
			return "", false, fmt.Errorf("%s: choose at least one value", name)
		}
		return r.Field + " in [" + strings.Join(lits, ", ") + "]", false, nil
	}
	if known && f.Kind == fields.Money && r.Op != opContains && r.Op != opStarts {
		cur := r.Currency
		if cur == "" {
			return "", false, fmt.Errorf("%s is money: choose its currency, or \"any currency\"", name)
		}
		dec := 2
		if cur != anyCurrency {
			if !fields.KnownCurrency(cur) {
				return "", false, fmt.Errorf("%q is not a currency code", cur)
			}
			dec = fields.Decimals(cur)
		}
		cents, err := fields.ToCents(r.Value, dec)
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", name, err)
		}
		out := r.Field + " " + r.Op + " " + strconv.FormatInt(cents, 10)
		if cur == anyCurrency {
			return out, false, nil
		}
		return out + " && " + f.Currency + " == " + strconv.Quote(cur), true, nil
	}
	lit, err := literal(f, known, name, strings.TrimSpace(r.Value), r.Op == opIs || r.Op == opIsNot)
	if err != nil {
		return "", false, err
	}
	return r.Field + " " + r.Op + " " + lit, false, nil
}

// literal writes one value of a field as an expr literal: a number for a
// count, true or false for yes/no, one of the values for a set of values,
// a quoted string otherwise. A value compared whole (exact) must be one
// of an enum's values.
func literal(f fields.Field, known bool, name, v string, exact bool) (string, error) {
	if !known {
		return strconv.Quote(v), nil
	}
	switch {
	case f.Kind == fields.YesNo:
		switch strings.ToLower(v) {
		case "true", "yes":
			return "true", nil
		case "false", "no":
			return "false", nil
		}
		return "", fmt.Errorf("%s is yes or no; %q is neither", name, v)
	case f.Numeric:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return "", fmt.Errorf("%s is a number; %q is not one", name, v)
		}
		return v, nil
	case exact && f.Kind == fields.Enum && !slices.Contains(f.Values, v):
		for _, val := range f.Values {
			if strings.EqualFold(val, v) {
				return "", fmt.Errorf("%s: %q never matches; the value is written %q", name, v, val)
			}
		}
		if len(f.Values) > 12 {
			return "", fmt.Errorf("%s: %q is not one of its values", name, v)
		}
		return "", fmt.Errorf("%s is one of %s; %q is not one of them", name, strings.Join(f.Values, ", "), v)
	}
	return strconv.Quote(v), nil
}

// parseGuided reads an expression back into the guided builder's shape.
// ok is false when the expression says anything the builder cannot show:
// the rows it read must write the very same expression.
func (b builder) parseGuided(when string) (typ, join string, rows []condRow, ok bool) {
	join = joinAll
	if strings.TrimSpace(when) == "" {
		return "", join, nil, true
	}
	tree, err := parser.Parse(when)
	if err != nil {
		return "", join, nil, false
	}
	conj := router.Conjuncts(tree.Node)
	if len(conj) > 0 {
		if path, op, val, isCmp := comparison(conj[0]); isCmp && path == "webhook_type" && op == opIs {
			if s, isStr := val.(*exprast.StringNode); isStr {
				typ, conj = s.Value, conj[1:]
			}
		}
	}
	var items [][]exprast.Node
	if len(conj) == 1 && isOr(conj[0]) {
		join = joinAny
		for _, d := range disjuncts(conj[0]) {
			items = append(items, router.Conjuncts(d))
		}
	} else {
		for _, c := range conj {
			items = append(items, []exprast.Node{c})
		}
		items = [][]exprast.Node{joinNodes(items)}
	}
	for _, group := range items {
		got, okRows := b.readRows(typ, group, join == joinAny)
		if !okRows {
			return "", joinAll, nil, false
		}
		rows = append(rows, got...)
	}
	rebuilt, err := b.buildWhen(typ, join, rows)
	if err != nil || !sameExpr(rebuilt, when) {
		return "", joinAll, nil, false
	}
	return typ, join, rows, true
}

func joinNodes(items [][]exprast.Node) []exprast.Node {
	var out []exprast.Node
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

// readRows reads conditions into rows, an amount followed by its
// currency's condition making one money row. In an "any of" group
// (single) the conditions must make exactly one row.
func (b builder) readRows(typ string, conds []exprast.Node, single bool) ([]condRow, bool) {
	var rows []condRow
	for i := 0; i < len(conds); i++ {
		row, ok := b.readRow(typ, conds[i])
		if !ok {
			return nil, false
		}
		if f, known := b.field(typ, row.Field); known && f.Kind == fields.Money && row.Currency == anyCurrency && i+1 < len(conds) {
			if path, op, val, isCmp := comparison(conds[i+1]); isCmp && path == f.Currency && op == opIs {
				if s, isStr := val.(*exprast.StringNode); isStr && fields.KnownCurrency(s.Value) {
					row = b.moneyRow(f, row, s.Value)
					i++
				}
			}
		}
		rows = append(rows, row)
	}
	if single && len(rows) != 1 {
		return nil, false
	}
	return rows, true
}

// moneyRow rewrites a money row read in cents for any currency as an
// amount in units of cur.
func (b builder) moneyRow(f fields.Field, r condRow, cur string) condRow {
	cents, err := fields.ToCents(r.Value, 2)
	if err != nil {
		return r
	}
	return condRow{Field: r.Field, Op: r.Op, Currency: cur, Value: fields.FromCents(cents, fields.Decimals(cur))}
}

// readRow reads one condition. A money comparison is read for any
// currency; readRows joins it with its currency condition.
func (b builder) readRow(typ string, n exprast.Node) (condRow, bool) {
	// (path ?? "") == "" and != "": empty and not empty.
	if bn, ok := n.(*exprast.BinaryNode); ok && (bn.Operator == "==" || bn.Operator == "!=") {
		if co, ok := bn.Left.(*exprast.BinaryNode); ok && co.Operator == "??" {
			path, okPath := nodePath(co.Left)
			l, okL := co.Right.(*exprast.StringNode)
			r, okR := bn.Right.(*exprast.StringNode)
			if !okPath || !okL || !okR || l.Value != "" || r.Value != "" {
				return condRow{}, false
			}
			if bn.Operator == "==" {
				return condRow{Field: path, Op: opEmpty}, true
			}
			return condRow{Field: path, Op: opNotEmpty}, true
		}
	}
	path, op, val, ok := comparison(n)
	if !ok {
		return condRow{}, false
	}
	f, known := b.field(typ, path)
	if op == opOneOf {
		arr, isArr := val.(*exprast.ArrayNode)
		if !isArr {
			return condRow{}, false
		}
		var vals []string
		for _, e := range arr.Nodes {
			v, okV := literalText(e)
			if !okV || strings.Contains(v, ",") {
				return condRow{}, false
			}
			vals = append(vals, v)
		}
		return condRow{Field: path, Op: op, Value: strings.Join(vals, ", ")}, true
	}
	v, okV := literalText(val)
	if !okV {
		return condRow{}, false
	}
	if known && f.Kind == fields.Money && op != opContains && op != opStarts {
		in, isInt := val.(*exprast.IntegerNode)
		if !isInt {
			return condRow{}, false
		}
		return condRow{Field: path, Op: op, Currency: anyCurrency, Value: fields.FromCents(int64(in.Value), 2)}, true
	}
	return condRow{Field: path, Op: op, Value: v}, true
}

// comparison reads `path OP literal-or-array`.
func comparison(n exprast.Node) (path, op string, val exprast.Node, ok bool) {
	b, isBin := n.(*exprast.BinaryNode)
	if !isBin || !validOperator(b.Operator) {
		return "", "", nil, false
	}
	path, ok = nodePath(b.Left)
	return path, b.Operator, b.Right, ok
}

// literalText returns a literal's value as the builder's value box shows it.
func literalText(n exprast.Node) (string, bool) {
	switch v := n.(type) {
	case *exprast.StringNode:
		return v.Value, true
	case *exprast.IntegerNode:
		return strconv.Itoa(v.Value), true
	case *exprast.FloatNode:
		return strconv.FormatFloat(v.Value, 'f', -1, 64), true
	case *exprast.BoolNode:
		return strconv.FormatBool(v.Value), true
	}
	return "", false
}

func isOr(n exprast.Node) bool {
	b, ok := n.(*exprast.BinaryNode)
	return ok && (b.Operator == "||" || b.Operator == "or")
}

// disjuncts lists the operands of a chain of ||.
func disjuncts(n exprast.Node) []exprast.Node {
	if b, ok := n.(*exprast.BinaryNode); ok && (b.Operator == "||" || b.Operator == "or") {
		return append(disjuncts(b.Left), disjuncts(b.Right)...)
	}
	return []exprast.Node{n}
}

// sameExpr reports whether two expressions parse to the same tree.
func sameExpr(a, b string) bool {
	ta, errA := parser.Parse(a)
	tb, errB := parser.Parse(b)
	return errA == nil && errB == nil && ta.Node.String() == tb.Node.String()
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
