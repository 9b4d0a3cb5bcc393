package rulesfile

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// channelsFile has comments, a flow-style header map, irregular blank
// lines and a trailing comment around its channels.
const channelsFile = `# Billing.
sources:
  lago: {}

channels:
  # Chat first.
  ops:                 # the ops room
    slack:
      token: ${SLACK_TOKEN}
      channel: "#ops"

  # The CRM.
  crm:
    timeout: 5s
    http:
      url: https://crm.example.com/hook
      headers: { Authorization: "Bearer ${CRM_TOKEN}" }
  finance:
    email: {host: smtp.example.com, from: a@example.com, to: [b@example.com]}
# Rules below.

rules:
  - name: a
    when: "true"
    send: [{to: ops}]
`

const (
	opsBlock = `  ops:                 # the ops room
    slack:
      token: ${SLACK_TOKEN}
      channel: "#ops"
`
	crmBlock = `  crm:
    timeout: 5s
    http:
      url: https://crm.example.com/hook
      headers: { Authorization: "Bearer ${CRM_TOKEN}" }
`
	financeBlock = `  finance:
    email: {host: smtp.example.com, from: a@example.com, to: [b@example.com]}
`
)

// slackSettings is a channel's settings as the admin API builds them.
var slackSettings = yaml.MapSlice{
	{Key: "timeout", Value: "3s"},
	{Key: "rate", Value: yaml.MapSlice{{Key: "per_second", Value: 0.5}, {Key: "burst", Value: int64(2)}}},
	{Key: "slack", Value: yaml.MapSlice{{Key: "token", Value: "${OPS_TOKEN}"}, {Key: "channel", Value: "#ops-2"}}},
}

const slackItem = `    timeout: 3s
    rate:
      per_second: 0.5
      burst: 2
    slack:
      token: ${OPS_TOKEN}
      channel: "#ops-2"
`

func mustReplace(t *testing.T, src, old, new string) string {
	t.Helper()
	if strings.Count(src, old) != 1 {
		t.Fatalf("fixture does not hold %q exactly once", old)
	}
	return strings.Replace(src, old, new, 1)
}

func TestChannelEdits(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(c *Channels) ([]byte, error)
		want  func(t *testing.T) string
		names []string
	}{
		{
			name: "replace keeps everything else",
			edit: func(c *Channels) ([]byte, error) { return c.Replace("crm", "crm", slackSettings) },
			want: func(t *testing.T) string {
				return mustReplace(t, channelsFile, crmBlock, "  crm:\n"+slackItem)
			},
			names: []string{"ops", "crm", "finance"},
		},
		{
			name: "replace and rename the first",
			edit: func(c *Channels) ([]byte, error) { return c.Replace("ops", "chat", slackSettings) },
			want: func(t *testing.T) string {
				return mustReplace(t, channelsFile, opsBlock, "  chat:\n"+slackItem)
			},
			names: []string{"chat", "crm", "finance"},
		},
		{
			name: "replace the last, before a column-0 comment",
			edit: func(c *Channels) ([]byte, error) { return c.Replace("finance", "finance", slackSettings) },
			want: func(t *testing.T) string {
				return mustReplace(t, channelsFile, financeBlock, "  finance:\n"+slackItem)
			},
			names: []string{"ops", "crm", "finance"},
		},
		{
			name: "append after the last",
			edit: func(c *Channels) ([]byte, error) { return c.Append("pager", slackSettings) },
			want: func(t *testing.T) string {
				return mustReplace(t, channelsFile, financeBlock, financeBlock+"  pager:\n"+slackItem)
			},
			names: []string{"ops", "crm", "finance", "pager"},
		},
		{
			name: "delete takes its comment and one blank line",
			edit: func(c *Channels) ([]byte, error) { return c.Delete("crm") },
			want: func(t *testing.T) string {
				return mustReplace(t, channelsFile, "\n  # The CRM.\n"+crmBlock, "")
			},
			names: []string{"ops", "finance"},
		},
		{
			name: "delete the first keeps the section's comment",
			edit: func(c *Channels) ([]byte, error) { return c.Delete("ops") },
			want: func(t *testing.T) string {
				return mustReplace(t, channelsFile, opsBlock+"\n", "")
			},
			names: []string{"crm", "finance"},
		},
		{
			name: "delete the last",
			edit: func(c *Channels) ([]byte, error) { return c.Delete("finance") },
			want: func(t *testing.T) string {
				return mustReplace(t, channelsFile, financeBlock, "")
			},
			names: []string{"ops", "crm"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseChannels([]byte(channelsFile))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tc.edit(c)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(t); string(got) != want {
				t.Errorf("edit =\n%s\nwant\n%s", got, want)
			}
			back, err := ParseChannels(got)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.Names(), tc.names) {
				t.Errorf("channels = %v, want %v", back.Names(), tc.names)
			}
			// The rules list is still there and still editable.
			f, err := Parse(got)
			if err != nil || !f.Has("a") {
				t.Errorf("rules after the edit: %v", err)
			}
		})
	}
}

func TestAppendChannelToEmptySections(t *testing.T) {
	item := "  ops:\n" + slackItem
	cases := []struct {
		name, src, want string
	}{
		{name: "no channels key", src: "# Top.\nsources: {}\n\n# The rules.\nrules: []\n",
			want: "# Top.\nsources: {}\n\nchannels:\n" + item + "\n# The rules.\nrules: []\n"},
		{name: "no channels nor rules key", src: "sources: {}",
			want: "sources: {}\nchannels:\n" + item},
		{name: "empty flow mapping", src: "channels: {}   # none yet\nrules: []\n",
			want: "channels: # none yet\n" + item + "rules: []\n"},
		{name: "explicit null", src: "channels: ~\nrules: []\n",
			want: "channels:\n" + item + "rules: []\n"},
		{name: "empty key", src: "channels:\nrules: []\n",
			want: "channels:\n" + item + "rules: []\n"},
		{name: "four-space indentation", src: "channels:\n    a:\n        slack: {webhook_url: \"${A}\"}\nrules: []\n",
			want: "channels:\n    a:\n        slack: {webhook_url: \"${A}\"}\n    ops:\n" +
				"        timeout: 3s\n        rate:\n            per_second: 0.5\n            burst: 2\n" +
				"        slack:\n            token: ${OPS_TOKEN}\n            channel: \"#ops-2\"\nrules: []\n"},
		{name: "blank lines between channels", src: "channels:\n  a:\n    slack: {}\n\n  b:\n    slack: {}\n",
			want: "channels:\n  a:\n    slack: {}\n\n  b:\n    slack: {}\n\n" + item},
		{name: "no final newline", src: "channels:\n  a:\n    slack: {}",
			want: "channels:\n  a:\n    slack: {}\n" + item},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseChannels([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Append("ops", slackSettings)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Append =\n%q\nwant\n%q", got, tc.want)
			}
			back, err := ParseChannels(got)
			if err != nil || !back.Has("ops") {
				t.Fatalf("result does not parse back with the channel: %v", err)
			}
			s, _ := back.Settings("ops")
			if tok := s["slack"].(map[string]any)["token"]; tok != "${OPS_TOKEN}" {
				t.Errorf("token read back as %v", tok)
			}
		})
	}
}

func TestChannelEditErrors(t *testing.T) {
	cases := []struct {
		name, src string
		edit      func(c *Channels) ([]byte, error)
		want      error
	}{
		{name: "replace unknown", src: channelsFile, want: ErrNoChannel,
			edit: func(c *Channels) ([]byte, error) { return c.Replace("nope", "nope", slackSettings) }},
		{name: "delete unknown", src: channelsFile, want: ErrNoChannel,
			edit: func(c *Channels) ([]byte, error) { return c.Delete("nope") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseChannels([]byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tc.edit(c); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseChannelsRefuses(t *testing.T) {
	cases := []struct{ name, src string }{
		{name: "flow mapping", src: "channels: {ops: {slack: {}}}\n"},
		{name: "not a mapping", src: "channels: [a, b]\n"},
		{name: "not YAML", src: "channels:\n  ops: [\n"},
		{name: "uneven", src: "channels:\n    a: {}\n  b: {}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseChannels([]byte(tc.src)); err == nil {
				t.Errorf("ParseChannels(%q) accepted a file it cannot edit", tc.src)
			}
		})
	}
}

func TestChannelSettings(t *testing.T) {
	c, err := ParseChannels([]byte(channelsFile))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Settings("crm")
	if !ok {
		t.Fatal("crm not found")
	}
	h := s["http"].(map[string]any)["headers"].(map[string]any)
	if s["timeout"] != "5s" || h["Authorization"] != "Bearer ${CRM_TOKEN}" {
		t.Errorf("crm = %v: want the settings as written, references unexpanded", s)
	}
	if _, ok := c.Settings("nope"); ok {
		t.Error("Settings found an unknown channel")
	}
}

// TestMarshalChannelEscapesLineSeparators: a channel's values never
// carry U+2028/U+2029/U+0085 raw into the file, and read back identical.
func TestMarshalChannelEscapesLineSeparators(t *testing.T) {
	subject := "Invoice\u2028{{ .invoice.number }}"
	to := []any{"a@example.com", "b\u2029@example.com"}
	out, err := MarshalChannel("mail", yaml.MapSlice{{Key: "email", Value: yaml.MapSlice{
		{Key: "subject", Value: subject}, {Key: "to", Value: to}}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(out), "\u2028\u2029\u0085") {
		t.Fatalf("written raw:\n%s", out)
	}
	var back struct {
		Mail struct {
			Email struct {
				Subject string   `yaml:"subject"`
				To      []string `yaml:"to"`
			} `yaml:"email"`
		} `yaml:"mail"`
	}
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.Mail.Email.Subject != subject || len(back.Mail.Email.To) != 2 || back.Mail.Email.To[1] != to[1] {
		t.Errorf("read back %+v from\n%s", back, out)
	}
}
