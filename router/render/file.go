package render

import (
	"fmt"
	"slices"
	"strings"
	"text/template/parse"
)

// KnownBlocks are the block names channels read; see File.
func KnownBlocks() []string {
	return append([]string{"blocks", "body", "content_type", "html", "subject", "text",
		"digest_blocks", "digest_body", "digest_html", "digest_subject", "digest_text"}, serviceBlocks()...)
}

// serviceBlocks are the blocks of the PagerDuty (summary, details,
// source), Opsgenie (message, description, details), Teams (card, text)
// and Discord (content, embeds) channels.
func serviceBlocks() []string {
	return []string{"card", "content", "description", "details", "embeds", "message", "source", "summary"}
}

// File is a template file: it defines named blocks with
// {{ define "text" }}…{{ end }}. The known block names are text, blocks,
// subject, html, body and content_type; any other define is a helper that
// blocks may call with {{ template "x" . }}. Text outside the defines is
// ignored. The digest_text, digest_blocks, digest_subject, digest_html and
// digest_body blocks render the digests of grouping rules. A File is
// immutable and safe for concurrent use.
type File struct {
	name  string
	src   string
	trees map[string]*parse.Tree // pristine: Block rewrites copies
}

// ParseFile checks the syntax of a whole template file (unknown functions
// included). Errors are *Error values with the line and column in the
// file. A file that defines none of text, blocks, subject, html and body
// is an error.
func ParseFile(name, src string) (*File, error) {
	f, err := parseFile(name, src)
	if err != nil {
		return nil, err
	}
	if !f.Has("text") && !f.Has("blocks") && !f.Has("subject") && !f.Has("html") && !f.Has("body") &&
		!f.Has("content_type") && !slices.ContainsFunc(serviceBlocks(), f.Has) {
		return nil, &Error{Name: name, Msg: "defines none of text, blocks, subject, html, body (write {{ define \"text\" }}…{{ end }})"}
	}
	return f, nil
}

func parseFile(name, src string) (*File, error) {
	funcs := publicFuncs(funcMap(Plain, Options{}.normalized()))
	trees, err := parse.Parse(name, src, "", "", funcs, builtinNames())
	if err != nil {
		return nil, parseError(name, src, err)
	}
	return &File{name: name, src: src, trees: trees}, nil
}

// Has reports whether the file defines block.
func (f *File) Has(block string) bool {
	if f == nil || block == f.name {
		return false
	}
	_, ok := f.trees[block]
	return ok
}

// Unused returns the defines that are neither a known block nor called
// by another ({{ template "x" . }}): a misspelt block ("subjet") that no
// channel would ever render. Each comes with the position of its define.
func (f *File) Unused() map[string]Position {
	called := map[string]bool{}
	for _, t := range f.trees {
		calledIn(t.Root, called)
	}
	out := map[string]Position{}
	for name, t := range f.trees {
		if name == f.name || called[name] || slices.Contains(KnownBlocks(), name) {
			continue
		}
		line, col := 1, 1
		if t.Root != nil {
			// The define's body starts after its {{ define "x" }} action.
			if i := strings.LastIndex(f.src[:min(int(t.Root.Position()), len(f.src))], "{{"); i >= 0 {
				line, col = lineCol(f.src, i)
			}
		}
		out[name] = Position{line, col}
	}
	return out
}

// calledIn adds the names of the templates called under n to called.
func calledIn(n parse.Node, called map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				calledIn(c, called)
			}
		}
	case *parse.TemplateNode:
		called[n.Name] = true
	case *parse.IfNode:
		calledIn(n.List, called)
		calledIn(n.ElseList, called)
	case *parse.WithNode:
		calledIn(n.List, called)
		calledIn(n.ElseList, called)
	case *parse.RangeNode:
		calledIn(n.List, called)
		calledIn(n.ElseList, called)
	}
}

// Blocks returns the known block names the file defines, sorted.
func (f *File) Blocks() []string {
	var out []string
	for _, b := range KnownBlocks() {
		if f.Has(b) {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return out
}

// Block compiles one block, with the helper templates it may call, for
// the escaping esc: html/template for HTML (errors of contextual escaping
// are reported here, with their position), text/template otherwise.
func (f *File) Block(block string, esc Escape, opts Options) (*Template, error) {
	if !f.Has(block) {
		name := "template"
		if f != nil {
			name = f.name
		}
		return nil, &Error{Name: name, Msg: fmt.Sprintf("no %q block", block)}
	}
	trees := make(map[string]*parse.Tree, len(f.trees))
	for n, t := range f.trees {
		trees[n] = t.Copy()
	}
	o := opts.normalized()
	return compile(f.name, f.src, trees, block, esc, funcMap(esc, o), o)
}
