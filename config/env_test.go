package config

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"TOKEN": "xoxb-1", "EMPTY": ""}[name]
		return v, ok
	}
	for _, tt := range []struct {
		in, want, err string
		missing       []string
	}{
		{in: "plain", want: "plain"},
		{in: "Bearer ${TOKEN}", want: "Bearer xoxb-1"},
		{in: "${UNSET:-fallback}/x", want: "fallback/x"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${UNSET}-${EMPTY}", want: "-", missing: []string{"UNSET", "EMPTY"}},
		{in: "$${TOKEN} ${TOKEN}", want: "${TOKEN} xoxb-1"},
		{in: "${TOKEN", err: "unclosed ${ (write $${ for a literal ${)"},
		{in: "${1X}", err: `invalid variable name "1X" in ${…}`},
	} {
		got, missing, err := Expand(tt.in, env)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || !slices.Equal(missing, tt.missing) {
			t.Errorf("Expand(%q) = %q, %q, %v; want %q, %q", tt.in, got, missing, err, tt.want, tt.missing)
		}
	}
}

func TestParseRef(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Ref
		ok   bool
	}{
		{"${CRM_TOKEN}", Ref{Name: "CRM_TOKEN"}, true},
		{"${PORT:-587}", Ref{Name: "PORT", Default: "587", HasDefault: true}, true},
		{"${X:-}", Ref{Name: "X", HasDefault: true}, true},
		{"Bearer ${X}", Ref{}, false},
		{"${X}${Y}", Ref{}, false},
		{"${9X}", Ref{}, false},
		{"${X", Ref{}, false},
		{"$X", Ref{}, false},
	} {
		got, ok := ParseRef(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestReferences(t *testing.T) {
	got := References("a ${A} $${B} ${C:-x} ${D ${} ${9} $$${E}")
	if want := []string{"A", "C", "D"}; !slices.Equal(got, want) {
		t.Errorf("References = %q, want %q", got, want)
	}
}
