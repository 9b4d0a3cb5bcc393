// Package wiring is the one place that knows every channel kind and every
// signature verifier: it registers each notifier package's descriptor
// (notifiers.Kind), and its Builder is what the router compiles a rules
// file with (router.Builder: the kinds, and each source's verifier).
// Adding a kind is its package and one line in kinds.
package wiring

import (
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/discord"
	"github.com/switchboard-dev/switchboard/notifiers/email"
	"github.com/switchboard-dev/switchboard/notifiers/opsgenie"
	"github.com/switchboard-dev/switchboard/notifiers/pagerduty"
	"github.com/switchboard-dev/switchboard/notifiers/slack"
	"github.com/switchboard-dev/switchboard/notifiers/teams"
	"github.com/switchboard-dev/switchboard/notifiers/webhook"
)

// kinds are the channel kinds, in the order the editor offers them.
var kinds = []*notifiers.Kind{
	&slack.Kind, &email.Kind, &webhook.Kind,
	&pagerduty.Kind, &opsgenie.Kind, &teams.Kind, &discord.Kind,
}

// Kinds returns every channel kind, in the order the editor offers them.
func Kinds() []*notifiers.Kind { return kinds }

// KindNames returns the names of every channel kind, in the order the
// editor offers them.
func KindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return names
}

// Kind returns the channel kind named name ("slack", "email", "http").
func Kind(name string) (*notifiers.Kind, bool) {
	for _, k := range kinds {
		if k.Name == name {
			return k, true
		}
	}
	return nil, false
}
