package fields

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/router/render"
)

func schema(t *testing.T) (*lago.Catalog, *Schema) {
	t.Helper()
	c, err := lago.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c, New(c)
}

// Every scalar field of every catalog type is in the schema, in words,
// with a kind; a money field's currency is a field of the same type; an
// enum field's example value is one of its values.
func TestEveryCatalogFieldIsCovered(t *testing.T) {
	c, s := schema(t)
	total := 0
	for _, typ := range c.Types() {
		for _, raw := range c.Fields(typ.WebhookType) {
			if raw.Kind == "object" || raw.Kind == "array" {
				continue
			}
			total++
			f, ok := s.Field(typ.WebhookType, raw.Path)
			if !ok {
				t.Errorf("%s: %s is not in the schema", typ.WebhookType, raw.Path)
				continue
			}
			if f.Label == "" || f.Object == "" || f.Description == "" || f.Kind == "" {
				t.Errorf("%s: %s lacks words: %+v", typ.WebhookType, raw.Path, f)
			}
			if strings.Contains(f.Label, "_") || strings.Contains(f.Object, "_") {
				t.Errorf("%s: %s is named with a raw key: %q", typ.WebhookType, raw.Path, f.Title())
			}
			switch f.Kind {
			case Money:
				cur, ok := s.Field(typ.WebhookType, f.Currency)
				if !ok || cur.Kind != Enum {
					t.Errorf("%s: %s: currency field %q is not a currency of the type", typ.WebhookType, f.Path, f.Currency)
				}
			case Enum:
				if s, isStr := raw.Example.(string); isStr && !slices.Contains(f.Values, s) {
					t.Errorf("%s: %s: example value %q is not one of %v", typ.WebhookType, f.Path, s, f.Values)
				}
			}
		}
	}
	if total < 3000 {
		t.Fatalf("only %d fields checked", total)
	}
	for key := range enums {
		if !used(s, key) {
			t.Errorf("enum entry %q matches no field of any type", key)
		}
	}
}

// used reports whether a (possibly object-qualified) key names a field.
func used(s *Schema, key string) bool {
	for _, fs := range s.fields {
		for _, f := range fs {
			if strings.HasSuffix("."+f.Path, "."+key) {
				return true
			}
		}
	}
	return false
}

func TestInvoiceTotalInWords(t *testing.T) {
	_, s := schema(t)
	f, ok := s.Field("invoice.created", "invoice.total_amount_cents")
	if !ok {
		t.Fatal("no invoice.total_amount_cents")
	}
	if f.Title() != "Invoice › Total amount" || f.Kind != Money || f.Currency != "invoice.currency" {
		t.Fatalf("got %q %s %q", f.Title(), f.Kind, f.Currency)
	}
	fee, _ := s.Field("fee.created", "fee.amount_cents")
	if fee.Currency != "fee.amount_currency" {
		t.Fatalf("fee amount's currency is %q", fee.Currency)
	}
	st, _ := s.Field("invoice.created", "invoice.status")
	if st.Kind != Enum || !slices.Contains(st.Values, "finalized") {
		t.Fatalf("invoice status: %+v", st)
	}
}

// Decimals agrees with the money formatting of templates for every
// currency the builder offers.
func TestDecimalsAgreeWithMoney(t *testing.T) {
	for _, code := range Currencies() {
		got, err := render.Money(1, code)
		if err != nil {
			t.Fatal(err)
		}
		want := "1"
		if d := Decimals(code); d > 0 {
			want = "0." + strings.Repeat("0", d-1) + "1"
		}
		if !strings.HasSuffix(got, want) {
			t.Errorf("%s: Money(1) is %q, Decimals says %d", code, got, Decimals(code))
		}
	}
}

func TestToCentsAndBack(t *testing.T) {
	for _, c := range []struct {
		in   string
		dec  int
		want int64
		back string
	}{
		{"5,000.00", 2, 500000, "5,000.00"},
		{"5000", 2, 500000, "5,000.00"},
		{"12.5", 2, 1250, "12.50"},
		{"1 200", 0, 1200, "1,200"},
		{"1.234", 3, 1234, "1.234"},
		{"0.05", 2, 5, "0.05"},
		{"-3", 2, -300, "-3.00"},
	} {
		got, err := ToCents(c.in, c.dec)
		if err != nil || got != c.want {
			t.Errorf("ToCents(%q, %d) = %d, %v; want %d", c.in, c.dec, got, err, c.want)
		}
		if b := FromCents(got, c.dec); b != c.back {
			t.Errorf("FromCents(%d, %d) = %q, want %q", got, c.dec, b, c.back)
		}
	}
	for _, bad := range []string{"", "abc", "1.234", "5.0.0", "1e5"} {
		if _, err := ToCents(bad, 2); err == nil {
			t.Errorf("ToCents(%q) accepted", bad)
		}
	}
	if _, err := ToCents("10.5", 0); err == nil {
		t.Error("a JPY amount with decimals was accepted")
	}
}

func ExampleSchema_Field() {
	c, _ := lago.Load()
	f, _ := New(c).Field("invoice.created", "invoice.customer.email")
	fmt.Println(f.Title(), "—", f.Kind)
	// Output: Invoice › Customer › Email — text
}
