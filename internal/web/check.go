package web

import (
	"github.com/switchboard-dev/switchboard/config"

	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// ExprCheck is the result of checking a `when` expression on its own.
type ExprCheck struct {
	// OK is true when the expression compiles.
	OK bool
	// Line and Column (1-based, in runes) locate the first error inside
	// the expression; zero when unknown.
	Line, Column int
	// Message is the first error's message, in plain words.
	Message string
	// Detail is the message as the expression language says it, when
	// Message says it in other words.
	Detail string
	// Warnings are the catalog's warnings (a field path that does not
	// exist in the pinned event type), with their positions.
	Warnings []config.Diagnostic
}

// checkPrefix is the rules file an expression is checked in. The
// expression goes in a block scalar starting on checkLine, indented by
// checkIndent, so a diagnostic's position maps back to the expression.
const checkPrefix = `channels:
  check:
    http:
      url: http://127.0.0.1:9/
rules:
  - name: check
    send:
      - to: check
    when: |-
`

const (
	checkLine   = 10
	checkIndent = 6
)

// CheckExpression compiles a `when` expression exactly as the loader does,
// by compiling a one-rule file: there is one compiler, so the editor can
// never disagree with a reload.
func CheckExpression(catalog *lago.Catalog, when string) (ExprCheck, error) {
	if strings.TrimSpace(when) == "" {
		return ExprCheck{Line: 1, Column: 1, Message: "the condition is empty"}, nil
	}
	var b strings.Builder
	b.WriteString(checkPrefix)
	for _, line := range strings.Split(strings.ReplaceAll(when, "\r\n", "\n"), "\n") {
		b.WriteString(strings.Repeat(" ", checkIndent))
		b.WriteString(line)
		b.WriteByte('\n')
	}
	rs, warnings, err := router.Compile("check.yaml", []byte(b.String()), nil, router.LoadOptions{
		Builder: wiring.Builder{},
		DryRun:  true, Catalog: catalog, Env: func(string) (string, bool) { return "", false },
	})
	if rs != nil {
		defer rs.Close()
	}
	out := ExprCheck{OK: err == nil}
	for _, d := range warnings {
		out.Warnings = append(out.Warnings, exprDiag(d))
	}
	if err == nil {
		return out, nil
	}
	le, ok := err.(*config.LoadError)
	if !ok {
		return ExprCheck{}, fmt.Errorf("check expression: %w", err)
	}
	out.Warnings = nil
	for _, d := range le.Diagnostics {
		d = exprDiag(d)
		if d.Severity == config.SeverityWarning {
			out.Warnings = append(out.Warnings, d)
			continue
		}
		if out.Message == "" {
			out.Line, out.Column, out.Message = d.Line, d.Column, inWords(d.Message)
			if out.Message != d.Message {
				out.Detail = d.Message
			}
		}
	}
	return out, nil
}

// exprDiag maps a diagnostic's file position to the expression's.
func exprDiag(d config.Diagnostic) config.Diagnostic {
	if d.Line >= checkLine {
		d.Line -= checkLine - 1
		d.Column = max(1, d.Column-checkIndent)
	} else {
		d.Line, d.Column = 0, 0
	}
	d.File, d.Rule = "", ""
	d.Message = strings.TrimPrefix(d.Message, "when: ")
	return d
}
