package rulesfile

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// topLevel parses src and returns the entries of its top-level mapping;
// none for an empty file.
func topLevel(src []byte, mode parser.Mode) ([]*ast.MappingValueNode, error) {
	doc, err := parser.ParseBytes(src, mode)
	if err != nil {
		return nil, fmt.Errorf("parse rules file: %w", err)
	}
	if len(doc.Docs) == 0 || doc.Docs[0].Body == nil {
		return nil, nil
	}
	switch n := doc.Docs[0].Body.(type) {
	case *ast.MappingNode:
		return n.Values, nil
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{n}, nil
	}
	return nil, errors.New("parse rules file: the file is not a mapping with sources, channels and rules")
}

// spans are the entries of one edited section of a rules file, the rules
// list or the channels mapping, in file order: the line-span logic both
// editors share.
type spans []entry

// names returns the entries' names in file order.
func (s spans) names() []string {
	out := make([]string, len(s))
	for i, e := range s {
		out[i] = e.name
	}
	return out
}

// find returns the index of the entry named name, or -1.
func (s spans) find(name string) int {
	for i, e := range s {
		if e.name == name {
			return i
		}
	}
	return -1
}

// blankBetween reports whether the last two entries are separated by a
// blank line of f; single is the answer for fewer than two entries.
func (s spans) blankBetween(f *File, single bool) bool {
	n := len(s)
	if n < 2 {
		return single
	}
	for i := s[n-2].last + 1; i < s[n-1].first; i++ {
		if _, blank, _ := f.indent(i); blank {
			return true
		}
	}
	return false
}

// removal returns the lines of f that deleting entry i removes. Comment
// lines directly above it (no blank line between, at most at col, the
// entries' column) go with it, unless they reach up to keyLine, the
// section's key, where they describe the section. One blank line that
// separated it from its neighbours goes too: the one after it, or the one
// before it when nothing blank follows. An entry at the top of the
// section takes the blank line after it; with commentedTop also when
// comments stand between it and the key.
func (s spans) removal(f *File, i, keyLine, col int, commentedTop bool) (first, last int) {
	first, last = s[i].first, s[i].last
	head := first
	for head-1 > keyLine {
		c, blank, comment := f.indent(head - 1)
		if blank || !comment || c > col {
			break
		}
		head--
	}
	top := head-1 <= keyLine
	if !top {
		first = head
	}
	blankAfter := false
	if last+1 < f.lines() {
		_, blankAfter, _ = f.indent(last + 1)
	}
	blankBefore := false
	if !top {
		_, blankBefore, _ = f.indent(first - 1)
	}
	switch {
	case blankAfter && (blankBefore || top && (commentedTop || first-1 <= keyLine)):
		last++
	case blankBefore && !blankAfter:
		first--
	}
	return first, last
}
