package config

import (
	"fmt"
	"sort"
)

// Diags collects diagnostics while a configuration is loaded.
type Diags struct {
	// List holds the diagnostics in the order they were found.
	List []Diagnostic
}

// Add records a diagnostic at p in file; rule and field say what it is
// about (either may be empty).
func (ds *Diags) Add(sev Severity, file string, p Pos, rule, field, format string, args ...any) {
	ds.List = append(ds.List, Diagnostic{
		Severity: sev, File: file, Line: p.Line, Column: p.Col,
		Rule: rule, Field: field, Message: fmt.Sprintf(format, args...),
	})
}

// HasErrorsSince reports whether an error was added after the first n
// diagnostics.
// HasErrors reports whether any error was added.
func (ds *Diags) HasErrorsSince(n int) bool {
	for _, d := range ds.List[min(n, len(ds.List)):] {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// HasErrors reports whether any error was added.
func (ds *Diags) HasErrors() bool {
	for _, d := range ds.List {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Sorted returns the diagnostics ordered by file and position, keeping the
// order of discovery for equal positions.
func (ds *Diags) Sorted() []Diagnostic {
	out := append([]Diagnostic(nil), ds.List...)
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

// Pos is a 1-based line and column; zero means unknown.
type Pos struct{ Line, Col int }
