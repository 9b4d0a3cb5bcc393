package web

import (
	"slices"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/lago/fields"
)

// beyondBuilder is what the editor says when a hand-written expression
// cannot be shown as rows.
const beyondBuilder = "This condition was written by hand and says more than the guided builder can show (for example brackets, functions or several event types), so it is shown as an expression. Edit it here, or start the builder afresh."

// fieldGroup is one object of the field picker: "Invoice › Customer".
type fieldGroup struct {
	Object string
	Fields []fields.Field
}

// fieldGroups returns a type's fields grouped by object, in the order of
// the type's example payload.
func (u *UI) fieldGroups(typ string) []fieldGroup {
	var out []fieldGroup
	idx := map[string]int{}
	for _, f := range u.pickable(typ) {
		i, ok := idx[f.Object]
		if !ok {
			i = len(out)
			idx[f.Object] = i
			out = append(out, fieldGroup{Object: f.Object})
		}
		out[i].Fields = append(out[i].Fields, f)
	}
	return out
}

// pickable returns the fields the picker offers for a type: all of its
// fields, or for any event those every message has (its type).
func (u *UI) pickable(typ string) []fields.Field {
	if typ != "" {
		return u.schema.Fields(typ)
	}
	var out []fields.Field
	for _, path := range []string{"webhook_type", "object_type", "organization_id"} {
		if f, ok := u.schema.Field("", path); ok {
			out = append(out, f)
		}
	}
	return out
}

// rowView is one builder row as the template shows it.
type rowView struct {
	I   int
	Row condRow
	// Known is true when the schema knows the field; Field is then its
	// entry. Listed is true when the field picker lists it.
	Known, Listed bool
	Field         fields.Field
	Ops           []opChoice
	// Values are the choices of a field with a set of values; Chosen
	// marks the ones an "is one of" row holds.
	Values []string
	Chosen map[string]bool
	// NoValue: the operator takes none. Multi: "is one of".
	NoValue, Multi, Money bool
	Currencies            []string
	// Note says a money row in words; Error what is wrong with the row.
	Note, Error string
}

func (u *UI) rowViews(e editorForm) []rowView {
	b := u.builder()
	var out []rowView
	for i, r := range e.Rows {
		v := rowView{I: i, Row: r, Chosen: map[string]bool{}}
		v.Field, v.Known = b.field(e.Type, r.Field)
		v.Listed = slices.ContainsFunc(u.pickable(e.Type), func(f fields.Field) bool { return f.Path == r.Field })
		kind := fields.Kind("")
		if v.Known {
			kind = v.Field.Kind
		}
		v.Ops = operatorsFor(kind)
		if r.Op != "" && !slices.ContainsFunc(v.Ops, func(c opChoice) bool { return c.Code == r.Op }) {
			v.Ops = append(v.Ops, opChoice{r.Op, opWords(r.Op, kind)})
		}
		v.NoValue = r.Op == opEmpty || r.Op == opNotEmpty
		v.Multi = r.Op == opOneOf
		switch {
		case r.Op != opIs && r.Op != opIsNot && r.Op != opOneOf:
		case kind == fields.YesNo:
			v.Values = []string{"true", "false"}
		case kind == fields.Enum:
			v.Values = v.Field.Values
		}
		if v.Multi {
			for _, s := range strings.Split(r.Value, ",") {
				if s = strings.TrimSpace(s); s != "" {
					v.Chosen[s] = true
					if v.Values != nil && !slices.Contains(v.Values, s) {
						v.Values = append(slices.Clone(v.Values), s)
					}
				}
			}
		}
		if kind == fields.Money && r.Op != opContains && r.Op != opStarts && !v.NoValue && !v.Multi {
			v.Money = true
			v.Currencies = fields.Currencies()
			v.Note = moneyNote(v.Field, r)
		}
		if r.Field != "" && (r.Value != "" || v.NoValue) {
			if _, _, err := b.rowExpr(e.Type, r); err != nil {
				v.Error = err.Error()
			}
		}
		out = append(out, v)
	}
	return out
}

// moneyNote says what a money row compares, in words.
func moneyNote(f fields.Field, r condRow) string {
	switch r.Currency {
	case "":
		return "Choose the currency of the amount, or \"any currency\"."
	case anyCurrency:
		cents, err := fields.ToCents(r.Value, 2)
		if err != nil {
			return "Any currency: the amount is compared in cents whatever the currency."
		}
		return "Any currency: the amount is compared as " + fields.FromCents(cents, 0) + " cents whatever the currency, so " +
			fields.FromCents(cents, 2) + " EUR and " + fields.FromCents(cents, 0) + " JPY alike. Choose a currency to compare amounts of one currency only."
	}
	dec := fields.Decimals(r.Currency)
	cents, err := fields.ToCents(r.Value, dec)
	if err != nil {
		return ""
	}
	return "Only " + r.Currency + " amounts: " + f.Path + " is in cents (" + fields.FromCents(cents, dec) + " " + r.Currency + " is " +
		fields.FromCents(cents, 0) + "), and " + f.Currency + " must be " + r.Currency + "."
}

// normalize keeps each row's operator one its field offers: a row whose
// field changed to one of another kind takes that kind's first operator.
func (u *UI) normalize(e *editorForm) {
	b := u.builder()
	for i := range e.Rows {
		r := &e.Rows[i]
		kind := fields.Kind("")
		if f, ok := b.field(e.Type, r.Field); ok {
			kind = f.Kind
		}
		ops := operatorsFor(kind)
		if !slices.ContainsFunc(ops, func(c opChoice) bool { return c.Code == r.Op }) {
			r.Op = ops[0].Code
		}
	}
}
