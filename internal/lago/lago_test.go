package lago_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/testkit"
)

// referenceDir holds Lago's own example payloads, which the fixtures copy the
// shapes of but must not copy the IDs of.
const referenceDir = "../../../shared/lago/examples"

// uuidLike matches the 8-4-4-4-12 shape of the IDs in Lago payloads; the
// reference examples contain some that are not valid hex, so any letter counts.
var uuidLike = regexp.MustCompile(`^[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}$`)

func mustLoad(t *testing.T) *lago.Catalog {
	t.Helper()
	c, err := lago.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoad(t *testing.T) {
	c := mustLoad(t)
	types := c.Types()
	if len(types) != 76 {
		t.Fatalf("%d types, want 76", len(types))
	}

	// Catalog order is the order of testdata/catalog.json.
	raw, err := os.ReadFile("testdata/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	var file []lago.Type
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types, file) {
		t.Fatalf("Types() differs from testdata/catalog.json")
	}
	if types[0].WebhookType != "alert.triggered" || types[75].WebhookType != "wallet_transaction.updated" {
		t.Errorf("first %q, last %q", types[0].WebhookType, types[75].WebhookType)
	}

	groups := []string{"Alerts", "Billable metrics", "Credit notes", "Customers", "Dunning", "Events", "Features",
		"Fees", "Integrations", "Invoices", "Payment receipts", "Payment requests", "Payments", "Plans",
		"Quotes and orders", "Subscriptions", "Wallets"}
	for _, typ := range types {
		if !slices.Contains(groups, typ.Group) {
			t.Errorf("%s: group %q", typ.WebhookType, typ.Group)
		}
		got, ok := c.Type(typ.WebhookType)
		if !ok || got != typ {
			t.Errorf("Type(%q) = %+v, %v", typ.WebhookType, got, ok)
		}
	}

	tests := []struct {
		webhookType string
		want        lago.Type
	}{
		{"invoice.created", lago.Type{WebhookType: "invoice.created", ObjectType: "invoice", ObjectKey: "invoice",
			Summary: "A new invoice has been emitted", Group: "Invoices"}},
		{"event.error", lago.Type{WebhookType: "event.error", ObjectType: "event_error", ObjectKey: "event_error",
			Summary: "An error has been detected on an event", Deprecated: true, Group: "Events"}},
		{"credit_note.refund_failure", lago.Type{WebhookType: "credit_note.refund_failure",
			ObjectType: "credit_note_payment_provider_refund_error", ObjectKey: "credit_note_payment_provider_refund_error",
			Group: "Credit notes"}},
	}
	for _, tt := range tests {
		t.Run(tt.webhookType, func(t *testing.T) {
			got, ok := c.Type(tt.webhookType)
			if !ok {
				t.Fatal("not found")
			}
			if tt.want.Summary == "" {
				tt.want.Summary = got.Summary
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, ok := c.Type("invoice.exploded"); ok {
		t.Error("Type found an unknown type")
	}

	// Types returns a copy.
	types[0].WebhookType = "changed"
	if c.Types()[0].WebhookType != "alert.triggered" {
		t.Error("Types() exposes the catalog's slice")
	}
}

// TestCatalogMatchesReference checks that the catalog keeps the facts and the
// order of the reference catalog it was derived from.
func TestCatalogMatchesReference(t *testing.T) {
	raw, err := os.ReadFile(testkit.RequireShared(t, "../../../shared/lago/catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref []lago.Type
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	got := mustLoad(t).Types()
	if len(got) != len(ref) {
		t.Fatalf("%d types, reference has %d", len(got), len(ref))
	}
	for i := range ref {
		g, r := got[i], ref[i]
		if g.WebhookType != r.WebhookType || g.ObjectType != r.ObjectType || g.ObjectKey != r.ObjectKey ||
			g.Deprecated != r.Deprecated {
			t.Errorf("entry %d: %+v, reference %+v", i, g, r)
		}
	}
}

func TestFixtures(t *testing.T) {
	c := mustLoad(t)
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []string
	for _, e := range entries {
		if e.IsDir() || e.Name() == "catalog.json" {
			continue
		}
		fixtures = append(fixtures, e.Name())
	}
	var want []string
	for _, typ := range c.Types() {
		want = append(want, typ.WebhookType+".json")
	}
	slices.Sort(want)
	if !slices.Equal(fixtures, want) { // ReadDir sorts by name
		t.Fatalf("fixtures and catalog differ:\nextra %v\nmissing %v", diff(fixtures, want), diff(want, fixtures))
	}

	for _, typ := range c.Types() {
		t.Run(typ.WebhookType, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", typ.WebhookType+".json"))
			if err != nil {
				t.Fatal(err)
			}
			ex, ok := c.Example(typ.WebhookType)
			if !ok || !bytes.Equal(ex, raw) {
				t.Fatalf("Example differs from the file (ok=%v)", ok)
			}
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("not a JSON object: %v", err)
			}
			if doc["webhook_type"] != typ.WebhookType {
				t.Errorf("webhook_type %v", doc["webhook_type"])
			}
			if doc["object_type"] != typ.ObjectType {
				t.Errorf("object_type %v, catalog %q", doc["object_type"], typ.ObjectType)
			}
			if id, _ := doc["organization_id"].(string); !uuidLike.MatchString(id) {
				t.Errorf("organization_id %v", doc["organization_id"])
			}
			obj, ok := doc[typ.ObjectKey].(map[string]any)
			if !ok || len(obj) == 0 {
				t.Fatalf("no object under %q", typ.ObjectKey)
			}
			if len(doc) != 4 {
				t.Errorf("envelope has %d keys, want webhook_type, object_type, organization_id and %s", len(doc), typ.ObjectKey)
			}
		})
	}

	if _, ok := c.Example("invoice.exploded"); ok {
		t.Error("Example found an unknown type")
	}
}

// TestFixtureContent checks the examples that the example rules and the
// router's tests rely on.
func TestFixtureContent(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		webhookType string
		path        string
		check       func(v any) bool
		want        string
	}{
		{"invoice.created", "invoice.total_amount_cents", func(v any) bool { f, _ := v.(float64); return f >= 1000000 }, ">= 1000000"},
		{"invoice.created", "invoice.currency", func(v any) bool { return v == "USD" }, "USD"},
		{"invoice.created", "invoice.customer.email", func(v any) bool { s, _ := v.(string); return strings.HasSuffix(s, "@example.com") }, "an @example.com address"},
		{"wallet.depleted_ongoing_balance", "wallet.external_customer_id", func(v any) bool { s, _ := v.(string); return s != "" }, "non-empty"},
		{"wallet.depleted_ongoing_balance", "wallet.ongoing_balance_cents", func(v any) bool { return v == 0.0 }, "0"},
		{"subscription.terminated", "subscription.status", func(v any) bool { return v == "terminated" }, "terminated"},
		{"invoice.payment_overdue", "invoice.payment_overdue", func(v any) bool { return v == true }, "true"},
		{"invoice.paid_credit_added", "invoice.currency", func(v any) bool { return v == "JPY" }, "JPY (a zero-decimal currency)"},
	}
	for _, tt := range tests {
		t.Run(tt.webhookType+"/"+tt.path, func(t *testing.T) {
			raw, _ := c.Example(tt.webhookType)
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			var v any = doc
			for _, k := range strings.Split(tt.path, ".") {
				m, _ := v.(map[string]any)
				v = m[k]
			}
			if !tt.check(v) {
				t.Errorf("%s = %v, want %s", tt.path, v, tt.want)
			}
		})
	}

	// The invoice amounts add up.
	raw, _ := c.Example("invoice.created")
	var doc struct {
		Invoice struct {
			Fees     float64 `json:"fees_amount_cents"`
			Coupons  float64 `json:"coupons_amount_cents"`
			Taxes    float64 `json:"taxes_amount_cents"`
			Credits  float64 `json:"credit_notes_amount_cents"`
			Prepaid  float64 `json:"prepaid_credit_amount_cents"`
			Total    float64 `json:"total_amount_cents"`
			FeeItems []struct {
				Amount float64 `json:"amount_cents"`
			} `json:"fees"`
		} `json:"invoice"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	inv := doc.Invoice
	var sum float64
	for _, f := range inv.FeeItems {
		sum += f.Amount
	}
	if sum != inv.Fees || inv.Fees-inv.Coupons+inv.Taxes-inv.Credits-inv.Prepaid != inv.Total {
		t.Errorf("invoice.created amounts do not add up: %+v", inv)
	}
}

// TestFixturesUseFakeIDs checks that no fixture reuses an ID of Lago's
// reference examples.
func TestFixturesUseFakeIDs(t *testing.T) {
	testkit.RequireShared(t, referenceDir)
	refIDs := map[string]bool{}
	walkJSON(t, referenceDir, func(_, s string) {
		if len(s) > 8 && uuidLike.MatchString(s) {
			refIDs[s] = true
		}
	})
	if len(refIDs) < 10 {
		t.Fatalf("only %d IDs in the reference examples: wrong directory?", len(refIDs))
	}
	ids := 0
	walkJSON(t, "testdata", func(file, s string) {
		if uuidLike.MatchString(s) {
			ids++
		}
		for id := range refIDs {
			if strings.Contains(s, id) {
				t.Errorf("%s: %q contains the reference ID %s", file, s, id)
			}
		}
	})
	if ids < 500 {
		t.Errorf("only %d IDs in the fixtures", ids)
	}
}

// walkJSON calls fn with every string value of every .json file under dir.
func walkJSON(t *testing.T, dir string, fn func(file, s string)) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for _, c := range x {
					walk(c)
				}
			case []any:
				for _, c := range x {
					walk(c)
				}
			case string:
				fn(p, x)
			}
		}
		walk(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVariants(t *testing.T) {
	c := mustLoad(t)
	entries, err := os.ReadDir("testdata/variants")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no variants")
	}
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata/variants", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("not a JSON object: %v", err)
			}
			wt, _ := doc["webhook_type"].(string)
			if _, ok := c.Type(wt); !ok || !strings.HasPrefix(e.Name(), wt+".") {
				t.Errorf("webhook_type %q does not match the file name", wt)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	c := mustLoad(t)
	tests := []struct {
		name        string
		webhookType string
		path        string
		want        lago.PathStatus
	}{
		{"field", "invoice.created", "invoice.total_amount_cents", lago.Exists},
		{"typo", "invoice.created", "invoice.total_amout_cents", lago.Missing},
		{"object", "invoice.created", "invoice.customer", lago.Exists},
		{"nested field", "invoice.created", "invoice.customer.billing_configuration.payment_provider", lago.Exists},
		{"nested typo", "invoice.created", "invoice.customer.emial", lago.Missing},
		{"top-level typo", "invoice.created", "invoce.number", lago.Missing},
		{"object of another type", "invoice.created", "wallet.balance_cents", lago.Missing},
		{"below a string", "invoice.created", "invoice.number.prefix", lago.Missing},
		{"below a number", "invoice.created", "invoice.total_amount_cents.value", lago.Missing},
		{"null leaf", "invoice.created", "invoice.customer.address_line2", lago.Exists},
		{"through null", "invoice.created", "invoice.customer.address_line2.street", lago.Unknown},
		{"through null at the top", "alert.triggered", "triggered_alert.lago_wallet_id.x", lago.Unknown},
		{"array", "invoice.created", "invoice.fees", lago.Exists},
		{"through array", "invoice.created", "invoice.fees.amount_cents", lago.Unknown},
		{"array element", "invoice.created", "invoice.fees.0.amount_cents", lago.Unknown},
		{"metadata object", "credit_note.created", "credit_note.metadata", lago.Exists},
		{"below metadata object", "credit_note.created", "credit_note.metadata.zendesk_ticket", lago.Unknown},
		{"below metadata object, known key", "credit_note.created", "credit_note.metadata.external_id", lago.Unknown},
		{"below metadata array", "invoice.created", "invoice.customer.metadata.key", lago.Unknown},
		{"below wallet metadata", "wallet.depleted_ongoing_balance", "wallet.metadata.anything", lago.Unknown},
		{"event properties", "event.error", "event_error.event.properties.region", lago.Unknown},
		{"empty object", "fee.created", "fee.item.grouped_by.region", lago.Unknown},
		{"provider action", "payment.requires_action", "payment.next_action.use_stripe_sdk", lago.Unknown},
		{"wallet customer", "wallet.depleted_ongoing_balance", "wallet.external_customer_id", lago.Exists},
		{"subscription plan", "subscription.terminated", "subscription.plan.name", lago.Exists},
		{"error object", "invoice.payment_failure", "payment_provider_invoice_payment_error.provider_error.message", lago.Exists},
		{"unknown type", "invoice.exploded", "invoice.total_amount_cents", lago.Unknown},
		{"unknown type, envelope", "invoice.exploded", "webhook_type", lago.Unknown},
		{"empty path", "invoice.created", "", lago.Unknown},
		{"envelope webhook_type", "invoice.created", "webhook_type", lago.Exists},
		{"envelope object_type", "customer.created", "object_type", lago.Exists},
		{"envelope organization_id", "events.errors", "organization_id", lago.Exists},
		{"envelope on a type with an older shape", "invoice.generated", "organization_id", lago.Exists},
		{"below the envelope", "invoice.created", "webhook_type.name", lago.Missing},
		// Older shapes from Lago's documentation count too.
		{"older field", "invoice.created", "invoice.vat_amount_cents", lago.Exists},
		{"older field, type without that shape", "invoice.voided", "invoice.vat_amount_cents", lago.Missing},
		{"older key in an error object", "credit_note.refund_failure", "credit_note_payment_provider_refund_error.provider_error.code", lago.Exists},
		{"current key in an error object", "credit_note.refund_failure", "credit_note_payment_provider_refund_error.provider_error.error_code", lago.Exists},
		{"older object", "event.error", "event_error.input_params", lago.Exists},
		{"typo missing from every shape", "credit_note.created", "credit_note.totl_amount_cents", lago.Missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path []string
			if tt.path != "" {
				path = strings.Split(tt.path, ".")
			}
			if got := c.Lookup(tt.webhookType, path); got != tt.want {
				t.Errorf("Lookup(%q, %q) = %v, want %v", tt.webhookType, tt.path, got, tt.want)
			}
		})
	}
}

func TestFields(t *testing.T) {
	c := mustLoad(t)

	fields := c.Fields("invoice.created")
	want := map[string]lago.Field{
		"invoice.total_amount_cents":     {Path: "invoice.total_amount_cents", Kind: "number"},
		"invoice.number":                 {Path: "invoice.number", Kind: "string"},
		"invoice.payment_overdue":        {Path: "invoice.payment_overdue", Kind: "bool", Example: false},
		"invoice.customer":               {Path: "invoice.customer", Kind: "object"},
		"invoice.customer.email":         {Path: "invoice.customer.email", Kind: "string"},
		"invoice.customer.address_line2": {Path: "invoice.customer.address_line2", Kind: "null"},
		"invoice.fees":                   {Path: "invoice.fees", Kind: "array"},
	}
	found := map[string]lago.Field{}
	for _, f := range fields {
		found[f.Path] = f
	}
	for p, w := range want {
		t.Run(p, func(t *testing.T) {
			f, ok := found[p]
			if !ok {
				t.Fatal("not listed")
			}
			if f.Kind != w.Kind {
				t.Errorf("kind %q, want %q", f.Kind, w.Kind)
			}
			switch w.Kind {
			case "object", "array", "null":
				if f.Example != nil {
					t.Errorf("example %v, want nil", f.Example)
				}
			case "bool":
				if f.Example != w.Example {
					t.Errorf("example %v, want %v", f.Example, w.Example)
				}
			}
		})
	}
	if v, _ := found["invoice.total_amount_cents"].Example.(float64); v < 1000000 {
		t.Errorf("invoice.total_amount_cents example %v", found["invoice.total_amount_cents"].Example)
	}
	if v, _ := found["invoice.number"].Example.(string); !strings.HasPrefix(v, "ACME-") {
		t.Errorf("invoice.number example %v", found["invoice.number"].Example)
	}
	if got := []string{fields[0].Path, fields[1].Path, fields[2].Path, fields[3].Path}; !slices.Equal(got,
		[]string{"webhook_type", "object_type", "organization_id", "invoice"}) {
		t.Errorf("fields start with %v, want the envelope in document order", got)
	}
	for _, p := range []string{"invoice.customer.metadata.key", "credit_note.metadata.external_id"} {
		if _, ok := found[p]; ok {
			t.Errorf("%s listed", p)
		}
	}

	// For every type: every field exists for Lookup, nothing inside arrays or
	// free-form maps, no duplicates.
	for _, typ := range c.Types() {
		t.Run("all/"+typ.WebhookType, func(t *testing.T) {
			fields := c.Fields(typ.WebhookType)
			if len(fields) < 4 {
				t.Fatalf("%d fields", len(fields))
			}
			seen := map[string]bool{}
			var arrays []string
			for _, f := range fields {
				if seen[f.Path] {
					t.Errorf("%s listed twice", f.Path)
				}
				seen[f.Path] = true
				if st := c.Lookup(typ.WebhookType, strings.Split(f.Path, ".")); st != lago.Exists {
					t.Errorf("%s: Lookup = %v", f.Path, st)
				}
				if !slices.Contains([]string{"string", "numeric string", "number", "bool", "object", "array", "null"}, f.Kind) {
					t.Errorf("%s: kind %q", f.Path, f.Kind)
				}
				for _, a := range arrays {
					if strings.HasPrefix(f.Path, a+".") {
						t.Errorf("%s is inside the array %s", f.Path, a)
					}
				}
				if f.Kind == "array" {
					arrays = append(arrays, f.Path)
				}
			}
			if !seen[typ.ObjectKey] {
				t.Errorf("object %q not listed", typ.ObjectKey)
			}
		})
	}

	if got := c.Fields("invoice.exploded"); got != nil {
		t.Errorf("Fields of an unknown type: %v", got)
	}
	fields[0].Path = "changed"
	if c.Fields("invoice.created")[0].Path != "webhook_type" {
		t.Error("Fields exposes the catalog's slice")
	}
}

func TestExampleIsACopy(t *testing.T) {
	c := mustLoad(t)
	a, _ := c.Example("invoice.created")
	orig := bytes.Clone(a)
	for i := range a {
		a[i] = 'x'
	}
	b, _ := c.Example("invoice.created")
	if !bytes.Equal(b, orig) {
		t.Error("changing a returned example changed the catalog")
	}
}

func TestPathStatusString(t *testing.T) {
	tests := []struct {
		s    lago.PathStatus
		want string
	}{
		{lago.Unknown, "unknown"},
		{lago.Exists, "exists"},
		{lago.Missing, "missing"},
		{lago.PathStatus(42), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestFieldsNumericStrings: Lago's decimal strings are offered as numeric
// strings, not as numbers (they are not JSON numbers) nor as plain text.
func TestFieldsNumericStrings(t *testing.T) {
	c := mustLoad(t)
	kinds := map[string]string{}
	for _, f := range c.Fields("alert.triggered") {
		kinds[f.Path] = f.Kind
	}
	for path, want := range map[string]string{
		"triggered_alert.current_value":  "numeric string",
		"triggered_alert.previous_value": "numeric string",
		"triggered_alert.alert_name":     "string",
		"triggered_alert.triggered_at":   "string",
	} {
		if kinds[path] != want {
			t.Errorf("%s: kind %q, want %q", path, kinds[path], want)
		}
	}
	for _, f := range c.Fields("invoice.created") {
		if f.Path == "invoice.total_amount_cents" && f.Kind != "number" {
			t.Errorf("%s: kind %q", f.Path, f.Kind)
		}
	}
}

// TestKindAgreesWithFields checks Kind against the Fields list of every
// type: the same kind for each listed path (the last entry of a path
// written twice), and "" for paths Fields does not list.
func TestKindAgreesWithFields(t *testing.T) {
	c, err := lago.Load()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, typ := range c.Types() {
		want := map[string]string{}
		for _, f := range c.Fields(typ.WebhookType) {
			want[f.Path] = f.Kind
		}
		for path, kind := range want {
			if got := c.Kind(typ.WebhookType, path); got != kind {
				t.Errorf("%s: Kind(%q) = %q, Fields say %q", typ.WebhookType, path, got, kind)
			}
			checked++
			for _, other := range []string{path + ".nope", path + "x", path + ".", "x" + path} {
				if _, listed := want[other]; !listed {
					if got := c.Kind(typ.WebhookType, other); got != "" {
						t.Errorf("%s: Kind(%q) = %q for a path Fields do not list", typ.WebhookType, other, got)
					}
				}
			}
		}
		for _, inside := range []string{typ.ObjectKey + ".metadata.anything", typ.ObjectKey + ".fees.amount_cents", ""} {
			if _, listed := want[inside]; !listed {
				if got := c.Kind(typ.WebhookType, inside); got != "" {
					t.Errorf("%s: Kind(%q) = %q for a path Fields do not list", typ.WebhookType, inside, got)
				}
			}
		}
	}
	if c.Kind("no.such_type", "invoice") != "" {
		t.Error("an unknown type has kinds")
	}
	if checked < 500 {
		t.Fatalf("only %d paths checked", checked)
	}
}
