package render

import (
	"fmt"

	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/notifiers/discord"
	"github.com/switchboard-dev/switchboard/notifiers/email"
	"github.com/switchboard-dev/switchboard/notifiers/opsgenie"
	"github.com/switchboard-dev/switchboard/notifiers/pagerduty"
	"github.com/switchboard-dev/switchboard/notifiers/slack"
	"github.com/switchboard-dev/switchboard/notifiers/teams"
	"github.com/switchboard-dev/switchboard/notifiers/webhook"
)

// builtinKinds are the kinds whose built-in templates the tests render.
var builtinKinds = []notifiers.Kind{slack.Kind, email.Kind, webhook.Kind, pagerduty.Kind, opsgenie.Kind, teams.Kind, discord.Kind}

// parseDefault parses the built-in template of the kind named kind, as
// the router does.
func parseDefault(kind string) (*File, error) {
	for _, k := range builtinKinds {
		if k.Name == kind {
			return ParseBuiltin(k.Name, k.Template)
		}
	}
	return nil, fmt.Errorf("no built-in template for %q", kind)
}

// Default returns the parsed built-in template of kind, nil for a name
// that is no kind's.
func Default(kind string) *File {
	f, err := parseDefault(kind)
	if err != nil {
		return nil
	}
	return f
}
