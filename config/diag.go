package config

import (
	"fmt"
	"strings"
)

// Severity tells errors, which make a configuration unusable, from
// warnings, which are reported but do not stop it loading.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Diagnostic is one problem found in the configuration, with the position
// it refers to.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	// Rule is the name of the rule concerned, if any.
	Rule string `json:"rule,omitempty"`
	// Field is the key concerned, e.g. "when" or "send[0].to".
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String formats the diagnostic as "file:line:col: [warning: ]rule "x": msg".
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Line, max(d.Column, 1))
	}
	b.WriteString(": ")
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if d.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", d.Rule)
	}
	b.WriteString(d.Message)
	return b.String()
}

// LoadError is returned when a configuration has at least one error. It
// holds every diagnostic found, warnings included.
type LoadError struct {
	Diagnostics []Diagnostic
}

func (e *LoadError) Error() string {
	errs := e.Errors()
	lines := make([]string, 0, len(errs))
	for _, d := range errs {
		lines = append(lines, d.String())
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d errors:\n%s", len(lines), strings.Join(lines, "\n"))
}

// Errors returns only the error diagnostics.
func (e *LoadError) Errors() []Diagnostic {
	var out []Diagnostic
	for _, d := range e.Diagnostics {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}
