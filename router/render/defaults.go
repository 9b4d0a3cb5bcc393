package render

import (
	"embed"
	"fmt"
)

//go:embed defaults/*.tmpl
var defaultFiles embed.FS

// Default returns the built-in template file of a channel kind — "slack"
// (a text block), "email" (subject, text and html blocks) or "http" (no
// block: the router forwards the original message bytes), "pagerduty"
// (summary, details, source), "opsgenie" (message, description, details),
// "teams" (an Adaptive Card) or "discord" (embeds) — used when a
// send target has neither template nor message. It returns nil for any
// other kind. The defaults name the event type and the object's
// identifying fields, and never fail on a message of another shape.
func Default(kind string) *File {
	f, err := parseDefault(kind)
	if err != nil {
		return nil
	}
	return f
}

// parseDefault parses the built-in template of kind; the tests make sure
// every one parses and compiles.
func parseDefault(kind string) (*File, error) {
	switch kind {
	case "slack", "email", "http", "pagerduty", "opsgenie", "teams", "discord":
	default:
		return nil, fmt.Errorf("no built-in template for %q", kind)
	}
	src, err := defaultFiles.ReadFile("defaults/" + kind + ".tmpl")
	if err != nil {
		return nil, fmt.Errorf("read built-in %s template: %w", kind, err)
	}
	return parseFile("(built-in "+kind+" template)", string(src))
}
