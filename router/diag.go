package router

import (
	"fmt"
	"sort"

	"github.com/switchboard-dev/switchboard/config"
)

// diags collects diagnostics while a configuration is loaded.
type diags struct {
	list []config.Diagnostic
}

func (ds *diags) add(sev config.Severity, file string, p pos, rule, field, format string, args ...any) {
	ds.list = append(ds.list, config.Diagnostic{
		Severity: sev, File: file, Line: p.line, Column: p.col,
		Rule: rule, Field: field, Message: fmt.Sprintf(format, args...),
	})
}

// hasErrorsSince reports whether an error was added after the first n
// diagnostics.
func (ds *diags) hasErrorsSince(n int) bool {
	for _, d := range ds.list[min(n, len(ds.list)):] {
		if d.Severity == config.SeverityError {
			return true
		}
	}
	return false
}

func (ds *diags) hasErrors() bool {
	for _, d := range ds.list {
		if d.Severity == config.SeverityError {
			return true
		}
	}
	return false
}

// sorted returns the diagnostics ordered by file and position, keeping the
// order of discovery for equal positions.
func (ds *diags) sorted() []config.Diagnostic {
	out := append([]config.Diagnostic(nil), ds.list...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return out
}

// pos is a 1-based line and column; zero means unknown.
type pos struct{ line, col int }
