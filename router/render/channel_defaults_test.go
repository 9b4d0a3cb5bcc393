package render

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// channelBlocks are the blocks of the PagerDuty, Opsgenie, Teams and
// Discord defaults with the escaping the router gives each.
var channelBlocks = []struct {
	kind, block string
	esc         Escape
	json        bool
}{
	{"pagerduty", "summary", Plain, false},
	{"pagerduty", "details", Plain, true},
	{"pagerduty", "source", Plain, false},
	{"opsgenie", "message", Plain, false},
	{"opsgenie", "description", Plain, false},
	{"opsgenie", "details", Plain, true},
	{"teams", "card", Plain, true},
	{"discord", "embeds", Plain, true},
}

// renderChannelDefaults renders every block of channelBlocks for data,
// failing on an error, "<no value>" or a JSON block that is not JSON.
func renderChannelDefaults(t *testing.T, data map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range channelBlocks {
		f := Default(b.kind)
		if f == nil {
			t.Fatalf("no default %s template", b.kind)
		}
		tm, err := f.Block(b.block, b.esc, testOptions())
		if err != nil {
			t.Fatalf("compile default %s %s: %v", b.kind, b.block, err)
		}
		s, err := tm.Execute(data)
		if err != nil {
			t.Fatalf("render default %s %s: %v", b.kind, b.block, err)
		}
		if strings.Contains(s, "<no value>") {
			t.Fatalf("default %s %s rendered <no value>:\n%s", b.kind, b.block, s)
		}
		if b.json && !json.Valid([]byte(s)) {
			t.Fatalf("default %s %s is not JSON:\n%s", b.kind, b.block, s)
		}
		out[b.kind+"."+b.block] = s
	}
	return out
}

// TestChannelDefaultsCarryTheSlackFacts: for every fixture, each new
// channel's default says what the Slack default says — the event type and
// every fact lagoFacts finds — in the shape the service reads.
func TestChannelDefaultsCarryTheSlackFacts(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.json")
	if len(paths) < 5 {
		t.Fatal("fixtures missing")
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		t.Run(name, func(t *testing.T) {
			data := fixture(t, name)
			out := renderChannelDefaults(t, data)
			facts := lagoFacts(data)
			event := eventType(data)

			if event != "" && !strings.HasPrefix(out["pagerduty.summary"], event) {
				t.Errorf("summary %q does not start with %q", out["pagerduty.summary"], event)
			}
			if out["pagerduty.source"] != "lago" {
				t.Errorf("source %q", out["pagerduty.source"])
			}
			var details map[string]any
			_ = json.Unmarshal([]byte(out["pagerduty.details"]), &details)
			if event != "" && details["event"] != event {
				t.Errorf("details event %v", details["event"])
			}
			var card struct {
				Type string `json:"type"`
				Body []struct {
					Type  string `json:"type"`
					Text  string `json:"text"`
					Facts []struct{ Title, Value string }
				} `json:"body"`
			}
			if err := json.Unmarshal([]byte(out["teams.card"]), &card); err != nil || card.Type != "AdaptiveCard" || len(card.Body) != 2 {
				t.Fatalf("card %s: %v", out["teams.card"], err)
			}
			var embeds []struct {
				Title  string `json:"title"`
				Fields []struct {
					Name, Value string
				} `json:"fields"`
			}
			if err := json.Unmarshal([]byte(out["discord.embeds"]), &embeds); err != nil || len(embeds) != 1 {
				t.Fatalf("embeds %s: %v", out["discord.embeds"], err)
			}
			if len(card.Body[1].Facts) != len(facts) || len(embeds[0].Fields) != min(len(facts), 25) {
				t.Fatalf("%d facts; card has %d, embed %d", len(facts), len(card.Body[1].Facts), len(embeds[0].Fields))
			}
			for i, f := range facts {
				if !strings.Contains(out["pagerduty.summary"], f.Label+": "+f.Value) {
					t.Errorf("summary lacks %s", f)
				}
				if !strings.Contains(out["opsgenie.description"], f.Label+": "+f.Value) {
					t.Errorf("description lacks %s", f)
				}
				if details[f.Label] == nil {
					t.Errorf("details lack %s", f.Label)
				}
				if card.Body[1].Facts[i].Title != escapeMarkdown(f.Label) || card.Body[1].Facts[i].Value != escapeMarkdown(f.Value) {
					t.Errorf("card fact %d = %+v, want %s", i, card.Body[1].Facts[i], f)
				}
				if embeds[0].Fields[i].Value != escapeMarkdown(f.Value) {
					t.Errorf("embed field %d = %+v, want %s", i, embeds[0].Fields[i], f)
				}
			}
			if len(facts) > 0 && !strings.Contains(out["opsgenie.message"], facts[0].Label+": "+facts[0].Value) {
				t.Errorf("message %q lacks the first fact %s", out["opsgenie.message"], facts[0])
			}
		})
	}
}

// TestChannelDefaultsEscapeMarkdown: a customer named "@everyone" or
// "**Acme** [pay](https://evil.example)" shows as written in Discord and
// Teams: every Markdown character of a value is escaped.
func TestChannelDefaultsEscapeMarkdown(t *testing.T) {
	data := decode(t, `{"webhook_type":"customer.created","object_type":"customer","customer":{"external_id":"@everyone","name":"**Acme** [pay](https://evil.example) <@&1> _x_ `+"`c`"+` \\"}}`)
	out := renderChannelDefaults(t, data)
	var embeds []struct {
		Fields []struct{ Name, Value string } `json:"fields"`
	}
	if err := json.Unmarshal([]byte(out["discord.embeds"]), &embeds); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range embeds[0].Fields {
		got[f.Name] = f.Value
	}
	if got["External ID"] != `\@everyone` {
		t.Errorf("external id %q", got["External ID"])
	}
	if want := `\*\*Acme\*\* \[pay\](https://evil.example) \<\@&1\> \_x\_ ` + "\\`c\\`" + ` \\`; got["Name"] != want {
		t.Errorf("name\n got %s\nwant %s", got["Name"], want)
	}
	if !strings.Contains(out["teams.card"], `\\@everyone`) {
		t.Errorf("card does not escape the mention:\n%s", out["teams.card"])
	}
	// PagerDuty and Opsgenie show plain text: values as they are.
	if !strings.Contains(out["pagerduty.summary"], "Name: **Acme** [pay](https://evil.example)") {
		t.Errorf("summary %q", out["pagerduty.summary"])
	}
}

// TestChannelDefaultsNeverFail: odd shapes render without error.
func TestChannelDefaultsNeverFail(t *testing.T) {
	for _, msg := range []string{`{}`, `{"wallet":[1,2,3],"meta":7}`, `{"webhook_type":null,"object_type":"invoice","invoice":{"number":{"x":1},"customer":null}}`,
		`{"object_type":5,"type":"x"}`} {
		out := renderChannelDefaults(t, decode(t, msg))
		if strings.TrimSpace(out["pagerduty.summary"]) == "" || strings.TrimSpace(out["opsgenie.message"]) == "" {
			t.Errorf("%s: empty summary or message: %v", msg, out)
		}
	}
}

func TestMarkdownFuncs(t *testing.T) {
	data := map[string]any{"a": `@here *b* "q"`}
	for _, tc := range []struct {
		src  string
		esc  Escape
		want string
	}{
		{`{{ .a }}|{{ markdown .a }}`, Markdown, `\@here \*b\* "q"|\@here \*b\* "q"`},
		{`{"v":"{{ markdownJson .a }}"}`, Plain, `{"v":"\\@here \\*b\\* \"q\""}`},
	} {
		tm, err := Parse("t", tc.src, tc.esc, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		out, err := tm.Execute(data)
		if err != nil {
			t.Fatal(err)
		}
		if out != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.src, out, tc.want)
		}
	}
	if Markdown.String() != "markdown" {
		t.Error(Markdown.String())
	}
}
