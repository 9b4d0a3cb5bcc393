package rulesfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/switchboard-dev/switchboard/config"
	"github.com/switchboard-dev/switchboard/router"
)

// ErrNotFound is returned when an edit names a rule the file does not hold.
var ErrNotFound = errors.New("no such rule")

// ErrFlowStyle is returned when the rules list is written in flow style
// (rules: [{…}]), which cannot be edited line by line.
var ErrFlowStyle = errors.New("the rules list is written in flow style ([…]); write it as a block list (- name: …) to edit it here")

// Hash returns the editing version of a rules file: a content hash of its
// bytes alone. Unlike router.Ruleset.Version it leaves templates out, so it
// changes exactly when the rules file does.
func Hash(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])[:16]
}

// entry is one item of the rules list and the bytes it spans.
type entry struct {
	name string
	node ast.Node
	// first and last are the 0-based lines of the item's hyphen and of its
	// last content line; comments and blank lines after it are not part of
	// it.
	first, last int
}

// File is a parsed rules file, ready for edits. Edits return new contents
// and leave the File unchanged.
type File struct {
	src []byte
	// lineStart[i] is the offset of line i; one extra entry holds len(src).
	lineStart []int
	entries   spans
	// dashCol is the 0-based column of the items' hyphens.
	dashCol int
	// rulesLine is the 0-based line of the rules key, -1 if absent.
	rulesLine int
	// emptyFlow is set for `rules: []`.
	emptyFlow bool
}

// Parse reads the rules list of src. It fails when src is not YAML or
// when the list cannot be edited line by line.
func Parse(src []byte) (*File, error) {
	f := lineIndex(src)
	f.rulesLine, f.dashCol = -1, 2
	values, err := topLevel(src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	for _, mv := range values {
		if mv.Key.GetToken().Value != "rules" {
			continue
		}
		f.rulesLine = mv.Key.GetToken().Position.Line - 1
		switch v := mv.Value.(type) {
		case *ast.NullNode:
		case *ast.SequenceNode:
			if v.IsFlowStyle {
				if len(v.Values) > 0 {
					return nil, ErrFlowStyle
				}
				f.emptyFlow = true
				break
			}
			if err := f.readEntries(v); err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("parse rules file: rules is not a list")
		}
		break
	}
	return f, nil
}

func (f *File) readEntries(seq *ast.SequenceNode) error {
	for i, e := range seq.Entries {
		first := e.Start.Position.Line - 1
		if i == 0 {
			f.dashCol = e.Start.Position.Column - 1
		} else if e.Start.Position.Column-1 != f.dashCol {
			return errors.New("parse rules file: the rules list is not evenly indented")
		}
		name := ""
		if mn, ok := e.Value.(*ast.MappingNode); ok {
			for _, mv := range mn.Values {
				if mv.Key.GetToken().Value == "name" {
					var s string
					if config.NodeToValue(mv.Value, &s) == nil {
						name = s
					}
				}
			}
		} else if mv, ok := e.Value.(*ast.MappingValueNode); ok && mv.Key.GetToken().Value == "name" {
			var s string
			if config.NodeToValue(mv.Value, &s) == nil {
				name = s
			}
		}
		f.entries = append(f.entries, entry{name: name, node: e.Value, first: first})
	}
	for i := range f.entries {
		var end int
		if i+1 < len(f.entries) {
			end = f.entries[i+1].first - 1
		} else {
			end = f.listEnd(f.entries[i].first) - 1
		}
		// Blank lines and comments at the hyphen's column or left of it
		// that close the span belong to what follows, not to this item.
		for end > f.entries[i].first && f.isGap(end) {
			end--
		}
		f.entries[i].last = end
	}
	return nil
}

func (f *File) lines() int { return len(f.lineStart) - 1 }

func (f *File) line(i int) string {
	return string(f.src[f.lineStart[i]:f.lineStart[i+1]])
}

// indent returns the line's indentation and whether it holds only spaces
// or a comment.
func (f *File) indent(i int) (col int, blank, comment bool) {
	s := strings.TrimRight(f.line(i), "\r\n")
	t := strings.TrimLeft(s, " \t")
	return len(s) - len(t), t == "", strings.HasPrefix(t, "#")
}

func (f *File) isGap(i int) bool {
	col, blank, comment := f.indent(i)
	return blank || comment && col <= f.dashCol
}

// listEnd returns the first line after the rules list that follows line
// from: a key or document marker left of the items, or at their column
// without a hyphen.
func (f *File) listEnd(from int) int {
	for i := from + 1; i < f.lines(); i++ {
		col, blank, comment := f.indent(i)
		if blank || comment {
			continue
		}
		t := strings.TrimSpace(f.line(i))
		if col < f.dashCol || col == f.dashCol && !strings.HasPrefix(t, "-") ||
			col == 0 && (strings.HasPrefix(t, "---") || strings.HasPrefix(t, "...")) {
			return i
		}
	}
	return f.lines()
}

// Names returns the names of the rules in file order.
func (f *File) Names() []string { return f.entries.names() }

func (f *File) find(name string) int { return f.entries.find(name) }

// Has reports whether the file holds a rule with this name.
func (f *File) Has(name string) bool { return f.find(name) >= 0 }

// Rule decodes the named rule as written.
func (f *File) Rule(name string) (router.RuleConfig, bool) {
	var rc router.RuleConfig
	i := f.find(name)
	if i < 0 || config.NodeToValue(f.entries[i].node, &rc) != nil {
		return rc, false
	}
	return rc, true
}

// span returns the byte range of lines first..last.
func (f *File) span(first, last int) (int, int) {
	return f.lineStart[first], f.lineStart[last+1]
}

func splice(src []byte, from, to int, with []byte) []byte {
	out := make([]byte, 0, len(src)-(to-from)+len(with))
	out = append(out, src[:from]...)
	out = append(out, with...)
	return append(out, src[to:]...)
}

// Replace returns the file with the named rule's lines replaced by r,
// which may carry a new name. Comments above the rule stay.
func (f *File) Replace(name string, r router.RuleConfig) ([]byte, error) {
	i := f.find(name)
	if i < 0 {
		return nil, ErrNotFound
	}
	item, err := f.item(r)
	if err != nil {
		return nil, err
	}
	from, to := f.span(f.entries[i].first, f.entries[i].last)
	if !bytes.HasSuffix(f.src[from:to], []byte("\n")) {
		item = bytes.TrimSuffix(item, []byte("\n"))
	}
	return splice(f.src, from, to, item), nil
}

// Delete returns the file without the named rule. Comment lines directly
// above it (no blank line between) go with it, unless they directly follow
// the rules key, where they describe the list. One blank line that
// separated it from its neighbours goes too: the one after it, or the one
// before it when nothing blank follows.
func (f *File) Delete(name string) ([]byte, error) {
	i := f.find(name)
	if i < 0 {
		return nil, ErrNotFound
	}
	first, last := f.entries.removal(f, i, f.rulesLine, f.dashCol, false)
	from, to := f.span(first, last)
	return splice(f.src, from, to, nil), nil
}

// Append returns the file with r added after the last rule, separated by
// a blank line when the existing rules are.
func (f *File) Append(r router.RuleConfig) ([]byte, error) {
	item, err := f.item(r)
	if err != nil {
		return nil, err
	}
	switch {
	case len(f.entries) > 0:
		last := f.entries[len(f.entries)-1].last
		at := f.lineStart[last+1]
		prefix := []byte{}
		if !bytes.HasSuffix(f.src[:at], []byte("\n")) {
			prefix = append(prefix, '\n')
		}
		if f.blankBetween() {
			prefix = append(prefix, '\n')
		}
		return splice(f.src, at, at, append(prefix, item...)), nil
	case f.rulesLine >= 0:
		line := f.line(f.rulesLine)
		from, to := f.span(f.rulesLine, f.rulesLine)
		key := strings.TrimRight(line, "\r\n")
		if f.emptyFlow {
			k, rest, _ := strings.Cut(key, "[]")
			key = strings.TrimRight(k, " ") + rest
		}
		return splice(f.src, from, to, append([]byte(key+"\n"), item...)), nil
	default:
		out := append([]byte(nil), f.src...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, "rules:\n"...)
		return append(out, item...), nil
	}
}

// Only returns the file with r as its single rule: the rest of the
// configuration (sources, channels) as it is, to compile r on its own.
func (f *File) Only(r router.RuleConfig) ([]byte, error) {
	if len(f.entries) == 0 {
		return f.Append(r)
	}
	item, err := f.item(r)
	if err != nil {
		return nil, err
	}
	from, to := f.span(f.entries[0].first, f.entries[len(f.entries)-1].last)
	if !bytes.HasSuffix(f.src[from:to], []byte("\n")) {
		item = bytes.TrimSuffix(item, []byte("\n"))
	}
	return splice(f.src, from, to, item), nil
}

// blankBetween reports whether the last two rules are separated by a
// blank line (true for a single rule: the common layout).
func (f *File) blankBetween() bool { return f.entries.blankBetween(f, true) }

// item renders r as a list item at the file's indentation, and checks
// that it reads back as r.
func (f *File) item(r router.RuleConfig) ([]byte, error) {
	text, err := Marshal(r)
	if err != nil {
		return nil, err
	}
	pad := strings.Repeat(" ", f.dashCol)
	if len(f.entries) == 0 && f.rulesLine >= 0 {
		col, _, _ := f.indent(f.rulesLine)
		pad = strings.Repeat(" ", col+2)
	}
	if len(f.entries) == 0 && f.rulesLine < 0 {
		pad = "  "
	}
	var b bytes.Buffer
	for i, l := range strings.SplitAfter(strings.TrimSuffix(string(text), "\n"), "\n") {
		switch {
		case i == 0:
			b.WriteString(pad + "- " + l)
		case strings.TrimSpace(l) == "":
			b.WriteString(l)
		default:
			b.WriteString(pad + "  " + l)
		}
	}
	b.WriteByte('\n')
	var back []router.RuleConfig
	if err := yaml.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 1 || !sameRule(back[0], r) {
		return nil, errors.New("the rule cannot be written as YAML that reads back the same")
	}
	return b.Bytes(), nil
}

func sameRule(a, b router.RuleConfig) bool {
	if a.IsEnabled() != b.IsEnabled() {
		return false
	}
	a.Enabled, b.Enabled = nil, nil
	if len(a.Send) == 0 && len(b.Send) == 0 {
		a.Send, b.Send = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// Marshal renders one rule as a YAML mapping with the rules file's keys,
// in their usual order; multi-line strings become literal blocks. An
// enabled rule leaves `enabled` out.
func Marshal(r router.RuleConfig) ([]byte, error) {
	if r.IsEnabled() {
		r.Enabled = nil
	}
	// The YAML encoder writes U+2028, U+2029 and U+0085 raw, in plain or
	// literal scalars, where YAML 1.1 readers and text editors see line
	// breaks that are not there. Values holding one are written as
	// double-quoted scalars with the character escaped instead.
	r.Send = slices.Clone(r.Send)
	fields := []*string{&r.Description, &r.When}
	for i := range r.Send {
		fields = append(fields, &r.Send[i].Message, &r.Send[i].Template, &r.Send[i].To)
	}
	if r.Throttle != nil {
		t := *r.Throttle
		r.Throttle = &t
		fields = append(fields, &t.Key)
	}
	if r.Group != nil {
		g := *r.Group
		r.Group = &g
		fields = append(fields, &g.By)
	}
	q := &separatorQuoter{quoted: map[string]string{}}
	for _, f := range fields {
		*f = q.walk(*f).(string)
	}
	b, err := yaml.MarshalWithOptions(r, yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return nil, fmt.Errorf("encode rule: %w", err)
	}
	return q.restore(b), nil
}
