package router

import (
	"testing"
	"time"
)

// TestChannelOutageSettings: retry backoff, breaker and on_failure take
// their defaults, can be set per channel, and the top-level on_failure
// applies to every channel but itself.
func TestChannelOutageSettings(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, `
on_failure: ops
channels:
  ops:
    slack: {token: xoxb-test, channel: "#ops"}
  mail:
    email: {host: localhost, port: 2525, tls: none, from: "Ops <ops@example.com>", to: [ops@example.com]}
    on_failure: hook
  hook:
    http: {url: "https://hooks.example.com/in"}
    retry: {backoff: 1s, max_backoff: 1m}
    breaker: {failures: 2, probe: 10s}
rules: []
`, nil))
	tests := []struct {
		channel             string
		onFailure           string
		backoff, maxBackoff time.Duration
		failures            int
		probe               time.Duration
	}{
		{"ops", "", 5 * time.Second, 8 * time.Hour, 5, 30 * time.Second},
		{"mail", "hook", 5 * time.Second, 8 * time.Hour, 5, 30 * time.Second},
		{"hook", "ops", time.Second, time.Minute, 2, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			ch := rs.Channels[tt.channel]
			if ch.OnFailure != tt.onFailure || ch.Backoff != tt.backoff || ch.MaxBackoff != tt.maxBackoff ||
				ch.BreakerFailures != tt.failures || ch.BreakerProbe != tt.probe {
				t.Fatalf("got on_failure %q backoff %v/%v breaker %d/%v", ch.OnFailure, ch.Backoff, ch.MaxBackoff,
					ch.BreakerFailures, ch.BreakerProbe)
			}
		})
	}
}

func TestRerender(t *testing.T) {
	rs := mustLoad(t, writeConfig(t, threeChannels+`
rules:
  - name: r
    when: "true"
    send: [{to: ops, message: "v2 {{ .invoice.number }}"}]
`, nil))
	body := []byte(`{"webhook_type":"invoice.created","invoice":{"number":"INV-7"}}`)
	at := time.Unix(1700000000, 0).UTC()
	p, err := rs.Rerender("r", "ops", "m1", "lago", at, body)
	if err != nil || p.Text != "v2 INV-7" {
		t.Fatalf("Rerender = %+v, %v", p, err)
	}
	for _, tt := range []struct{ rule, channel, want string }{
		{"gone", "ops", `rule "gone" no longer exists`},
		{"r", "hook", `rule "r" no longer sends to channel "hook"`},
	} {
		if _, err := rs.Rerender(tt.rule, tt.channel, "m1", "lago", at, body); err == nil || err.Error() != tt.want {
			t.Errorf("Rerender(%s, %s) = %v, want %s", tt.rule, tt.channel, err, tt.want)
		}
	}
}
