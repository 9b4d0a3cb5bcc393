package web

import (
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/lago/fields"
)

func testBuilder(t *testing.T) builder {
	t.Helper()
	c, err := lago.Load()
	if err != nil {
		t.Fatal(err)
	}
	return builder{schema: fields.New(c)}
}

// Every rule the builder writes it reads back as the same rows, and each
// expression is the one expected.
func TestBuilderRoundTrips(t *testing.T) {
	b := testBuilder(t)
	for _, c := range []struct {
		typ, join string
		rows      []condRow
		want      string
	}{
		{"invoice.created", joinAll, []condRow{{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "5,000.00", Currency: "EUR"}},
			`webhook_type == "invoice.created" && invoice.total_amount_cents >= 500000 && invoice.currency == "EUR"`},
		{"invoice.created", joinAll, []condRow{{Field: "invoice.total_amount_cents", Op: opMore, Value: "1,200", Currency: "JPY"}},
			`webhook_type == "invoice.created" && invoice.total_amount_cents > 1200 && invoice.currency == "JPY"`},
		{"invoice.created", joinAll, []condRow{{Field: "invoice.total_amount_cents", Op: opLess, Value: "10.00", Currency: anyCurrency}},
			`webhook_type == "invoice.created" && invoice.total_amount_cents < 1000`},
		{"invoice.created", joinAll, []condRow{
			{Field: "invoice.status", Op: opOneOf, Value: "finalized, voided"},
			{Field: "invoice.customer.email", Op: opContains, Value: "@acme"},
			{Field: "invoice.payment_overdue", Op: opIs, Value: "true"},
			{Field: "invoice.net_payment_term", Op: opAtLeast, Value: "30"},
			{Field: "invoice.customer.name", Op: opEmpty},
			{Field: "invoice.file_url", Op: opNotEmpty},
		}, `webhook_type == "invoice.created" && invoice.status in ["finalized", "voided"] && invoice.customer.email contains "@acme" && invoice.payment_overdue == true && invoice.net_payment_term >= 30 && (invoice.customer.name ?? "") == "" && (invoice.file_url ?? "") != ""`},
		{"invoice.created", joinAny, []condRow{
			{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "5,000.00", Currency: "EUR"},
			{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "6,000.00", Currency: "USD"},
			{Field: "invoice.currency", Op: opIs, Value: "GBP"},
		}, `webhook_type == "invoice.created" && ((invoice.total_amount_cents >= 500000 && invoice.currency == "EUR") || (invoice.total_amount_cents >= 600000 && invoice.currency == "USD") || invoice.currency == "GBP")`},
		{"", joinAll, []condRow{{Field: "webhook_type", Op: opStarts, Value: "invoice."}}, `webhook_type startsWith "invoice."`},
		{"invoice.created", joinAll, []condRow{
			{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "5,000.00", Currency: "EUR"},
			{Field: "invoice.total_amount_cents", Op: opLess, Value: "10,000.00", Currency: "EUR"},
		}, `webhook_type == "invoice.created" && invoice.total_amount_cents >= 500000 && invoice.currency == "EUR" && invoice.total_amount_cents < 1000000 && invoice.currency == "EUR"`},
		{"", joinAny, []condRow{{Field: "webhook_type", Op: opIs, Value: "invoice.created"}, {Field: "webhook_type", Op: opIs, Value: "invoice.voided"}},
			`webhook_type == "invoice.created" || webhook_type == "invoice.voided"`},
	} {
		got, err := b.buildWhen(c.typ, c.join, c.rows)
		if err != nil {
			t.Errorf("%v: %v", c.rows, err)
			continue
		}
		if got != c.want {
			t.Errorf("built\n %s\nwant\n %s", got, c.want)
		}
		if ch, err := CheckExpression(nil, got); err != nil || !ch.OK {
			t.Errorf("%s does not compile: %v %v", got, err, ch.Message)
		}
		typ, join, rows, ok := b.parseGuided(got)
		if !ok {
			t.Errorf("the builder cannot read back %s", got)
			continue
		}
		if typ != c.typ || join != c.join || len(rows) != len(c.rows) {
			t.Errorf("read back %s as %q %q %v", got, typ, join, rows)
			continue
		}
		for i := range rows {
			want := c.rows[i]
			if rows[i] != want {
				t.Errorf("%s: row %d read back as %+v, want %+v", got, i, rows[i], want)
			}
		}
	}
}

// "Any of" one condition is the condition itself, read back as "all of".
func TestBuilderAnyOfOne(t *testing.T) {
	b := testBuilder(t)
	rows := []condRow{{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "5,000.00", Currency: "EUR"}}
	got, err := b.buildWhen("invoice.created", joinAny, rows)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, back, ok := b.parseGuided(got); !ok || len(back) != 1 || back[0] != rows[0] {
		t.Fatalf("%s read back as %v %v", got, back, ok)
	}
}

// A hand-written expression the rows cannot say is refused, not shown
// as something else.
func TestBuilderSaysWhenBeyondIt(t *testing.T) {
	b := testBuilder(t)
	for _, when := range []string{
		`invoice.total_amount_cents > invoice.total_paid_amount_cents`,
		`len(invoice.fees) > 2`,
		`webhook_type == "invoice.created" && (invoice.currency == "EUR" || invoice.currency == "USD") && invoice.total_amount_cents > 5`,
		`not (invoice.currency == "EUR")`,
		`invoice.total_amount_cents >= 10.5`,
	} {
		if _, _, rows, ok := b.parseGuided(when); ok {
			t.Errorf("read %s as %+v", when, rows)
		}
	}
}

func TestBuilderRefusesInWords(t *testing.T) {
	b := testBuilder(t)
	for _, c := range []struct {
		row  condRow
		want string
	}{
		{condRow{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "5000"}, `choose its currency, or "any currency"`},
		{condRow{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "5k", Currency: "EUR"}, "is not an amount"},
		{condRow{Field: "invoice.currency", Op: opIs, Value: "eur"}, `the value is written "EUR"`},
		{condRow{Field: "invoice.total_amount_cents", Op: opAtLeast, Value: "10.5", Currency: "JPY"}, "this currency has none"},
	} {
		_, err := b.buildWhen("invoice.created", joinAll, []condRow{c.row})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.row, err, c.want)
		}
	}
}

// The expression language's errors a person meets are said in words.
func TestErrorsInWords(t *testing.T) {
	for in, want := range map[string]string{
		`unexpected token Operator("=")`:                             `a single "=" is not a comparison`,
		`unexpected token Operator(",")`:                             "without thousands separators",
		`unexpected token EOF`:                                       "the condition stops too early",
		`cannot fetch currency from <nil>`:                           `nothing to read "currency" from`,
		`invalid operation: > (mismatched types float64 and string)`: "compares a number with text",
		`literal not terminated`:                                     "closing quote",
		`unknown name foo`:                                           "foo is not a field of the message",
		`something the editor has no words for`:                      "something the editor has no words for",
	} {
		if got := inWords(in); !strings.Contains(got, want) {
			t.Errorf("inWords(%q) = %q, want it to say %q", in, got, want)
		}
	}
	c, err := CheckExpression(nil, `webhook_type = "invoice.created"`)
	if err != nil || c.OK || !strings.Contains(c.Message, `write "=="`) || c.Detail == "" || c.Column == 0 {
		t.Fatalf("check: %+v %v", c, err)
	}
}

// Every operator of every field of every type, with a value of the
// field's kind, reads back as the row it was written from.
func TestBuilderRoundTripsEveryField(t *testing.T) {
	b := testBuilder(t)
	c, _ := lago.Load()
	n := 0
	for _, typ := range c.Types() {
		for _, f := range b.schema.Fields(typ.WebhookType) {
			for _, op := range operatorsFor(f.Kind) {
				row := condRow{Field: f.Path, Op: op.Code}
				switch {
				case op.Code == opEmpty || op.Code == opNotEmpty:
				case f.Kind == fields.Money && op.Code != opStarts && op.Code != opContains:
					cur := "EUR"
					if n%3 == 1 {
						cur = "JPY"
					} else if n%3 == 2 {
						cur = anyCurrency
					}
					row.Currency = cur
					row.Value = "1,234.00"
					if cur == "JPY" {
						row.Value = "1,234"
					}
				case f.Kind == fields.YesNo:
					row.Value = "true"
				case f.Kind == fields.Enum && op.Code == opOneOf:
					row.Value = strings.Join(f.Values[:min(2, len(f.Values))], ", ")
				case f.Kind == fields.Enum && (op.Code == opIs || op.Code == opIsNot):
					row.Value = f.Values[len(f.Values)-1]
				case f.Numeric:
					row.Value = "42"
				case op.Code == opOneOf:
					row.Value = "a, b"
				default:
					row.Value = "acme"
				}
				for _, join := range []string{joinAll, joinAny} {
					rows := []condRow{row, {Field: "webhook_type", Op: opStarts, Value: "inv"}}
					when, err := b.buildWhen(typ.WebhookType, join, rows)
					if err != nil {
						t.Errorf("%s %s %s: %v", typ.WebhookType, f.Path, op.Code, err)
						continue
					}
					gotTyp, gotJoin, back, ok := b.parseGuided(when)
					if !ok || gotTyp != typ.WebhookType || gotJoin != join || len(back) != 2 || back[0] != row {
						t.Errorf("%s read back as %q %q %+v (ok %v), want %+v", when, gotTyp, gotJoin, back, ok, row)
					}
					if n%20 == 0 {
						if ch, err := CheckExpression(c, when); err != nil || !ch.OK {
							t.Errorf("%s does not compile: %v %s", when, err, ch.Message)
						}
					}
					n++
				}
			}
		}
	}
	if n < 10000 {
		t.Fatalf("only %d rules written", n)
	}
}
