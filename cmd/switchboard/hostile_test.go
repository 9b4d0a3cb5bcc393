package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/internal/testkit"
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
	testkit.EventuallyEvery(t, "the bomb deliveries to be dead", 15*time.Second, 100*time.Millisecond, func() bool {
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
	testkit.EventuallyEvery(t, "the forwarded messages", 15*time.Second, 50*time.Millisecond, func() bool { return hook.Count() == 2 })
	if r := request(t, s, "GET", "/healthz"); r.code != 200 {
		t.Errorf("healthz after the bombs: %d", r.code)
	}
	select {
	case err := <-s.exited:
		t.Fatalf("the server exited: %v", err)
	default:
	}
}

// TestSlackInjectionInert: a customer names its wallet
// "<!channel> <https://evil.example|Click here>" and its ID holds a
// backtick. Through the shipped wallet_depleted.tmpl the exact text and
// blocks Slack receives carry the name as inert text: no mention, no link,
// no way out of the code span or of the JSON strings.
func TestSlackInjectionInert(t *testing.T) {
	tmpl, err := os.ReadFile("../../templates/wallet_depleted.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	slack := testpeer.NewSlack(t)
	slack.RequireToken(slackToken)
	rules := `
sources:
  lago:
    lago:
      hmac_secret: ${LAGO_WEBHOOK_SECRET}
channels:
  ops:
    slack: {token: "${SLACK_BOT_TOKEN}", channel: "#ops", api_url: "${SLACK_API_URL}"}
rules:
  - name: wallet-depleted
    when: webhook_type == "wallet.depleted_ongoing_balance"
    send:
      - to: ops
        template: wallet_depleted.tmpl
`
	s := startServer(t, config{rules: rules, templates: map[string]string{"wallet_depleted.tmpl": string(tmpl)}, env: []string{
		"LAGO_WEBHOOK_SECRET=" + lagoSecret, "SLACK_BOT_TOKEN=" + slackToken, "SLACK_API_URL=" + slack.APIURL(),
	}})
	var m map[string]any
	if err := json.Unmarshal(fixture(t, "wallet.depleted_ongoing_balance"), &m); err != nil {
		t.Fatal(err)
	}
	w := m["wallet"].(map[string]any)
	w["name"] = "<!channel> <https://evil.example|Click here>"
	w["external_customer_id"] = "acme` <!here> `x"
	body, _ := json.Marshal(m)
	if r := postSigned(t, s, "inject-1", body); r.code != 202 {
		t.Fatalf("post: %d %s", r.code, r.body)
	}
	reqs, err := slack.WaitFor(1, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantText := ":warning: Wallet *&lt;!channel&gt; &lt;https://evil.example|Click here&gt;* of customer `acmeˋ &lt;!here&gt; ˋx` is depleted: ongoing balance $0.00, 0.0 credits left."
	if got := reqs[0].Text(); got != wantText {
		t.Errorf("text\n got %q\nwant %q", got, wantText)
	}
	wantBlocks := `[{"type":"header","text":{"type":"plain_text","text":"Prepaid wallet depleted"}},` +
		`{"type":"section","fields":[{"type":"mrkdwn","text":"*Customer*\nacmeˋ \u0026lt;!here\u0026gt; ˋx"},` +
		`{"type":"mrkdwn","text":"*Wallet*\n\u0026lt;!channel\u0026gt; \u0026lt;https://evil.example|Click here\u0026gt;"},` +
		`{"type":"mrkdwn","text":"*Ongoing balance*\n$0.00"},{"type":"mrkdwn","text":"*Credits left*\n0.0"}]}]`
	if got := string(reqs[0].Blocks()); got != wantBlocks {
		t.Errorf("blocks\n got %s\nwant %s", got, wantBlocks)
	}
	// What Slack reads: no "<!" and no "<http" anywhere in the text objects.
	var blocks []struct {
		Fields []struct{ Text string } `json:"fields"`
	}
	if err := json.Unmarshal(reqs[0].Blocks(), &blocks); err != nil {
		t.Fatalf("blocks are not JSON: %v", err)
	}
	for _, b := range blocks {
		for _, f := range b.Fields {
			if strings.Contains(f.Text, "<") || strings.Contains(f.Text, "`") {
				t.Errorf("mrkdwn field %q can mention, link or break a code span", f.Text)
			}
		}
	}
}
