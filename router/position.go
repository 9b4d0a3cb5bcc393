package router

import (
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// scalarOffsetPos maps a rune offset inside a scalar's value to a position
// in the file. It handles plain and quoted scalars on one line and block
// scalars (`when: >-` or `|`), where each source line contributes its text
// plus one joining character (a newline or, when folded, a space).
func scalarOffsetPos(lines []string, n ast.Node, offset int) pos {
	start := nodePos(n)
	if start.line == 0 {
		return start
	}
	tk := n.GetToken()
	if lit, ok := n.(*ast.LiteralNode); ok {
		// The value starts on the line after the indicator.
		tk = lit.Start
		return blockOffsetPos(lines, tk.Position.Line+1, offset)
	}
	col := start.col + offset
	if tk != nil && (tk.Type == token.DoubleQuoteType || tk.Type == token.SingleQuoteType) {
		col = start.col + 1 + offset
		// goccy reports some quoted scalars at the quote, others after it.
		if l := start.line - 1; l < len(lines) && start.col-1 < len(lines[l]) && start.col-1 >= 0 {
			if c := lines[l][start.col-1]; c != '"' && c != '\'' {
				col = start.col + offset
			}
		}
	}
	if l := start.line - 1; l >= 0 && l < len(lines) {
		// Plain multi-line scalars continue on the following lines.
		rest := utf8.RuneCountInString(lines[l]) - (start.col - 1)
		if offset > rest && tk != nil && tk.Type != token.DoubleQuoteType && tk.Type != token.SingleQuoteType {
			return blockOffsetPos(lines, start.line+1, offset-rest-1)
		}
	}
	return pos{start.line, col}
}

// blockOffsetPos walks the lines of a block starting at line first
// (1-based) to find the rune offset.
func blockOffsetPos(lines []string, first, offset int) pos {
	for l := first - 1; l < len(lines); l++ {
		text := lines[l]
		trimmed := strings.TrimLeft(text, " \t")
		indent := len(text) - len(trimmed)
		n := utf8.RuneCountInString(trimmed)
		if offset <= n {
			return pos{l + 1, indent + offset + 1}
		}
		offset -= n + 1
	}
	return pos{first, 1}
}
