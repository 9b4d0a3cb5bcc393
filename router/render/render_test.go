package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNow = time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)

func testOptions() Options {
	return Options{Now: func() time.Time { return testNow }}
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func mustRender(t testing.TB, src string, esc Escape, data any) string {
	t.Helper()
	tm, err := Parse("t", src, esc, testOptions())
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	out, err := tm.Execute(data)
	if err != nil {
		t.Fatalf("execute %q: %v", src, err)
	}
	return out
}

const invoiceData = `{
  "webhook_type": "invoice.created",
  "name": "plain string",
  "n": 3,
  "invoice": {
    "number": "INV-1",
    "total_amount_cents": 1500000,
    "currency": "USD",
    "rate": 0.125,
    "customer": null,
    "fees": [{"amount_cents": 100, "code": "seats"}, {"amount_cents": 250, "code": "storage"}],
    "tags": [],
    "created_at": "2024-03-05T12:34:56Z"
  }
}`

// meta is typed data the router may add beside the decoded JSON.
type meta struct {
	Source  string
	Labels  map[string]string
	Ptr     *meta
	private string
}

func (m meta) Upper() string              { return strings.ToUpper(m.Source) }
func (m meta) Greet(name string) string   { return "hello " + name }
func (m meta) Fails() (string, error)     { return "", errors.New("nope") }
func (m meta) TwoArgs(a, b string) string { return a + b }

// TestMissingDataRendersEmpty: missing and null fields, and chains through
// them or through values without fields, render as "" (never "<no value>"),
// while if/with/range/len/index/default behave as template authors expect.
func TestMissingDataRendersEmpty(t *testing.T) {
	data := decode(t, invoiceData)
	tests := []struct {
		name, src, want string
	}{
		{"missing top-level field", `[{{ .nope }}]`, "[]"},
		{"chain through a missing object", `[{{ .nope.customer.email }}]`, "[]"},
		{"chain through null", `[{{ .invoice.customer.email }}]`, "[]"},
		{"field of a string", `[{{ .name.first }}]`, "[]"},
		{"field of a number", `[{{ .n.x }}]`, "[]"},
		{"field of a list", `[{{ .invoice.fees.x }}]`, "[]"},
		{"variable chains", `{{ $i := .invoice }}{{ $i.number }}|{{ $i.nope.x }}|{{ $i.customer.email }}|`, "INV-1|||"},
		{"assigned missing variable", `{{ $x := .nope }}[{{ $x }}][{{ $x.a }}]`, "[][]"},
		{"root variable inside range", `{{ range .invoice.fees }}{{ $.invoice.number }}:{{ .amount_cents }} {{ end }}`, "INV-1:100 INV-1:250 "},
		{"range with index and element", `{{ range $i, $f := .invoice.fees }}{{ $i }}={{ $f.code }};{{ end }}`, "0=seats;1=storage;"},
		{"range over a missing list", `{{ range .nope.list }}x{{ else }}empty{{ end }}`, "empty"},
		{"range over an empty list", `{{ range .invoice.tags }}x{{ else }}none{{ end }}`, "none"},
		{"range over a JSON number", `{{ range $i := .n }}{{ $i }}{{ end }}`, "012"},
		{"if on null", `{{ if .invoice.customer }}yes{{ else }}no{{ end }}`, "no"},
		{"if on a present field", `{{ if .invoice.number }}yes{{ end }}`, "yes"},
		{"else if chain", `{{ if .nope }}a{{ else if .invoice.customer }}b{{ else if .invoice.number }}c{{ end }}`, "c"},
		{"with on missing", `{{ with .invoice.customer.email }}{{ . }}{{ else }}none{{ end }}`, "none"},
		{"with rebinding dot", `{{ with .invoice }}{{ .number }} {{ .currency }}{{ end }}`, "INV-1 USD"},
		{"len", `{{ len .invoice.fees }} {{ len .nope }} {{ len .invoice.tags }} {{ len .name }}`, "2 0 0 12"},
		{"index into a list", `{{ index .invoice.fees 1 "amount_cents" }} {{ (index .invoice.fees 0).code }}`, "250 seats"},
		{"index with a JSON number", `{{ index .invoice.fees (sub .n 2) "code" }}`, "storage"},
		{"index out of range and of nil", `[{{ index .invoice.fees 5 }}][{{ index .nope "a" }}][{{ (index .invoice.fees 9).code }}]`, "[][][]"},
		{"slice", `{{ slice .name 0 5 }}|{{ len (slice .invoice.fees 1) }}|[{{ slice .nope 1 }}]`, "plain|1|[]"},
		{"default receives nil", `{{ default "x" .missing }}|{{ .missing | default "y" }}|{{ .invoice.number | default "z" }}`, "x|y|INV-1"},
		{"nested default", `{{ .invoice.customer.name | default .invoice.customer.external_id | default "unknown" }}`, "unknown"},
		{"string function of nil", `[{{ .missing | upper }}][{{ trunc 3 .missing }}][{{ lower .invoice.number }}]`, "[][][inv-1]"},
		{"string function of a number", `{{ .invoice.total_amount_cents | printf "%s cents" }}|{{ upper .n }}`, "1500000 cents|3"},
		{"money, both argument orders", `{{ money .invoice.total_amount_cents .invoice.currency }} {{ .invoice.total_amount_cents | money .invoice.currency }}`, "$15,000.00 $15,000.00"},
		{"money of a missing amount", `[{{ money .nope "USD" }}][{{ .nope | money "EUR" }}]`, "[][]"},
		{"comparisons across number types", `{{ if gt .invoice.total_amount_cents 1000000 }}big{{ end }} {{ if eq .n 3 }}three{{ end }} {{ eq .n 3.0 }} {{ lt 2 .n }} {{ ge .n 3 }} {{ le .n 2 }}`, "big three true true true false"},
		{"comparisons with missing values", `{{ if gt .missing 5 }}x{{ else }}no{{ end }} {{ ne .missing nil }} {{ eq .missing nil }} {{ eq .n "3" }} {{ eq .invoice.number "x" "INV-1" }}`, "no false true false true"},
		{"and/or/not", `{{ and .invoice.number .nope }}|{{ or .nope .invoice.currency }}|{{ not .nope }}`, "|USD|true"},
		{"chain on a pipeline", `{{ (dict "a" (dict "b" "c")).a.b }}[{{ (dict "a" 1).a.b }}]`, "c[]"},
		{"method of a function result", `{{ now.Year }} {{ (toDate "2006-01-02" "2024-03-05").Month }}`, "2024 March"},
		{"nested template with missing data", `{{ define "x" }}<{{ .email }}>{{ end }}{{ template "x" .invoice.customer }}{{ template "x" .nope }}`, "<><>"},
		{"block with missing data", `{{ block "b" .invoice }}{{ .number }}{{ .nope.x }}{{ end }}`, "INV-1"},
		{"break and continue", `{{ range .invoice.fees }}{{ if eq .code "storage" }}{{ break }}{{ end }}{{ .code }}{{ continue }}x{{ end }}`, "seats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustRender(t, tt.src, Plain, data)
			if got != tt.want {
				t.Errorf("%s\n got %q\nwant %q", tt.src, got, tt.want)
			}
			if strings.Contains(got, "<no value>") {
				t.Errorf("rendered <no value>")
			}
		})
	}
}

// TestTypedData: lookups also go through map[string]string, exported
// struct fields, pointers and methods without arguments; methods with
// arguments are called as in plain text/template; unexported fields,
// failing methods and unknown names are empty.
func TestTypedData(t *testing.T) {
	m := meta{Source: "lago", Labels: map[string]string{"team": "billing"}, private: "secret"}
	m.Ptr = &meta{Source: "inner"}
	data := map[string]any{
		"Meta":   m,
		"MetaP":  &m,
		"labels": map[string]string{"env": "prod"},
		"Nil":    (*meta)(nil),
	}
	tests := []struct {
		name, src, want string
	}{
		{"struct field", `{{ .Meta.Source }}`, "lago"},
		{"map[string]string inside a struct", `{{ .Meta.Labels.team }}[{{ .Meta.Labels.nope }}]`, "billing[]"},
		{"map[string]string", `{{ .labels.env }}[{{ .labels.nope }}][{{ .labels.env.x }}]`, "prod[][]"},
		{"pointer to struct", `{{ .MetaP.Source }} {{ .MetaP.Ptr.Source }} [{{ .Meta.Ptr.Ptr.Source }}]`, "lago inner []"},
		{"nil pointer", `[{{ .Nil.Source }}]`, "[]"},
		{"unexported and unknown fields", `[{{ .Meta.private }}][{{ .Meta.Nope }}]`, "[][]"},
		{"method without arguments", `{{ .Meta.Upper }} {{ .MetaP.Upper }}`, "LAGO LAGO"},
		{"method with an argument", `{{ .Meta.Greet "you" }}`, "hello you"},
		{"method with a piped argument", `{{ "x" | .Meta.TwoArgs "a" }}`, "ax"},
		{"failing method", `[{{ .Meta.Fails }}]`, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.src, Plain, data); got != tt.want {
				t.Errorf("%s\n got %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestNumbersPrintWithoutExponent: JSON numbers are float64; they print as
// written, through output actions and through the printing functions.
func TestNumbersPrintWithoutExponent(t *testing.T) {
	data := decode(t, `{"big": 1500000, "huge": 123456789012, "rate": 0.125, "neg": -5, "tiny": 0.0000001, "list": [1500000, 2.5], "obj": {"a": 1500000}}`)
	tests := []struct {
		name, src, want string
	}{
		{"output action", `{{ .big }} {{ .huge }} {{ .rate }} {{ .neg }} {{ .tiny }}`, "1500000 123456789012 0.125 -5 0.0000001"},
		{"print and println", `{{ print .big }}|{{ println .big .rate }}`, "1500000|1500000 0.125\n"},
		{"printf verbs", `{{ printf "%v|%s|%d|%.3f|%6v|%x" .big .big .big .rate .neg 255 }}`, "1500000|1500000|1500000|0.125|    -5|ff"},
		{"printf of nil", `[{{ printf "%s|%d|%v" .nope .nope .nope }}]`, "[||]"},
		{"toString and join", `{{ toString .big }} {{ join "," .list }} {{ cat .big .nope .rate }}`, "1500000 1500000,2.5 1500000 0.125"},
		{"lists and objects print as JSON", `{{ .list }} {{ .obj }}`, `[1500000,2.5] {"a":1500000}`},
		{"math results", `{{ add .big 1 }} {{ div .big 1000 }} {{ round 2.675 1 }} {{ mulf .rate 2 }}`, "1500001 1500 2.7 0.25"},
		{"quote", `{{ quote .big "a" .nope }} {{ squote .rate }}`, `"1500000" "a" '0.125'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.src, Plain, data); got != tt.want {
				t.Errorf("%s\n got %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestEscaping: each Escape applies to interpolated values only, never to
// the template's literal text, and explicit escaping is not doubled.
func TestEscaping(t *testing.T) {
	data := map[string]any{
		"name": "A & B <script>",
		"id":   "a/b?c=d#e f",
		"tok":  "abc\r\nX-Evil: 1\x00\t!",
		"js":   "javascript:alert(1)",
		"big":  1500000.0,
	}
	tests := []struct {
		name string
		esc  Escape
		src  string
		want string
	}{
		{"plain", Plain, `<{{ .name }}>`, "<A & B <script>>"},
		{"mrkdwn escapes values, keeps literal links", Mrkdwn, `<https://app.example.com|open> {{ .name }}`, "<https://app.example.com|open> A &amp; B &lt;script&gt;"},
		{"mrkdwn function is not escaped twice", Mrkdwn, `{{ .name | mrkdwn }}|{{ mrkdwn .name }}`, "A &amp; B &lt;script&gt;|A &amp; B &lt;script&gt;"},
		{"mrkdwn function in plain text", Plain, `{{ mrkdwn .name }}`, "A &amp; B &lt;script&gt;"},
		{"mrkdwn toJson", Mrkdwn, `{{ toJson .name }}`, `"A \u0026 B \u003cscript\u003e"`},
		{"mrkdwn missing", Mrkdwn, `[{{ .nope.x }}]`, "[]"},
		{"url path", URLPath, `/customers/{{ .id }}`, "/customers/a%2Fb%3Fc=d%23e%20f"},
		{"url path with urlquery", URLPath, `/c/{{ .id | urlquery }}`, "/c/a%2Fb%3Fc%3Dd%23e+f"},
		{"url query", URLQuery, `q={{ .id }}&n={{ .big }}`, "q=a%2Fb%3Fc%3Dd%23e+f&n=1500000"},
		{"url query with urlquery", URLQuery, `q={{ urlquery .id }}`, "q=a%2Fb%3Fc%3Dd%23e+f"},
		{"header value", HeaderValue, "Bearer {{ .tok }}", "Bearer abcX-Evil: 1\t!"},
		{"html contexts", HTML, `<p title="{{ .name }}">{{ .name }}</p><a href="/x?q={{ .name }}">l</a><a href="{{ .js }}">j</a>`,
			`<p title="A &amp; B &lt;script&gt;">A &amp; B &lt;script&gt;</p><a href="/x?q=A%20%26%20B%20%3cscript%3e">l</a><a href="#ZgotmplZ">j</a>`},
		{"html missing and numbers", HTML, `<b>{{ .nope.x }}</b>{{ .big }}`, "<b></b>1500000"},
		{"html predefined escapers", HTML, `{{ .name | html }}|[{{ urlquery .nope }}]|{{ html .name .big }}|<a href="/x?q={{ .id | urlquery }}">`,
			`A &amp; B &lt;script&gt;|[]|A &amp; B &lt;script&gt;1500000|<a href="/x?q=a%2Fb%3Fc%3Dd%23e&#43;f">`},
		{"html in script", HTML, `<script>var x = {{ .name }};</script>`, `<script>var x = "A \u0026 B \u003cscript\u003e";</script>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustRender(t, tt.src, tt.esc, data); got != tt.want {
				t.Errorf("%s\n got %q\nwant %q", tt.src, got, tt.want)
			}
		})
	}
}

// TestOutputCap: every Execute is bounded by MaxBytes; the error names the
// limit, and a loop over a huge list stops at the first write past it.
func TestOutputCap(t *testing.T) {
	items := make([]any, 200_000)
	for i := range items {
		items[i] = "0123456789"
	}
	data := map[string]any{"items": items}
	tests := []struct {
		name    string
		src     string
		max     int
		want    string // output, when it fits
		wantErr string
	}{
		{"fits exactly", `{{ range (slice .items 0 10) }}{{ . }}{{ end }}`, 100, strings.Repeat("0123456789", 10), ""},
		{"one byte over", `{{ range (slice .items 0 10) }}{{ . }}{{ end }}!`, 100, "", "exceeds the size limit of 100 bytes"},
		{"huge loop stops early", `{{ range .items }}{{ . }}{{ end }}`, 1000, "", "exceeds the size limit of 1000 bytes"},
		{"default limit", `{{ range .items }}{{ . }}{{ end }}`, 0, "", fmt.Sprintf("exceeds the size limit of %d bytes", DefaultMaxBytes)},
		{"repeat is capped", `{{ repeat 70000 "ab" }}`, 0, "", "repeat: the result would exceed 65536 bytes"},
		{"indent is capped", `{{ indent 100000 "a" }}`, 0, "", "indent: the result would exceed 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse("cap", tt.src, Plain, Options{MaxBytes: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			out, err := tm.Execute(data)
			if tt.wantErr == "" {
				if err != nil || out != tt.want {
					t.Fatalf("got %q, %v", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(tt.wantErr, "size limit") && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%v does not wrap ErrTooLarge", err)
			}
			if out != "" {
				t.Errorf("partial output returned: %d bytes", len(out))
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestGeneratorsAreCapped: the list generators and integer ranges refuse
// more than 10,000 elements instead of exhausting memory or CPU.
func TestGeneratorsAreCapped(t *testing.T) {
	tests := []struct {
		name, src, want, wantErr string
	}{
		{"until within the cap", `{{ len (until 10000) }} {{ until 3 }} {{ until -2 }}`, "10000 [0,1,2] [0,-1]", ""},
		{"until over the cap", `{{ until 10001 }}`, "", "template: t:1:4: until: more than 10000 elements"},
		{"untilStep", `{{ untilStep 1 10 3 }} {{ untilStep 5 0 -2 }} {{ untilStep 0 5 0 }}`, "[1,4,7] [5,3,1] []", ""},
		{"untilStep over the cap", `{{ untilStep 0 100000 1 }}`, "", "untilStep: more than 10000 elements"},
		{"untilStep at the int limits", `{{ untilStep -9223372036854775808 9223372036854775807 1 }}`, "", "more than 10000 elements"},
		{"seq", `{{ seq 3 }}|{{ seq 2 4 }}|{{ seq 5 -2 1 }}|{{ seq 0 }}`, "1 2 3|2 3 4|5 3 1|1 0", ""},
		{"seq over the cap", `{{ seq 20000 }}`, "", "seq: more than 10000 elements"},
		{"range over an int within the cap", `{{ range 10000 }}{{ end }}ok`, "ok", ""},
		{"range over an int over the cap", `{{ range 10001 }}{{ end }}`, "", "range: 10001 iterations, more than the limit of 10000"},
		{"range over a fraction", `{{ range 2.5 }}{{ end }}`, "", "cannot range over 2.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse("t", tt.src, Plain, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := tm.Execute(nil)
			if tt.wantErr == "" {
				if err != nil || out != tt.want {
					t.Fatalf("got %q, %v; want %q", out, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestDisallowedFunctionsFailAtParse: nothing that reads the environment,
// files or network, generates secrets or randomness, or mutates shared
// data is callable; neither are the internal functions.
func TestDisallowedFunctionsFailAtParse(t *testing.T) {
	for _, name := range []string{
		"env", "expandenv", "getHostByName", "genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert",
		"genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey", "buildCustomCert", "derivePassword",
		"randAlpha", "randNumeric", "randAscii", "randAlphaNum", "randBytes", "randInt", "uuidv4", "shuffle",
		"bcrypt", "htpasswd", "encryptAES", "decryptAES", "set", "unset", "merge", "mergeOverwrite",
		"deepCopy", "semver", "semverCompare", "osBase", "hello",
		fnGet, fnOut, fnRange, fnStr, fnStop,
	} {
		t.Run(name, func(t *testing.T) {
			for _, esc := range []Escape{Plain, HTML} {
				_, err := Parse("t", "ok\n  {{ "+name+" \"x\" }}", esc, Options{})
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%s: got %v, want a parse error", esc, err)
				}
				want := &Error{Name: "t", Line: 2, Column: 6, Msg: fmt.Sprintf("function %q not defined", name)}
				if *e != *want {
					t.Fatalf("%s: got %#v, want %#v", esc, e, want)
				}
			}
		})
	}
}

// TestAllowListExists keeps the allow-list in step with Sprig: a name that
// Sprig no longer has would silently vanish from templates.
func TestAllowListExists(t *testing.T) {
	m := funcMap(Plain, Options{}.normalized())
	for _, n := range sprigNames() {
		if _, ok := m[n]; !ok {
			t.Errorf("allow-listed %q is not a Sprig function", n)
		}
	}
	for _, n := range []string{"money", "toJson", "required", "hours_since", "days_until", "days_since", "hours_until", "mrkdwn", "urlquery", "lagoObject", "eventType"} {
		if _, ok := m[n]; !ok {
			t.Errorf("own function %q missing", n)
		}
	}
}

// TestParseErrorPositions: parse errors are *Error values with the line
// and (1-based, character) column of the problem in the text.
func TestParseErrorPositions(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Error
	}{
		{"unclosed action at the end", "Hello\n  {{ .invoice.number", Error{"t", 2, 3, "unclosed action"}},
		{"unclosed action before the next", "{{ define \"text\" }}\nHello {{ .invoice.number\n{{ end }}", Error{"t", 2, 7, `unclosed action (no "}}" before the next "{{")`}},
		{"unclosed action on one line", `a {{ .x {{ .y }}`, Error{"t", 1, 3, `unclosed action (no "}}" before the next "{{")`}},
		{"unknown function", "line1\n  {{ .x | nosuch }}", Error{"t", 2, 11, `function "nosuch" not defined`}},
		{"unknown function after unicode", "é {{ nosuch }}", Error{"t", 1, 6, `function "nosuch" not defined`}},
		{"bad pipeline", "a\nb {{ .x | 3 }}", Error{"t", 2, 3, "non executable command in pipeline stage 2"}},
		{"end without start", "x\n  {{ end }}", Error{"t", 2, 3, "unexpected {{end}}"}},
		{"else without if", "x {{ else }}", Error{"t", 1, 3, "unexpected {{else}}"}},
		{"undefined variable", "a\n{{ $x }}", Error{"t", 2, 4, `undefined variable "$x"`}},
		{"if without value", "ab {{- if }}x{{ end }}", Error{"t", 1, 4, "missing value for if"}},
		{"unterminated string", `{{ print "a }}`, Error{"t", 1, 1, "unterminated quoted string"}},
		{"unexpected paren", "{{ .x ) }}", Error{"t", 1, 1, "unexpected right paren"}},
		{"missing end", "{{ if .x }}\nabc", Error{"t", 2, 0, "unexpected EOF (an {{ if }}, {{ range }}, {{ with }}, {{ block }} or {{ define }} lacks its {{ end }})"}},
		{"duplicate define", `{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}`, Error{"t", 1, 27, `multiple definition of template "a"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t", tt.src, Plain, Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if *e != tt.want {
				t.Fatalf("got  %#v\nwant %#v", *e, tt.want)
			}
		})
	}
}

// TestErrorString: "name:line:col: msg", leaving out what is unknown.
func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"x.tmpl", 3, 12, "boom"}, "x.tmpl:3:12: boom"},
		{Error{"x.tmpl", 3, 0, "boom"}, "x.tmpl:3: boom"},
		{Error{"x.tmpl", 0, 0, "boom"}, "x.tmpl: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
}

// TestExecuteErrors: rendering failures are short, name the template, the
// position (1-based character column) and the function, and not the
// internal rewriting.
func TestExecuteErrors(t *testing.T) {
	data := decode(t, `{"x": "abc", "name": "s", "obj": {"a": 1}}`)
	tests := []struct {
		name, src, want string
	}{
		{"required", "line one\n  {{ required \"invoice number missing\" .invoice.number }}", "template: t:2:6: required: invoice number missing"},
		{"required of an empty string", `{{ .x }}{{ required "name is empty" (trim " ") }}`, "template: t:1:12: required: name is empty"},
		{"fail", `{{ fail "boom" }}`, "template: t:1:4: fail: boom"},
		{"column counts characters", `é {{ fail "x" }}`, "template: t:1:6: fail: x"},
		{"money of text", `{{ money .x "USD" }}`, `template: t:1:4: money: "abc" is not a number`},
		{"money of an object", `{{ money .obj "USD" }}`, "template: t:1:4: money: the amount is an object, not a number"},
		{"wrong argument count", `{{ money 1 }}`, "template: t:1:4: wrong number of args for money: want 2 got 1"},
		{"ordering a string and a number", `{{ lt .name 3 }}`, "template: t:1:4: lt: cannot compare a string with a number"},
		{"wrong argument type", `{{ upper .obj }}`, "template: t:1:4: upper: expected a string, got an object"},
		{"bad timestamp", `{{ hours_since .x }}`, `template: t:1:4: hours_since: cannot read "abc" as an ISO-8601 timestamp`},
		{"division by zero", `{{ div 1 0 }}`, "template: t:1:4: div: runtime error: integer divide by zero"},
		{"missing template", `{{ template "nope" . }}`, `template: t:1:13: template "nope" not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse("t", tt.src, Plain, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			out, err := tm.Execute(data)
			if err == nil {
				t.Fatalf("no error; output %q", out)
			}
			if err.Error() != tt.want {
				t.Fatalf("got  %q\nwant %q", err.Error(), tt.want)
			}
		})
	}
}

// TestHTMLCompileErrors: html/template's contextual errors surface when
// the template is compiled, with the position in the source.
func TestHTMLCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Error
	}{
		{"ambiguous URL", `<a href="{{ if .x }}/a{{ else }}/b?{{ end }}{{ .y }}">`, Error{"h", 1, 48, "{{ .y }} appears in an ambiguous context within a URL"}},
		{"unfinished attribute", "line\n<a href=\"{{ .x }}", Error{"h", 2, 13, `"h" ends inside unfinished HTML (URL): close the tag, attribute, comment or script`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("h", tt.src, HTML, Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if *e != tt.want {
				t.Fatalf("got  %#v\nwant %#v", *e, tt.want)
			}
		})
	}
}

// TestHTMLErrorInDerivedContext: a helper called from an attribute is
// escaped in a copy of its tree; its failures must still be errors with a
// position, not a crash.
func TestHTMLErrorInDerivedContext(t *testing.T) {
	src := `{{ define "helper" }}{{ required "title missing" .title }}{{ range .n }}{{ end }}{{ end }}<p title="{{ template "helper" . }}">x</p>`
	tm, err := Parse("h", src, HTML, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := tm.Execute(map[string]any{"title": "a\"b", "n": 2.0})
	if err != nil || out != `<p title="a&#34;b">x</p>` {
		t.Fatalf("got %q, %v", out, err)
	}
	for _, data := range []map[string]any{{}, {"title": "t", "n": 20000.0}} {
		_, err := tm.Execute(data)
		if err == nil || !strings.HasPrefix(err.Error(), "template: h:1:") {
			t.Fatalf("got %v", err)
		}
	}
}

// TestConcurrentExecute: one compiled template renders concurrently for
// many goroutines, each getting its own output (run with -race).
func TestConcurrentExecute(t *testing.T) {
	tests := []struct {
		name string
		esc  Escape
		src  string
		want func(i int) string
	}{
		{"text", Mrkdwn, `Invoice *{{ .invoice.number }}* for {{ .invoice.customer.name | default "?" }}: {{ money .invoice.total_amount_cents .invoice.currency }}`,
			func(i int) string {
				m, _ := Money(i*100, "USD")
				return fmt.Sprintf("Invoice *INV-%d* for A &amp; %d: %s", i, i, m)
			}},
		{"html", HTML, `<p>{{ .invoice.number }} {{ .invoice.customer.name }}</p>`,
			func(i int) string { return fmt.Sprintf("<p>INV-%d A &amp; %d</p>", i, i) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse("c", tt.src, tt.esc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range 100 {
						i := g*1000 + j
						data := decode(t, fmt.Sprintf(`{"invoice":{"number":"INV-%d","currency":"USD","total_amount_cents":%d,"customer":{"name":"A & %d"}}}`, i, i*100, i))
						out, err := tm.Execute(data)
						if err != nil || out != tt.want(i) {
							errs <- fmt.Errorf("got %q, %v; want %q", out, err, tt.want(i))
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestEscapeString(t *testing.T) {
	for esc, want := range map[Escape]string{Plain: "plain", Mrkdwn: "mrkdwn", HTML: "html", URLPath: "url path", URLQuery: "url query", HeaderValue: "header value", Escape(42): "Escape(42)"} {
		if got := esc.String(); got != want {
			t.Errorf("%d: got %q, want %q", int(esc), got, want)
		}
	}
}
