package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Document is a parsed rules file: the typed configuration plus the YAML
// nodes each part came from, so that later checks can point at positions.
type Document struct {
	// File names the rules file in diagnostics.
	File     string
	Sources  []SourceDoc
	Channels []ChannelDoc
	Rules    []RuleDoc
	// OnFailure is the top-level on_failure: the channel told when any
	// other channel fails (unless it names its own).
	OnFailure    string
	OnFailurePos Pos
	// Retention is the top-level retention block, if any.
	Retention    *RetentionConfig
	RetentionPos Pos
}

// RuleDoc is one entry of `rules:` and the node it was decoded from.
type RuleDoc struct {
	Node   ast.Node
	Config RuleConfig
	// OK is false when the entry could not be decoded at all.
	OK bool
	// Bad holds the keys ("throttle.every") whose values could not be
	// decoded; they are reported and left zero.
	Bad map[string]bool
	// fast is true when the entry was decoded by decodeRuleFast.
	fast bool
}

// Kinds tells the parser which channel kinds exist: a channel's block
// named after a kind is decoded into a new configuration of that kind.
// The router's Builder is one.
type Kinds interface {
	// KindNames returns every kind's name, in the order messages list
	// them.
	KindNames() []string
	// KindSettings returns a new, empty configuration of the kind named
	// name, or nil when there is none.
	KindSettings(name string) Settings
}

// Settings is a channel kind's configuration block (a pointer to its
// notifier package's Config).
type Settings = interface{ Validate() error }

var topLevelKeys = []string{"sources", "channels", "rules", "on_failure", "retention"}

// Parse parses src, reporting syntax errors, unknown keys and type
// errors. Each source, channel and rule is decoded on its own, so one bad
// entry does not hide problems in the others.
func Parse(file string, src []byte, ds *Diags, b Kinds) *Document {
	doc := &Document{File: file}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		ds.Add(SeverityError, file, yamlErrPos(err), "", "", "%s", yamlErrMsg(err))
		return doc
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		ds.Add(SeverityError, file, Pos{Line: 1, Col: 1}, "", "", "the rules file is empty (it needs at least `rules:`)")
		return doc
	}
	if len(f.Docs) > 1 {
		ds.Add(SeverityError, file, NodePos(f.Docs[1].Body), "", "", "the rules file must hold one YAML document, not several")
	}
	root := f.Docs[0].Body
	entries, ok := MapEntries(root)
	if !ok {
		ds.Add(SeverityError, file, NodePos(root), "", "", "the rules file must be a mapping with sources, channels and rules")
		return doc
	}
	for _, e := range entries {
		key := KeyName(e)
		switch key {
		case "sources":
			doc.Sources = parseNamed[SourceConfig](file, "sources", e.Value, ds)
		case "channels":
			doc.Channels = parseChannels(file, e.Value, ds, b)
		case "rules":
			doc.Rules = parseRulesList(file, e.Value, ds)
		case "on_failure":
			doc.OnFailurePos = NodePos(e.Value)
			if !IsNull(e.Value) {
				decodeNode(file, e.Value, &doc.OnFailure, "on_failure", "", ds)
			}
		case "retention":
			doc.RetentionPos = NodePos(e.Value)
			var rc RetentionConfig
			if decodeNode(file, e.Value, &rc, "retention", "", ds) {
				doc.Retention = &rc
			}
		default:
			ds.Add(SeverityError, file, NodePos(e.Key), "", "", "unknown key %q (expected one of: %s)", key, strings.Join(topLevelKeys, ", "))
		}
	}
	return doc
}

// Named is one entry of a mapping of names to settings (a source or a
// channel), decoded into C.
type Named[C any] struct {
	Name string
	// Key is the position of the entry's name.
	Key    Pos
	Node   ast.Node
	Config C
	OK     bool // decoded without type errors
	// Kinds are the kind blocks a channel sets, in the order of
	// Kinds.KindNames.
	Kinds []string
}

type (
	// SourceDoc is one entry of `sources:`.
	SourceDoc = Named[SourceConfig]
	// ChannelDoc is one entry of `channels:`.
	ChannelDoc = Named[ChannelConfig]
)

// parseNamed decodes `section:`, a mapping of names to settings, entry by
// entry so that one bad entry does not hide problems in the others.
func parseNamed[C any](file, section string, n ast.Node, ds *Diags) []Named[C] {
	if IsNull(n) {
		return nil
	}
	entries, ok := MapEntries(n)
	if !ok {
		ds.Add(SeverityError, file, NodePos(n), "", section, "%s must be a mapping of names to settings", section)
		return nil
	}
	var out []Named[C]
	for _, e := range entries {
		d := Named[C]{Name: KeyName(e), Key: NodePos(e.Key), Node: e.Value}
		d.OK = decodeNode(file, e.Value, &d.Config, section+"."+d.Name, "", ds)
		out = append(out, d)
	}
	return out
}

// parseChannels decodes `channels:` entry by entry like parseNamed, each
// channel's kind block (slack:, email:, …) into a new configuration of
// that kind from its descriptor, so that the schema names no kind.
func parseChannels(file string, n ast.Node, ds *Diags, b Kinds) []ChannelDoc {
	if IsNull(n) {
		return nil
	}
	entries, ok := MapEntries(n)
	if !ok {
		ds.Add(SeverityError, file, NodePos(n), "", "channels", "channels must be a mapping of names to settings")
		return nil
	}
	fields := yamlFields(reflect.TypeFor[ChannelConfig]())
	for _, name := range b.KindNames() {
		if v := b.KindSettings(name); v != nil {
			fields[name] = reflect.TypeOf(v)
		}
	}
	var out []ChannelDoc
	for _, e := range entries {
		d := ChannelDoc{Name: KeyName(e), Key: NodePos(e.Key), Node: e.Value}
		where := "channels." + d.Name
		before := len(ds.List)
		checkFields(file, e.Value, fields, "", ds)
		d.OK = decodeValue(file, e.Value, &d.Config, where, "", ds)
		for _, name := range b.KindNames() {
			kn := Lookup(e.Value, name)
			if kn == nil {
				continue
			}
			d.Kinds = append(d.Kinds, name)
			if IsNull(kn) {
				continue
			}
			v := b.KindSettings(name)
			if decodeValue(file, kn, v, where, "", ds) {
				d.Config.Kind, d.Config.Settings = name, v
			} else {
				d.OK = false
			}
		}
		d.OK = d.OK && len(ds.List) == before
		out = append(out, d)
	}
	return out
}

func parseRulesList(file string, n ast.Node, ds *Diags) []RuleDoc {
	if IsNull(n) {
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		ds.Add(SeverityError, file, NodePos(n), "", "rules", "rules must be a list (each entry starting with \"- name: …\")")
		return nil
	}
	return parseRules(file, seq, 0, ds)
}

// parseRules decodes the entries of a rules list; first is the position
// of the first in the file's list.
func parseRules(file string, seq *ast.SequenceNode, first int, ds *Diags) []RuleDoc {
	out := make([]RuleDoc, 0, len(seq.Values))
	slab := sendSlab{rules: len(seq.Values)}
	for i, item := range seq.Values {
		rd := RuleDoc{Node: item}
		name := ""
		if v := Lookup(item, "name"); v != nil {
			name = ScalarString(v)
		}
		// `when: !x` is a YAML tag, not an expression: say so plainly
		// instead of a confusing type error.
		if w := Lookup(item, "when"); w != nil {
			if tag, isTag := w.(*ast.TagNode); isTag {
				ds.Add(SeverityError, file, NodePos(w), name, "when",
					"when starts with %q, which YAML reads as a tag: quote the expression or write it as a block (when: >-)", tag.Start.Value)
				rd.OK = false
				out = append(out, rd)
				continue
			}
			// `when: {a}` or `when: [a]` is a YAML mapping or list.
			switch w.(type) {
			case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
				ds.Add(SeverityError, file, NodePos(w), name, "when",
					"when is a YAML %s, not an expression: a condition starting with { or [ (or holding \": \") must be quoted or written as a block (when: >-)", yamlShape(w))
				rd.OK = false
				out = append(out, rd)
				continue
			}
		}
		if decodeRuleFast(item, &rd.Config, &slab) {
			rd.OK, rd.fast = true, true
			out = append(out, rd)
			continue
		}
		rd.Config = RuleConfig{}
		before := len(ds.List)
		rd.OK = decodeNode(file, item, &rd.Config, rulesKey(first+i), name, ds)
		if !rd.OK && !IsNull(item) {
			// Compile what could be read, so that one bad value does not
			// hide the rule's other problems; the load fails anyway.
			rd.Bad = map[string]bool{}
			rd.OK = decodeFields(file, item, reflect.ValueOf(&rd.Config).Elem(), "", name, ds, rd.Bad, before)
		}
		out = append(out, rd)
	}
	compactRuleStrings(out)
	return out
}

// yamlShape names the kind of a mapping or sequence node.
func yamlShape(n ast.Node) string {
	if _, ok := n.(*ast.SequenceNode); ok {
		return "list"
	}
	return "mapping"
}

// decodeNode reports unknown keys anywhere under n and decodes n into v.
// It returns false when the node could not be decoded.
func decodeNode(file string, n ast.Node, v any, where, rule string, ds *Diags) bool {
	before := len(ds.List)
	checkKeys(file, n, reflect.TypeOf(v).Elem(), rule, ds)
	return decodeValue(file, n, v, where, rule, ds) && len(ds.List) == before
}

// decodeValue decodes n into v, reporting a value that cannot be read;
// it returns false then. Unknown keys are checkKeys' to report.
func decodeValue(file string, n ast.Node, v any, where, rule string, ds *Diags) bool {
	if IsNull(n) {
		return true
	}
	if err := NodeToValue(n, v); err != nil {
		p := yamlErrPos(err)
		msg := yamlErrMsg(err)
		if p.Line == 0 {
			p = NodePos(n)
			// A value the decoder rejected without a position (a bad
			// duration) is quoted in the message: point at it.
			if bad, ok := quotedValue(msg); ok {
				if at := findScalar(n, bad); at != nil {
					p = NodePos(at)
				}
			}
			if strings.HasPrefix(msg, "time: ") {
				msg = strings.TrimPrefix(msg, "time: ") + " (write durations like 30s, 5m, 6h or 1h30m)"
			}
		}
		ds.Add(SeverityError, file, p, rule, "", "%s: %s", where, msg)
		return false
	}
	return true
}

// decodeFields decodes a mapping node key by key into the struct v,
// after decoding it whole failed: every value that cannot be read is
// reported with its own position (the whole-node error, reported from
// index reported onwards, is replaced), and the others are kept. It
// returns false when n is not a mapping.
func decodeFields(file string, n ast.Node, v reflect.Value, prefix, rule string, ds *Diags, bad map[string]bool, reported int) bool {
	entries, ok := MapEntries(n)
	if !ok || v.Kind() != reflect.Struct {
		return false
	}
	// Drop the whole-node decode error: the fields say it better. Unknown
	// keys found before it are kept.
	kept := ds.List[:reported]
	for _, d := range ds.List[reported:] {
		if !strings.HasPrefix(d.Message, "rules[") {
			kept = append(kept, d)
		}
	}
	ds.List = kept
	fields := map[string]int{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
	}
	for _, e := range entries {
		key := KeyName(e)
		i, known := fields[key]
		if !known {
			continue // reported by checkKeys
		}
		fv := v.Field(i)
		if IsNull(e.Value) {
			continue
		}
		if fv.Kind() == reflect.Pointer {
			tmp := reflect.New(fv.Type().Elem())
			if err := NodeToValue(e.Value, tmp.Interface()); err == nil {
				fv.Set(tmp)
				continue
			}
		} else if err := NodeToValue(e.Value, fv.Addr().Interface()); err == nil {
			continue
		}
		// A nested block (throttle, group, schedule): decode it key by
		// key too, so that two bad durations are two errors.
		target := fv
		if target.Kind() == reflect.Pointer {
			target.Set(reflect.New(target.Type().Elem()))
			target = target.Elem()
		}
		if target.Kind() == reflect.Struct {
			if _, isMap := MapEntries(e.Value); isMap {
				decodeFields(file, e.Value, target, prefix+key+".", rule, ds, bad, len(ds.List))
				continue
			}
		}
		fv.Set(reflect.Zero(fv.Type()))
		bad[prefix+key] = true
		err := NodeToValue(e.Value, reflect.New(fv.Type()).Interface())
		p := yamlErrPos(err)
		msg := yamlErrMsg(err)
		if p.Line == 0 {
			p = NodePos(e.Value)
		}
		if strings.HasPrefix(msg, "time: ") {
			msg = strings.TrimPrefix(msg, "time: ") + " (write durations like 30s, 5m, 6h or 1h30m)"
		}
		ds.Add(SeverityError, file, p, rule, prefix+key, "%s: %s", prefix+key, msg)
	}
	return true
}

// checkKeys walks n alongside the Go type t and reports every mapping key
// that t has no field for, with the list of keys it does have.
func checkKeys(file string, n ast.Node, t reflect.Type, rule string, ds *Diags) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || IsNull(n) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		checkFields(file, n, yamlFields(t), rule, ds)
	case reflect.Slice:
		if seq, ok := n.(*ast.SequenceNode); ok {
			for _, item := range seq.Values {
				checkKeys(file, item, t.Elem(), rule, ds)
			}
		}
	case reflect.Map:
		if entries, ok := MapEntries(n); ok {
			for _, e := range entries {
				checkKeys(file, e.Value, t.Elem(), rule, ds)
			}
		}
	}
}

// checkFields reports every key of the mapping n that fields (YAML keys
// to their types) lacks, and checks the known ones' values.
func checkFields(file string, n ast.Node, fields map[string]reflect.Type, rule string, ds *Diags) {
	entries, ok := MapEntries(n)
	if !ok {
		return // the decoder reports the type mismatch
	}
	for _, e := range entries {
		key := KeyName(e)
		ft, known := fields[key]
		if !known {
			names := make([]string, 0, len(fields))
			for k := range fields {
				names = append(names, k)
			}
			sort.Strings(names)
			ds.Add(SeverityError, file, NodePos(e.Key), rule, key, "unknown key %q (expected one of: %s)", key, strings.Join(names, ", "))
			continue
		}
		checkKeys(file, e.Value, ft, rule, ds)
	}
}

// yamlFields maps a struct's YAML keys to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// MapEntries returns the key/value pairs of a mapping node.
func MapEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	case *ast.TagNode:
		return MapEntries(m.Value)
	case *ast.AnchorNode:
		return MapEntries(m.Value)
	}
	return nil, false
}

// KeyName returns a mapping entry's key as written.
func KeyName(e *ast.MappingValueNode) string {
	if e.Key == nil {
		return ""
	}
	if tk := e.Key.GetToken(); tk != nil {
		return tk.Value
	}
	return e.Key.String()
}

// IsNull reports whether n is missing or a YAML null.
func IsNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// Lookup follows a path of mapping keys (string) and sequence indexes (int)
// from n; it returns nil when the path does not exist.
func Lookup(n ast.Node, path ...any) ast.Node {
	for _, p := range path {
		if n == nil {
			return nil
		}
		switch k := p.(type) {
		case string:
			entries, ok := MapEntries(n)
			if !ok {
				return nil
			}
			var next ast.Node
			for _, e := range entries {
				if KeyName(e) == k {
					next = e.Value
					if next == nil {
						next = e
					}
					break
				}
			}
			n = next
		case int:
			seq, ok := n.(*ast.SequenceNode)
			if !ok || k < 0 || k >= len(seq.Values) {
				return nil
			}
			n = seq.Values[k]
		}
	}
	return n
}

// PosIn returns the position of the node at path under n, falling back to
// the closest existing ancestor.
func PosIn(n ast.Node, path ...any) Pos {
	for i := len(path); i >= 0; i-- {
		if v := Lookup(n, path[:i]...); v != nil {
			return NodePos(v)
		}
	}
	return Pos{}
}

// NodePos returns where n starts: a block mapping at its first key, an
// entry at its key.
func NodePos(n ast.Node) Pos {
	if n == nil {
		return Pos{}
	}
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && !m.IsFlowStyle {
		return NodePos(m.Values[0].Key)
	}
	if mv, ok := n.(*ast.MappingValueNode); ok && mv.Key != nil {
		return NodePos(mv.Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return Pos{}
	}
	return Pos{Line: tk.Position.Line, Col: tk.Position.Column}
}

// ScalarString returns a scalar node's value as written.
func ScalarString(n ast.Node) string {
	switch s := n.(type) {
	case *ast.StringNode:
		return s.Value
	case *ast.LiteralNode:
		return s.Value.Value
	case nil:
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

func yamlErrPos(err error) Pos {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return Pos{Line: tk.Position.Line, Col: tk.Position.Column}
		}
	}
	return Pos{}
}

func yamlErrMsg(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return ye.GetMessage()
	}
	msg := err.Error()
	// goccy prefixes some messages with "[line:col] "; positions are
	// reported separately.
	if strings.HasPrefix(msg, "[") {
		if i := strings.Index(msg, "] "); i > 0 {
			msg = msg[i+2:]
		}
	}
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	return msg
}

// quotedValue returns the last double-quoted string in msg.
func quotedValue(msg string) (string, bool) {
	end := strings.LastIndexByte(msg, '"')
	if end <= 0 {
		return "", false
	}
	start := strings.LastIndexByte(msg[:end], '"')
	if start < 0 {
		return "", false
	}
	return msg[start+1 : end], true
}

// findScalar returns the first scalar under n whose value is s.
func findScalar(n ast.Node, s string) ast.Node {
	var found ast.Node
	ast.Walk(visitFunc(func(x ast.Node) bool {
		if found != nil {
			return false
		}
		if sc, ok := x.(ast.ScalarNode); ok && fmt.Sprint(sc.GetValue()) == s {
			if _, isMap := x.(*ast.MappingValueNode); !isMap {
				found = x
				return false
			}
		}
		return true
	}), n)
	return found
}

type visitFunc func(ast.Node) bool

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if n == nil || !f(n) {
		return nil
	}
	return f
}

// NodeToValue decodes a YAML node into v like yaml.NodeToValue, but
// reports the decoder's panics on malformed input (a tag on a value that
// should be a list, for one) as errors instead of crashing.
func NodeToValue(n ast.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("this value cannot be read as the expected type (check its YAML tag and shape)")
		}
	}()
	return yaml.NodeToValue(n, v)
}
