package rulesfile

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/switchboard-dev/switchboard/router"
)

func TestAppendToEmptyLists(t *testing.T) {
	rule := router.RuleConfig{Name: "all", When: "true", Send: []router.SendConfig{{To: "ops", Message: "hi"}}}
	item := "  - name: all\n    when: \"true\"\n    send:\n      - to: ops\n        message: hi\n"
	cases := []struct {
		name, src, want string
	}{
		{name: "no rules key", src: "channels: {}\n", want: "channels: {}\nrules:\n" + item},
		{name: "no rules key nor final newline", src: "# c\nchannels: {}", want: "# c\nchannels: {}\nrules:\n" + item},
		{name: "null rules", src: "rules:   # none yet\nchannels: {}\n", want: "rules:   # none yet\n" + item + "channels: {}\n"},
		{name: "empty flow list", src: "channels: {}\nrules: [] # none\n", want: "channels: {}\nrules: # none\n" + item},
		{name: "no final newline", src: "rules:\n- name: a\n  when: x\n  send: [{to: ops}]", want: "rules:\n- name: a\n  when: x\n  send: [{to: ops}]\n\n" +
			"- name: all\n  when: \"true\"\n  send:\n    - to: ops\n      message: hi\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse([]byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Append(rule)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("Append =\n%q\nwant\n%q", got, c.want)
			}
			g, err := Parse(got)
			if err != nil || !g.Has("all") {
				t.Errorf("result does not parse back with the rule: %v", err)
			}
		})
	}
}

func TestRefusedFiles(t *testing.T) {
	cases := []struct{ name, src string }{
		{name: "flow list", src: "rules: [{name: a, when: x, send: [{to: o}]}]\n"},
		{name: "not a list", src: "rules: {a: 1}\n"},
		{name: "not YAML", src: "rules:\n  - name: [\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse([]byte(c.src)); err == nil {
				t.Errorf("Parse(%q) accepted a file it cannot edit", c.src)
			}
		})
	}
}

func TestHash(t *testing.T) {
	a, b := Hash([]byte("rules:\n")), Hash([]byte("rules: \n"))
	if a == b || len(a) != 16 || a != Hash([]byte("rules:\n")) {
		t.Errorf("Hash = %s, %s", a, b)
	}
}

// TestMarshalEscapesLineSeparators: U+2028, U+2029 and U+0085 typed into
// the editor are never written raw (YAML 1.1 readers and text editors
// take them for line breaks): the value is double-quoted with the
// character escaped, and reads back identical.
func TestMarshalEscapesLineSeparators(t *testing.T) {
	rule := router.RuleConfig{Name: "sep", Description: "one\u2028two", When: "true \u2029",
		Send:     []router.SendConfig{{To: "ops", Message: "a\u0085b\nline two é"}},
		Throttle: &router.ThrottleConfig{Key: "{{ .k }}\u2028"}}
	out, err := Marshal(rule)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(out), "\u2028\u2029\u0085") {
		t.Fatalf("written raw:\n%s", out)
	}
	var back router.RuleConfig
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.Description != rule.Description || back.When != rule.When || back.Send[0].Message != rule.Send[0].Message || back.Throttle.Key != rule.Throttle.Key {
		t.Errorf("read back %+v\nfrom\n%s", back, out)
	}
	if rule.Send[0].Message != "a\u0085b\nline two é" || rule.Throttle.Key != "{{ .k }}\u2028" {
		t.Error("Marshal changed its argument")
	}
}
