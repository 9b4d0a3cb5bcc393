package render

import (
	"fmt"
	"os"
)

// builtinFiles are the built-in templates of the channel kinds, each kept
// (and embedded as notifiers.Kind.Template) by the kind's package.
var builtinFiles = map[string]string{
	"slack":     "../../notifiers/slack/default.tmpl",
	"email":     "../../notifiers/email/default.tmpl",
	"http":      "../../notifiers/webhook/default.tmpl",
	"pagerduty": "../../notifiers/pagerduty/default.tmpl",
	"opsgenie":  "../../notifiers/opsgenie/default.tmpl",
	"teams":     "../../notifiers/teams/default.tmpl",
	"discord":   "../../notifiers/discord/default.tmpl",
}

// parseDefault parses the built-in template of the kind named kind, as
// the router does.
func parseDefault(kind string) (*File, error) {
	path, ok := builtinFiles[kind]
	if !ok {
		return nil, fmt.Errorf("no built-in template for %q", kind)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseBuiltin(kind, string(src))
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
