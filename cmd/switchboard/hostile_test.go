package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testpeer"
)

// TestTemplateBombOnIngest: a saved rule whose template blows up on the
// messages it matches (it doubles the invoice number forty times, or
// nests three ranges of 10,000 when there is a number). A matching webhook is accepted
// (202) and its delivery is dead-lettered at once with the budget as the
// reason; the process stays up, and the other rule's delivery of the same
// message, and the next message, are delivered.
func TestTemplateBombOnIngest(t *testing.T) {
	hook := testpeer.NewReceiver(t)
	rules := `
sources:
  lago:
    lago:
      hmac_secret: ${LAGO_WEBHOOK_SECRET}
channels:
  hook:
    http:
      url: ${HOOK_URL}
rules:
  - name: doubling
    when: "true"
    send:
      - to: hook
        message: '{{ $s := .invoice.number }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}{{ len $s }}'
  - name: nested
    when: "true"
    send:
      - to: hook
        message: '{{ $n := 0 }}{{ if .invoice.number }}{{ $n = 10000 }}{{ end }}{{ range until $n }}{{ range until $n }}{{ range until $n }}{{ end }}{{ end }}{{ end }}'
  - name: forward
    when: "true"
    send:
      - to: hook
`
	s := startServer(t, config{rules: rules, env: hookEnv(hook.URL())})
	bodies := markedBodies(t, "bomb", 2)
	for i, body := range bodies {
		if r := postSigned(t, s, fmt.Sprintf("bomb-%d", i), body); r.code != 202 {
			t.Fatalf("post %d: %d %s", i, r.code, r.body)
		}
	}
	var dead []storedDelivery
	poll(t, "the bomb deliveries to be dead", 15*time.Second, 100*time.Millisecond, func() bool {
		dead = cliDeliveries(t, "--data", s.dataDir(), "--status", "dead")
		return len(dead) == 4
	})
	for _, d := range dead {
		// The nested ranges end on the step budget, or on the time budget
		// on a slow machine (-race).
		if !strings.Contains(d.LastError, "render budget exceeded") {
			t.Errorf("dead delivery %s: %q; want the render budget as the reason", d.ID, d.LastError)
		}
		if d.Attempts != 0 {
			t.Errorf("dead delivery %s was attempted %d times; a render failure is never sent", d.ID, d.Attempts)
		}
	}
	poll(t, "the forwarded messages", 15*time.Second, 50*time.Millisecond, func() bool { return hook.Count() == 2 })
	if r := request(t, s, "GET", "/healthz"); r.code != 200 {
		t.Errorf("healthz after the bombs: %d", r.code)
	}
	select {
	case err := <-s.exited:
		t.Fatalf("the server exited: %v", err)
	default:
	}
}
