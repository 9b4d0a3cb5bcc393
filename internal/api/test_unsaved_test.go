package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestUnsavedRule(t *testing.T) {
	s := newServer(t, original, nil)
	rule := map[string]any{
		"name": "draft", "when": `webhook_type == "invoice.created" && invoice.total_amount_cents >= 100000`,
		"send": sends("ops", "Invoice {{ .invoice.number }}: {{ .invoice.total_amount_cents }} cents"),
	}
	invoice := func(cents int) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"webhook_type": "invoice.created",
			"invoice": map[string]any{"number": "INV-0042", "total_amount_cents": cents}})
		return b
	}
	cases := []struct {
		name        string
		message     json.RawMessage
		wantMatch   bool
		wantText    string
		wantFalse   string // the conjunct that is false
		wantResults []bool
	}{
		{name: "matches", message: invoice(150000), wantMatch: true, wantText: "Invoice INV-0042: 150000 cents",
			wantResults: []bool{true, true}},
		{name: "does not match", message: invoice(500), wantFalse: "invoice.total_amount_cents >= 100000",
			wantResults: []bool{true, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do("POST", "/api/v1/test", "", map[string]any{"message": c.message, "rule": rule})
			if r.code != http.StatusOK {
				t.Fatalf("POST /api/v1/test = %d %s", r.code, r.body)
			}
			var res TestResult
			r.decode(t, &res)
			// Only the unsaved rule is evaluated; the file's rules are not.
			if len(res.Explain) != 1 || res.Explain[0].Rule != "draft" {
				t.Fatalf("explain = %+v, want the draft rule only", res.Explain)
			}
			e := res.Explain[0]
			if e.Matched != c.wantMatch || len(e.Parts) != len(c.wantResults) {
				t.Fatalf("explain = %+v", e)
			}
			for i, want := range c.wantResults {
				if e.Parts[i].Result == nil || *e.Parts[i].Result != want {
					t.Errorf("condition %q = %v, want %v", e.Parts[i].Expr, e.Parts[i].Result, want)
				}
				if !want && e.Parts[i].Expr != c.wantFalse {
					t.Errorf("false condition = %q, want %q", e.Parts[i].Expr, c.wantFalse)
				}
			}
			if !c.wantMatch {
				if len(res.Matches) != 0 {
					t.Errorf("matches = %+v, want none", res.Matches)
				}
				return
			}
			if len(res.Matches) != 1 || res.Matches[0].Rule != "draft" || len(res.Matches[0].Deliveries) != 1 {
				t.Fatalf("matches = %+v", res.Matches)
			}
			d := res.Matches[0].Deliveries[0]
			if d.To != "ops" || d.ChannelType != "slack" || d.Parts["text"] != c.wantText {
				t.Errorf("delivery = %+v, want slack text %q", d, c.wantText)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		bad := map[string]any{"name": "draft", "when": "invoice.total_amount_cents >=", "send": sends("ops", "x")}
		r := s.do("POST", "/api/v1/test", "", map[string]any{"message": invoice(1), "rule": bad})
		var out struct {
			Errors []ErrorDetail `json:"errors"`
		}
		r.decode(t, &out)
		if r.code != http.StatusUnprocessableEntity || len(out.Errors) == 0 || out.Errors[0].Rule != "draft" ||
			out.Errors[0].Field != "when" || out.Errors[0].Line == 0 {
			t.Errorf("POST /api/v1/test with a broken rule = %d %s, want 422 with the when error", r.code, r.body)
		}
	})
	t.Run("saved rules without a rule", func(t *testing.T) {
		var res TestResult
		s.do("POST", "/api/v1/test", "", map[string]any{"message": invoice(150000)}).decode(t, &res)
		if len(res.Explain) != 3 || len(res.Matches) != 1 || res.Matches[0].Rule != "big-invoice" {
			t.Errorf("test of the saved rules = %+v", res)
		}
	})
	if s.file() != original {
		t.Error("testing a rule changed the rules file")
	}
	assertNoTempFiles(t, s)
	if h, err := s.store.History(ctxT(t), 10); err != nil || len(h) != 0 {
		t.Errorf("history = %+v, %v; want nothing", h, err)
	}
}

// TestUnsavedRuleTemplateBombs: the test endpoint compiles and renders
// whatever an editor sends. A template that blows the render budget on
// any message is refused with 422; one that blows it on this message
// fails that delivery with the reason. The server keeps answering.
func TestUnsavedRuleTemplateBombs(t *testing.T) {
	s := newServer(t, original, nil)
	msg := json.RawMessage(`{"webhook_type": "wallet.depleted_ongoing_balance", "wallet": {"name": "ab"}}`)
	cases := []struct {
		name, template string
		wantCode       int
		want           string
	}{
		{"string doubling", `{{ $s := "x" }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}{{ len $s }}`,
			http.StatusUnprocessableEntity, "intermediate values would exceed 32 MiB"},
		{"three nested ranges", `{{ range until 10000 }}{{ range until 10000 }}{{ range until 10000 }}{{ end }}{{ end }}{{ end }}`,
			http.StatusUnprocessableEntity, "render budget exceeded"},
		{"doubling a value of the message", `{{ $s := .wallet.name }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}{{ len $s }}`,
			http.StatusOK, "intermediate values would exceed 32 MiB"},
		{"ranges as long as the message says", `{{ $n := mul (len .wallet.name) 5000 }}{{ range until $n }}{{ range until $n }}{{ range until $n }}{{ end }}{{ end }}{{ end }}`,
			http.StatusOK, "render budget exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rule := map[string]any{"name": "bomb", "when": "true", "send": sends("ops", c.template)}
			r := s.do("POST", "/api/v1/test", "", map[string]any{"message": msg, "rule": rule})
			if r.code != c.wantCode || !strings.Contains(string(r.body), c.want) {
				t.Fatalf("POST /api/v1/test = %d %s; want %d with %q", r.code, r.body, c.wantCode, c.want)
			}
			if r.code == http.StatusOK {
				var res TestResult
				r.decode(t, &res)
				if len(res.Matches) != 1 || len(res.Matches[0].Deliveries) != 1 || !strings.Contains(res.Matches[0].Deliveries[0].Error, c.want) {
					t.Errorf("result = %+v; want the delivery failed with the budget", res)
				}
			}
		})
	}
	// The process is alive and renders the next message.
	rule := map[string]any{"name": "ok", "when": "true", "send": sends("ops", "wallet {{ .wallet.name }}")}
	if r := s.do("POST", "/api/v1/test", "", map[string]any{"message": msg, "rule": rule}); r.code != http.StatusOK || !strings.Contains(string(r.body), "wallet ab") {
		t.Errorf("after the bombs: %d %s", r.code, r.body)
	}
}
