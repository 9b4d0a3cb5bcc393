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
