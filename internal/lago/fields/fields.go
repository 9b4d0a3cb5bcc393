// Package fields is the Lago field schema in plain words: for every field a
// webhook type carries, its label ("Total amount"), the object it belongs to
// ("Invoice"), a description, and its kind (money with its currency field,
// count, date, a set of values, text, ID, yes/no). It is derived from the
// catalog's example payloads (package lago) and the word tables in this
// package, both compiled into the binary.
package fields

import (
	"slices"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// Kind is what a field holds, in the terms the rule builder offers
// operators and values for.
type Kind string

// The kinds of fields.
const (
	// Money is an amount in minor units (cents) of the currency named by
	// the field's Currency path.
	Money Kind = "money"
	// Count is any other number: a count, a rate, a number of days.
	Count Kind = "count"
	// Date is a date or a date and time, written as ISO 8601 text.
	Date Kind = "date"
	// Enum is text that takes one of a known set of Values.
	Enum Kind = "enum"
	// Text is free text: a name, an email address, a code.
	Text Kind = "text"
	// ID is an identifier, Lago's or the customer's own.
	ID Kind = "id"
	// YesNo is true or false.
	YesNo Kind = "yes/no"
)

// Field is one field of a webhook type in plain words.
type Field struct {
	// Path is the field's path in expr syntax: "invoice.total_amount_cents".
	Path string
	// Object names the object the field belongs to, outermost first:
	// "Invoice", "Invoice › Customer".
	Object string
	// Label names the field in plain words: "Total amount".
	Label string
	// Description says what the field holds, in a sentence or two.
	Description string
	// Kind is what the field holds.
	Kind Kind
	// Currency is the path of the field naming a Money field's currency
	// ("invoice.currency"); empty for other kinds.
	Currency string
	// Values are an Enum field's possible values.
	Values []string
	// Numeric is true when the payload holds the value as a number, or as
	// a decimal number written as text (which conditions compare as a
	// number).
	Numeric bool
}

// Title is the field's name with its object: "Invoice › Total amount".
func (f Field) Title() string {
	if f.Object == "" {
		return f.Label
	}
	return f.Object + " › " + f.Label
}

// Schema is the field schema of every catalog type. Build it once with New
// and share it: it is immutable.
type Schema struct {
	fields map[string][]Field        // webhook type → fields in document order
	byPath map[string]map[string]int // webhook type → path → index
	any    map[string]Field          // path → the field in the first type that has it
}

// New derives the schema from the catalog (a nil catalog gives an empty
// schema): every scalar field of every
// type (strings, numbers, booleans and nulls; not objects or arrays).
func New(c *lago.Catalog) *Schema {
	s := &Schema{fields: map[string][]Field{}, byPath: map[string]map[string]int{}, any: map[string]Field{}}
	if c == nil {
		return s
	}
	var types, objects []string
	for _, t := range c.Types() {
		types = append(types, t.WebhookType)
		if !slices.Contains(objects, t.ObjectType) {
			objects = append(objects, t.ObjectType)
		}
	}
	for _, t := range c.Types() {
		raw := c.Fields(t.WebhookType)
		kinds := make(map[string]string, len(raw))
		for _, f := range raw {
			kinds[f.Path] = f.Kind
		}
		idx := map[string]int{}
		var out []Field
		for _, f := range raw {
			switch f.Kind {
			case "object", "array":
				continue
			}
			fd := describe(f.Path, f.Kind, kinds, types, objects)
			idx[fd.Path] = len(out)
			out = append(out, fd)
			if _, ok := s.any[fd.Path]; !ok {
				s.any[fd.Path] = fd
			}
		}
		s.fields[t.WebhookType], s.byPath[t.WebhookType] = out, idx
	}
	return s
}

// Fields returns a type's fields in the order of its example payload. An
// unknown type, or "" (any event), has none.
func (s *Schema) Fields(webhookType string) []Field {
	return s.fields[webhookType]
}

// Field returns the field at path in a type. With webhookType "" (any
// event) it answers for the first type that has the path.
func (s *Schema) Field(webhookType, path string) (Field, bool) {
	if webhookType == "" {
		f, ok := s.any[path]
		return f, ok
	}
	i, ok := s.byPath[webhookType][path]
	if !ok {
		return Field{}, false
	}
	return s.fields[webhookType][i], true
}

// describe writes one field in plain words. kinds are the JSON kinds of
// every path of the type, to find a money field's currency.
func describe(path, jsonKind string, kinds map[string]string, types, objects []string) Field {
	segs := strings.Split(path, ".")
	key := segs[len(segs)-1]
	parent := ""
	if len(segs) > 1 {
		parent = segs[len(segs)-2]
	}
	var objs []string
	for _, s := range segs[:len(segs)-1] {
		objs = append(objs, humanize(s))
	}
	f := Field{Path: path, Object: strings.Join(objs, " › "), Label: label(key),
		Numeric: jsonKind == "number" || jsonKind == "numeric string"}
	if len(segs) == 1 {
		f.Object = "Message"
	}
	switch {
	case jsonKind == "bool":
		f.Kind = YesNo
	case key == "webhook_type":
		f.Kind, f.Values = Enum, types
	case key == "object_type":
		f.Kind, f.Values = Enum, objects
	case key == "currency" || strings.HasSuffix(key, "_currency"):
		f.Kind, f.Values = Enum, Currencies()
	case enumValues(parent, key) != nil:
		f.Kind, f.Values = Enum, enumValues(parent, key)
	case f.Numeric && strings.HasSuffix(key, "_cents"):
		if cur := currencyOf(segs, kinds); cur != "" {
			f.Kind, f.Currency = Money, cur
		} else {
			f.Kind = Count
		}
	case f.Numeric:
		f.Kind = Count
	case isDate(key):
		f.Kind = Date
	case isID(key):
		f.Kind = ID
	default:
		f.Kind = Text
	}
	f.Description = description(f, parent, key)
	return f
}

// currencyOf finds the field naming the currency of the money field at
// segs: <amount>_currency next to it ("amount_currency" for
// "amount_cents"), else "currency" next to it, else the nearest
// "currency" in an enclosing object.
func currencyOf(segs []string, kinds map[string]string) string {
	key := segs[len(segs)-1]
	dir := strings.Join(segs[:len(segs)-1], ".")
	join := func(d, k string) string {
		if d == "" {
			return k
		}
		return d + "." + k
	}
	base := strings.TrimSuffix(strings.TrimPrefix(key, "precise_"), "_cents")
	for _, cand := range []string{base + "_currency", strings.TrimSuffix(base, "_amount") + "_amount_currency"} {
		if kinds[join(dir, cand)] == "string" {
			return join(dir, cand)
		}
	}
	for d := len(segs) - 1; d >= 0; d-- {
		p := join(strings.Join(segs[:d], "."), "currency")
		if kinds[p] == "string" {
			return p
		}
	}
	return ""
}

func isDate(key string) bool {
	return strings.HasSuffix(key, "_at") || strings.HasSuffix(key, "_date") || key == "timestamp" ||
		key == "from_date" || key == "to_date"
}

func isID(key string) bool {
	return key == "id" || strings.HasSuffix(key, "_id") || key == "external_id" || key == "number" ||
		strings.HasSuffix(key, "_number") || key == "transaction_id"
}

// label names a key in plain words: its entry in labels, or the key with
// its unit suffix dropped and its words spelled out.
func label(key string) string {
	if l, ok := labels[key]; ok {
		return l
	}
	k := strings.TrimSuffix(strings.TrimSuffix(key, "_cents"), "_at")
	if strings.HasPrefix(k, "lago_") && strings.HasSuffix(k, "_id") && k != "lago_id" {
		return "Lago " + strings.ToLower(humanize(strings.TrimSuffix(strings.TrimPrefix(k, "lago_"), "_id"))) + " ID"
	}
	return humanize(k)
}

// acronyms are the words spelled in capitals.
var acronyms = map[string]string{"id": "ID", "url": "URL", "ids": "IDs", "vies": "VIES", "crm": "CRM", "xml": "XML", "api": "API"}

// humanize turns snake_case into a capitalized phrase: "billing_configuration"
// is "Billing configuration".
func humanize(key string) string {
	words := strings.Split(key, "_")
	for i, w := range words {
		if a, ok := acronyms[w]; ok {
			words[i] = a
		} else if i == 0 && w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// description writes what the field holds: its entry in descriptions,
// then what its kind means for a condition.
func description(f Field, parent, key string) string {
	d := descriptions[parent+"."+key]
	if d == "" {
		d = descriptions[key]
	}
	if d == "" {
		d = "The " + strings.ToLower(lastObject(f.Object)) + "'s " + strings.ToLower(f.Label) + "."
	}
	switch f.Kind {
	case Money:
		d += " An amount of money in the currency given by " + f.Currency + "; Lago sends it in cents (minor units)."
	case Date:
		d += " A date and time, as ISO 8601 text in UTC."
	case Enum:
		if len(f.Values) <= 12 {
			d += " One of: " + strings.Join(f.Values, ", ") + "."
		}
	case ID:
		d += " An identifier."
	case YesNo:
		d += " Yes (true) or no (false)."
	case Count:
		if !strings.Contains(d, "number") {
			d += " A number."
		}
	}
	return d
}

func lastObject(obj string) string {
	if i := strings.LastIndex(obj, " › "); i >= 0 {
		return obj[i+len(" › "):]
	}
	return obj
}
