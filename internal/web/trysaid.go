package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/parser"

	"github.com/switchboard-dev/switchboard/internal/lago/fields"
	"github.com/switchboard-dev/switchboard/router"
)

// saidCondition is one condition of a tried rule in words, with the
// message's actual value: "Invoice › Currency is USD — the rule wants EUR".
type saidCondition struct {
	// Result is the condition's value on the message; nil when it could
	// not be evaluated on its own.
	Result *bool
	Text   string
	// Expr is the condition as written in the rule.
	Expr string
}

// typeWatch says which saved rules look at the tried message's type.
type typeWatch struct {
	// Type is the message's webhook_type; Ident says which message it is.
	Type, Ident string
	// Rules are the saved rules whose event-type condition holds for the
	// message (or that have none), with whether they match it.
	Rules []watchingRule
}

type watchingRule struct {
	Name    string
	Matched bool
}

// lookupPath returns the value at a dotted path of a decoded message;
// ok is false when the path is not there.
func lookupPath(data map[string]any, path string) (any, bool) {
	var cur any = data
	for _, seg := range strings.Split(path, ".") {
		obj, isObj := cur.(map[string]any)
		if !isObj {
			return nil, false
		}
		v, found := obj[seg]
		if !found {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// valueWords writes a message's value for a person: an amount in
// currency units with its currency for money, yes/no, "empty" for null.
func valueWords(data map[string]any, f fields.Field, known bool, path string) string {
	v, ok := lookupPath(data, path)
	if !ok {
		return "not in this message"
	}
	if v == nil {
		return "empty"
	}
	if known && f.Kind == fields.Money {
		cur, _ := lookupPath(data, f.Currency)
		code, _ := cur.(string)
		if n, isNum := v.(float64); isNum && n == float64(int64(n)) {
			dec := 2
			if fields.KnownCurrency(code) {
				dec = fields.Decimals(code)
			}
			return strings.TrimSpace(fields.FromCents(int64(n), dec) + " " + code)
		}
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return "empty"
		}
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// wantWords says what a row wants: "at least 5,000.00", "one of draft, voided".
func wantWords(r condRow, k fields.Kind) string {
	w := opWords(r.Op, k)
	w = strings.TrimPrefix(w, "is ")
	if w == "is" {
		w = ""
	}
	v := r.Value
	if k == fields.YesNo {
		v = map[string]string{"true": "yes", "false": "no"}[v]
	}
	if r.Op == opEmpty || r.Op == opNotEmpty {
		return "it " + opWords(r.Op, k)
	}
	if r.Op == opIsNot {
		return "anything but " + v
	}
	return strings.TrimSpace(w + " " + v)
}

// sayConditions writes the guided rule's conditions in words with the
// message's values. parts are the explanation's conditions of a rule with
// the same rows all joined by &&, matched to the rows by their text.
func (u *UI) sayConditions(e editorForm, msg []byte, parts []router.Condition) []saidCondition {
	var data map[string]any
	if json.Unmarshal(msg, &data) != nil {
		return nil
	}
	result := map[string]*bool{}
	for _, p := range parts {
		if p.Error == "" {
			result[p.Expr] = p.Result
		}
	}
	printed := func(src string) []string {
		tree, err := parser.Parse(src)
		if err != nil {
			return nil
		}
		var out []string
		for _, n := range router.Conjuncts(tree.Node) {
			out = append(out, n.String())
		}
		return out
	}
	b := u.builder()
	var out []saidCondition
	if e.Type != "" {
		src := "webhook_type == " + strconv.Quote(e.Type)
		actual, _ := data["webhook_type"].(string)
		out = append(out, saidCondition{Result: result[printed(src)[0]], Expr: src,
			Text: "Event type is " + actual + " — the rule wants " + e.Type})
	}
	for _, r := range e.Rows {
		if r.Field == "" {
			continue
		}
		src, _, err := b.rowExpr(e.Type, r)
		if err != nil {
			continue
		}
		f, known := b.field(e.Type, r.Field)
		title, kind := r.Field, fields.Kind("")
		if known {
			title, kind = f.Title(), f.Kind
		}
		conds := printed(src)
		if known && kind == fields.Money {
			dec := 2
			if r.Currency != anyCurrency {
				dec = fields.Decimals(r.Currency)
			}
			if cents, err := fields.ToCents(r.Value, dec); err == nil {
				r.Value = fields.FromCents(cents, dec)
			}
		}
		want := wantWords(r, kind)
		if len(conds) == 0 {
			continue
		}
		actual := valueWords(data, f, known, r.Field)
		if known && kind == fields.Money {
			// The amount alone; the currency is said on its own line.
			actual = strings.TrimSpace(strings.TrimSuffix(actual, " "+currencyOf(data, f)))
		}
		out = append(out, saidCondition{Result: result[conds[0]], Expr: conds[0],
			Text: title + " is " + actual + " — the rule wants " + want})
		if len(conds) == 2 { // a money row's currency
			cf, _ := b.field(e.Type, f.Currency)
			out = append(out, saidCondition{Result: result[conds[1]], Expr: conds[1],
				Text: cf.Title() + " is " + valueWords(data, cf, true, f.Currency) + " — the rule wants " + r.Currency})
		}
	}
	return out
}

func currencyOf(data map[string]any, f fields.Field) string {
	v, _ := lookupPath(data, f.Currency)
	s, _ := v.(string)
	return s
}

// identify says which message this is: its type, then the invoice
// number or customer, the amount and what else names it.
func (u *UI) identify(msg []byte) (typ, ident string) {
	var data map[string]any
	if json.Unmarshal(msg, &data) != nil {
		return "", ""
	}
	typ, _ = data["webhook_type"].(string)
	var bits []string
	key, _ := data["object_type"].(string)
	obj, _ := data[key].(map[string]any)
	if t, ok := u.o.Catalog.Type(typ); ok {
		obj, _ = data[t.ObjectKey].(map[string]any)
		key = t.ObjectKey
	}
	if obj == nil {
		return typ, ""
	}
	if n, ok := obj["number"].(string); ok && n != "" {
		bits = append(bits, strings.ReplaceAll(key, "_", " ")+" "+n)
	}
	for _, p := range []string{"customer.name", "name", "external_customer_id", "customer.external_id", "code"} {
		if v, ok := lookupPath(obj, p); ok {
			if s, isStr := v.(string); isStr && s != "" {
				bits = append(bits, s)
				break
			}
		}
	}
	for _, p := range []string{"total_amount_cents", "amount_cents", "balance_cents", "total_amount_cents"} {
		f, known := u.schema.Field(typ, key+"."+p)
		if known && f.Kind == fields.Money {
			if w := valueWords(data, f, true, f.Path); w != "not in this message" && w != "empty" {
				bits = append(bits, w)
				break
			}
		}
	}
	return typ, strings.Join(bits, " · ")
}

// watching lists the saved rules that look at the message's type: those
// whose event-type condition holds for it, and those without one.
func (u *UI) watching(ctx context.Context, msg []byte) *typeWatch {
	typ, ident := u.identify(msg)
	if typ == "" {
		return nil
	}
	w := &typeWatch{Type: typ, Ident: ident}
	rep, err := u.api.call(ctx, http.MethodPost, "/api/v1/test", "", testRequest{Message: msg})
	if err != nil || !rep.ok() {
		return w
	}
	var res testResult
	if json.Unmarshal(rep.Body, &res) != nil {
		return w
	}
	for _, ex := range res.Explain {
		looks := true
		for _, p := range ex.Parts {
			if strings.Contains(p.Expr, "webhook_type") && !strings.Contains(p.Expr, "||") {
				looks = looks && p.Result != nil && *p.Result
			}
		}
		if looks {
			w.Rules = append(w.Rules, watchingRule{Name: ex.Rule, Matched: ex.Matched})
		}
	}
	return w
}

// recentLabels names each received message by what identifies it.
func (u *UI) recentLabel(body []byte) string {
	typ, ident := u.identify(body)
	if ident == "" {
		return typ
	}
	return fmt.Sprintf("%s · %s", typ, ident)
}
