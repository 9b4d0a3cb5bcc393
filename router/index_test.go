package router

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/wiring"
)

// naiveMatch evaluates every enabled rule: the reference the index must
// agree with.
func naiveMatch(rs *Ruleset, data map[string]any) []string {
	var out []string
	for _, r := range rs.Rules {
		if !r.Enabled {
			continue
		}
		cond, err := compileCondition(r.When, exprOptions(time.Now))
		if err != nil {
			panic(err)
		}
		if ok, err := cond.eval(data); err == nil && ok {
			out = append(out, r.Name)
		}
	}
	return out
}

// genRules writes n random rules mixing indexable shapes (==, in,
// startsWith, ||, field == literal taken from the fixtures) with
// conditions the index cannot use.
func genRules(t testing.TB, rnd *rand.Rand, n int, fixtures []map[string]any, types []string) string {
	t.Helper()
	pickType := func() string { return types[rnd.IntN(len(types))] }
	// Values from the fixtures, so that field rules do match sometimes.
	type fv struct {
		path string
		val  any
	}
	var values []fv
	for _, f := range fixtures {
		objKey, _ := f["object_type"].(string)
		obj, _ := f[objKey].(map[string]any)
		for k, v := range obj {
			switch v.(type) {
			case string, float64:
				values = append(values, fv{objKey + "." + k, v})
			}
		}
	}
	lit := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	var b strings.Builder
	b.WriteString("channels:\n  ops:\n    slack: {token: x, channel: \"#ops\"}\nrules:\n")
	for i := range n {
		var when string
		val := values[rnd.IntN(len(values))]
		switch rnd.IntN(9) {
		case 0:
			when = fmt.Sprintf(`webhook_type == %q`, pickType())
		case 1:
			when = fmt.Sprintf(`webhook_type in [%q, %q] && %s == %s`, pickType(), pickType(), val.path, lit(val.val))
		case 2:
			when = fmt.Sprintf(`webhook_type startsWith %q`, strings.SplitN(pickType(), ".", 2)[0]+".")
		case 3:
			when = fmt.Sprintf(`(webhook_type == %q || webhook_type == %q) && organization_id != ""`, pickType(), pickType())
		case 4, 5:
			when = fmt.Sprintf(`webhook_type == %q && %s == %s`, pickType(), val.path, lit(val.val))
			if rnd.IntN(2) == 0 {
				when = fmt.Sprintf(`%s == %s && webhook_type == %q`, val.path, lit(val.val), pickType())
			}
		case 6:
			when = fmt.Sprintf(`%s == %s`, val.path, lit(val.val)) // no pin: always evaluated
		case 7:
			when = fmt.Sprintf(`webhook_type == %q || %s == %s`, pickType(), val.path, lit(val.val))
		case 8:
			when = fmt.Sprintf(`%q == webhook_type && %s?.lago_id != nil`, pickType(), strings.SplitN(val.path, ".", 2)[0])
		}
		enabled := ""
		if rnd.IntN(20) == 0 {
			enabled = "    enabled: false\n"
		}
		fmt.Fprintf(&b, "  - name: r%d\n%s    when: %s\n    send: [{to: ops, message: x}]\n", i, enabled, fmt.Sprintf("%q", when))
	}
	return b.String()
}

// TestIndexMatchesNaiveLoop is the property the index must keep: over every
// fixture and thousands of generated rules, the rules it matches are
// exactly those a naive loop over every rule matches.
func TestIndexMatchesNaiveLoop(t *testing.T) {
	catalog := mustCatalog(t)
	var fixtures []map[string]any
	var types []string
	for _, typ := range catalog.Types() {
		types = append(types, typ.WebhookType)
		_, data := fixture(t, typ.WebhookType)
		fixtures = append(fixtures, data)
	}
	types = append(types, "custom.event") // not in the catalog
	seed := uint64(rand.Uint32())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(genRules(t, rnd, 3000, fixtures, types)), 0o644); err != nil {
		t.Fatal(err)
	}
	rs := mustLoad(t, LoadOptions{Builder: wiring.Builder{}, RulesPath: path, TemplatesDir: dir, Env: testEnv(nil)})
	extra := []map[string]any{
		{"webhook_type": "custom.event", "organization_id": "x"},
		{"webhook_type": 42.0},
		{"no_type": true},
	}
	total := 0
	for i, data := range append(fixtures, extra...) {
		d := map[string]any{}
		for k, v := range data {
			d[k] = v
		}
		got := rs.Route(&Message{ID: "m", Source: "lago", Data: d}).Matched
		want := naiveMatch(rs, d)
		if !slices.Equal(got, want) {
			t.Fatalf("message %d (%v): index matched %v, naive loop %v", i, d["webhook_type"], got, want)
		}
		total += len(got)
	}
	if total == 0 {
		t.Fatal("no generated rule matched anything: the property is vacuous")
	}
	t.Logf("%d matches over %d messages", total, len(fixtures)+len(extra))
}

// TestIndexSkipsUnrelatedRules checks the index actually narrows: with
// per-customer rules, a message is evaluated against its own few.
func TestIndexSkipsUnrelatedRules(t *testing.T) {
	var b strings.Builder
	b.WriteString("channels:\n  ops:\n    slack: {token: x, channel: \"#ops\"}\nrules:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  - name: c%d\n    when: webhook_type == \"invoice.created\" && invoice.customer.external_id == \"cust_%d\"\n    send: [{to: ops}]\n", i, i)
	}
	b.WriteString("  - name: any-wallet\n    when: webhook_type startsWith \"wallet.\"\n    send: [{to: ops}]\n")
	b.WriteString("  - name: unindexed\n    when: organization_id != \"\"\n    send: [{to: ops}]\n")
	rs := mustLoad(t, writeConfig(t, b.String(), nil))
	c := rs.index.candidates(map[string]any{"webhook_type": "invoice.created", "invoice": map[string]any{"customer": map[string]any{"external_id": "cust_7"}}}, nil)
	if len(c) != 2 || rs.Rules[c[0]].Name != "c7" || rs.Rules[c[1]].Name != "unindexed" {
		t.Fatalf("candidates %v", c)
	}
	c = rs.index.candidates(map[string]any{"webhook_type": "wallet.created"}, nil)
	if len(c) != 2 || rs.Rules[c[0]].Name != "any-wallet" {
		t.Fatalf("candidates %v", c)
	}
}

// TestCompileForSkipsOnlyWhatCannotFail checks the conditions serving
// leaves without a program (the index matches them on its own): each one
// compiles without error, so skipping the compilation hides nothing.
func TestCompileForSkipsOnlyWhatCannotFail(t *testing.T) {
	x := newExprCompiler(exprOptions(time.Now))
	cases := map[string]bool{ // condition → left without a program
		`webhook_type == "invoice.created"`:                                    true,
		`webhook_type == "invoice.created" && invoice.lago_id == "x"`:          true,
		`"invoice.created" == webhook_type && invoice.total_amount_cents == 5`: true,
		`webhook_type in ["a", "b"] && customer.external_id == "c"`:            true,
		`(webhook_type == "a" || webhook_type == "b") && $env.x == 1.5`:        true,
		`webhook_type startsWith "invoice." && invoice?.number == "n"`:         true,
		`webhook_type == "a" && object_type.x == "b"`:                          false,
		`webhook_type == "a" && organization_id.x == "b"`:                      false,
		`webhook_type == "a" && len.x == "b"`:                                  false,
		`webhook_type == "a" && hours_since.x == "b"`:                          false,
		`webhook_type == 5`: false,
		`webhook_type == "a" && invoice.total_amount_cents > 5`:                      false,
		`webhook_type == "a" && invoice.lago_id == "x" && invoice.number == "y"`:     false,
		`webhook_type == "a" && nosuch(invoice)`:                                     false,
		`webhook_type == "a" &&`:                                                     false,
		`invoice.lago_id == "x"`:                                                     false,
		`webhook_type == "a" && meta.source == "lago"`:                               false,
		`webhook_type == "a" && invoice.lago_id == "x" && webhook_type == "a"`:       false,
		`webhook_type == "a" && invoice.fees[0].amount_cents == 5`:                   false,
		`webhook_type == "invoice.created" && invoice["lago_id"] == "x"`:             true,
		`webhook_type == "invoice.created" && invoice.customer.metadata.k == "v"`:    true,
		`webhook_type == "invoice.created" && invoice.customer.metadata.k == -1`:     false,
		`webhook_type == "invoice.created" && invoice.customer.metadata.k == "\x41"`: true,
	}
	for src, skipped := range cases {
		cond, err := x.compileFor(src, false)
		if got := err == nil && cond.program == nil; got != skipped {
			t.Errorf("%s: left without a program: %v, want %v (error %v)", src, got, skipped, err)
		}
		full, ferr := x.compile(src)
		if skipped && (ferr != nil || full.program == nil) {
			t.Errorf("%s: left without a program, but compiling it says %v", src, ferr)
		}
		if !skipped && (err == nil) != (ferr == nil) {
			t.Errorf("%s: compileFor says %v, compile %v", src, err, ferr)
		}
	}
}
