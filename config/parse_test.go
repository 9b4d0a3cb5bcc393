package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// chatConfig is a channel kind's block as a notifier package would
// declare it.
type chatConfig struct {
	Room string `yaml:"room"`
}

func (c *chatConfig) Validate() error {
	if c.Room == "" {
		return errors.New("room is required")
	}
	return nil
}

// chatKinds knows the kinds "chat" and "pager" (both decoded as chat
// blocks).
type chatKinds struct{}

func (chatKinds) KindNames() []string { return []string{"chat", "pager"} }
func (chatKinds) KindSettings(string) Settings {
	return new(chatConfig)
}

// TestParseChannels: a channel's kind block is decoded into its kind's
// configuration, every problem is reported at its position, and the
// schema itself names no kind.
func TestParseChannels(t *testing.T) {
	src := `channels:
  ops:
    timeout: 5s
    chat: {room: general}
  both:
    chat: {room: a}
    pager: {room: b}
  typo:
    chat: {rom: x}
  odd:
    chta: {}
rules: []
`
	var ds Diags
	doc := Parse("rules.yaml", []byte(src), &ds, chatKinds{})
	var got []string
	for _, d := range ds.Sorted() {
		got = append(got, d.String())
	}
	want := []string{
		`rules.yaml:9:12: unknown key "rom" (expected one of: room)`,
		`rules.yaml:11:5: unknown key "chta" (expected one of: breaker, chat, concurrency, on_failure, pacing, pager, rate, retry, schedule, timeout)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(doc.Channels) != 4 {
		t.Fatalf("%d channels", len(doc.Channels))
	}
	ops := doc.Channels[0]
	if !ops.OK || ops.Config.Kind != "chat" || ops.Config.Settings.(*chatConfig).Room != "general" || ops.Config.Timeout.String() != "5s" {
		t.Errorf("ops: %+v", ops)
	}
	if both := doc.Channels[1]; !reflect.DeepEqual(both.Kinds, []string{"chat", "pager"}) {
		t.Errorf("both: kinds %v", both.Kinds)
	}
	if doc.Channels[2].OK || doc.Channels[3].OK {
		t.Error("a channel with an unknown key is OK")
	}
}
