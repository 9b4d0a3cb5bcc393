package config

import (
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// ScalarOffsetPos maps a rune offset inside a scalar's value to a position
// in the file. It handles plain and quoted scalars on one line and block
// scalars (`when: >-` or `|`), where each source line contributes its text
// plus one joining character (a newline or, when folded, a space).
func ScalarOffsetPos(lines []string, n ast.Node, offset int) Pos {
	start := NodePos(n)
	if start.Line == 0 {
		return start
	}
	tk := n.GetToken()
	if lit, ok := n.(*ast.LiteralNode); ok {
		// The value starts on the line after the indicator.
		tk = lit.Start
		return blockOffsetPos(lines, tk.Position.Line+1, offset)
	}
	col := start.Col + offset
	if tk != nil && (tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType) {
		col = start.Col + 1 + offset
		// goccy reports some quoted scalars at the quote, others after it.
		if l := start.Line - 1; l < len(lines) && start.Col-1 < len(lines[l]) && start.Col-1 >= 0 {
			if c := lines[l][start.Col-1]; c != '"' && c != '\'' {
				col = start.Col + offset
			}
		}
	}
	if l := start.Line - 1; l >= 0 && l < len(lines) {
		// Plain multi-line scalars continue on the following lines.
		rest := utf8.RuneCountInString(lines[l]) - (start.Col - 1)
		if offset > rest && tk != nil && tk.Type != token.DoubleQuoteType && tk.Type != token.SingleQuoteType {
			return blockOffsetPos(lines, start.Line+1, offset-rest-1)
		}
	}
	return Pos{Line: start.Line, Col: col}
}

// blockOffsetPos walks the lines of a block starting at line first
// (1-based) to find the rune offset.
func blockOffsetPos(lines []string, first, offset int) Pos {
	for l := first - 1; l < len(lines); l++ {
		text := lines[l]
		trimmed := strings.TrimLeft(text, " \t")
		indent := len(text) - len(trimmed)
		n := utf8.RuneCountInString(trimmed)
		if offset <= n {
			return Pos{Line: l + 1, Col: indent + offset + 1}
		}
		offset -= n + 1
	}
	return Pos{Line: first, Col: 1}
}
