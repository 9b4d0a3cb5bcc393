package config

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// RuleChunk is a run of consecutive entries of a rules file's `rules:`
// list, as a text that parses on its own to the nodes the whole file
// gives them, at the same lines and columns.
type RuleChunk struct {
	// Src is blank lines up to the line before the chunk's first entry,
	// "rules:" there, then the entries' lines as written.
	Src []byte
	// First is the position of the chunk's first rule in the list;
	// Count the number of rules it holds.
	First, Count int
}

// SplitRules cuts the rules of a rules file into chunks of about size
// entries, so that a large file can be parsed and compiled a chunk at a
// time: the whole file's syntax tree is some 25 times its size. head is
// src with the list's lines blanked (every other line where it was). ok
// is false when the file is not laid out plainly enough to cut safely
// (one top-level `rules:` line followed by entries "- " at one
// indentation, no document markers, no carriage returns, no tabs); parse
// the whole file then.
func SplitRules(src []byte, size int) (head []byte, chunks []RuleChunk, ok bool) {
	if bytes.ContainsAny(src, "\r\t") {
		return nil, nil, false
	}
	lines := strings.SplitAfter(string(src), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "...") || strings.HasPrefix(l, "%") {
			return nil, nil, false
		}
		if strings.TrimRight(l, " \n") == "rules:" {
			if start >= 0 {
				return nil, nil, false
			}
			start = i
		}
	}
	if start < 0 {
		return nil, nil, false
	}
	// The list runs until the next top-level key.
	end := len(lines)
	indent := -1
	var firsts []int // lines starting an entry
	for i := start + 1; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\n")
		trimmed := strings.TrimLeft(l, " ")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		n := len(l) - len(trimmed)
		if n == 0 && trimmed[0] != '-' {
			end = i
			break
		}
		if indent < 0 {
			indent = n
		}
		switch {
		case n < indent:
			return nil, nil, false
		case n == indent && strings.HasPrefix(trimmed, "- "):
			firsts = append(firsts, i)
		case n == indent:
			return nil, nil, false // "-" alone, or a key beside the list
		}
	}
	if len(firsts) == 0 || firsts[0] != firstContent(lines, start+1) {
		return nil, nil, false
	}
	var h strings.Builder
	h.Grow(len(src))
	for i, l := range lines {
		if i > start && i < end {
			if strings.HasSuffix(l, "\n") {
				h.WriteByte('\n')
			}
			continue
		}
		h.WriteString(l)
	}
	for k := 0; k < len(firsts); k += size {
		from := firsts[k]
		to := end
		if k+size < len(firsts) {
			to = firsts[k+size]
		}
		var b strings.Builder
		b.WriteString(strings.Repeat("\n", from-1))
		b.WriteString("rules:\n")
		for _, l := range lines[from:to] {
			b.WriteString(l)
		}
		chunks = append(chunks, RuleChunk{Src: []byte(b.String()), First: k, Count: min(size, len(firsts)-k)})
	}
	return []byte(h.String()), chunks, true
}

// firstContent returns the first line from i on that is neither blank
// nor a comment.
func firstContent(lines []string, i int) int {
	for ; i < len(lines); i++ {
		if t := strings.TrimSpace(lines[i]); t != "" && t[0] != '#' {
			return i
		}
	}
	return -1
}

// ParseRuleChunk parses and decodes the rules of one chunk of file, as
// Parse does the whole list. ok is false when the chunk does not parse,
// holds another number of rules, or uses anchors or aliases (which may
// refer across chunks): parse the whole file then, which reports the
// same problems in full.
func ParseRuleChunk(file string, c RuleChunk, ds *Diags) (rules []RuleDoc, ok bool) {
	f, err := parser.ParseBytes(c.Src, 0)
	if err != nil || len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return nil, false
	}
	seq, isSeq := Lookup(f.Docs[0].Body, "rules").(*ast.SequenceNode)
	if !isSeq || len(seq.Values) != c.Count {
		return nil, false
	}
	before := len(ds.List)
	rules = parseRules(file, seq, c.First, ds)
	for _, rd := range rules {
		if !rd.fast && hasAnchors(rd.Node) {
			ds.List = ds.List[:before]
			return nil, false
		}
	}
	return rules, true
}

// hasAnchors reports whether an anchor, an alias or a merge key appears
// under n.
func hasAnchors(n ast.Node) bool {
	found := false
	ast.Walk(visitFunc(func(x ast.Node) bool {
		switch x.(type) {
		case *ast.AnchorNode, *ast.AliasNode, *ast.MergeKeyNode:
			found = true
		}
		return !found
	}), n)
	return found
}

// rulesKey names a rule's entry in messages.
func rulesKey(i int) string { return fmt.Sprintf("rules[%d]", i) }
