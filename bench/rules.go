package main

import (
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/lago"
)

// matchingRule is the name of the one rule that matches the load's
// messages.
const matchingRule = "invoice-created"

// rulesFile returns a Switchboard rules file with n rules: n-1 that never
// match the load, spread round-robin over the catalog's webhook types,
// each `webhook_type == "<T>" && <object>.lago_id == "<unique>"`, then the
// one that matches invoice.created. Every rule delivers to one HTTP
// channel pointing at sinkURL, with the default body (the message as
// received) and concurrency sends in flight at once. The source is an
// unsigned Lago source, served at /webhooks/lago.
func rulesFile(types []lago.Type, n int, sinkURL string, concurrency int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `sources:
  lago:
    lago: {}
channels:
  sink:
    http:
      url: %q
    concurrency: %d
rules:
`, sinkURL, concurrency)
	for i := range n - 1 {
		t := types[i%len(types)]
		fmt.Fprintf(&b, "  - name: never-%05d\n    when: 'webhook_type == %q && %s.lago_id == %q'\n    send: [{to: sink}]\n",
			i, t.WebhookType, t.ObjectKey, fakeID(i))
	}
	fmt.Fprintf(&b, "  - name: %s\n    when: webhook_type == \"invoice.created\"\n    send: [{to: sink}]\n", matchingRule)
	return b.String()
}

// fakeID is a unique UUID-shaped identifier no message of the load has.
func fakeID(i int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
}
