package router

import (
	"github.com/switchboard-dev/switchboard/config"

	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// document is a parsed rules file: the typed configuration plus the YAML
// nodes each part came from, so that later checks can point at positions.
type document struct {
	file     string
	sources  []sourceDoc
	channels []channelDoc
	rules    []ruleDoc
	// onFailure is the top-level on_failure: the channel told when any
	// other channel fails (unless it names its own).
	onFailure    string
	onFailurePos pos
	// retention is the top-level retention block, if any.
	retention    *RetentionConfig
	retentionPos pos
}

type ruleDoc struct {
	node ast.Node
	cfg  RuleConfig
	ok   bool
	// bad holds the keys ("throttle.every") whose values could not be
	// decoded; they are reported and left zero.
	bad map[string]bool
}

var topLevelKeys = []string{"sources", "channels", "rules", "on_failure", "retention"}

// parseDocument parses src, reporting syntax errors, unknown keys and type
// errors. Each source, channel and rule is decoded on its own, so one bad
// entry does not hide problems in the others.
func parseDocument(file string, src []byte, ds *diags, b Builder) *document {
	doc := &document{file: file}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		ds.add(config.SeverityError, file, yamlErrPos(err), "", "", "%s", yamlErrMsg(err))
		return doc
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		ds.add(config.SeverityError, file, pos{1, 1}, "", "", "the rules file is empty (it needs at least `rules:`)")
		return doc
	}
	if len(f.Docs) > 1 {
		ds.add(config.SeverityError, file, nodePos(f.Docs[1].Body), "", "", "the rules file must hold one YAML document, not several")
	}
	root := f.Docs[0].Body
	entries, ok := mapEntries(root)
	if !ok {
		ds.add(config.SeverityError, file, nodePos(root), "", "", "the rules file must be a mapping with sources, channels and rules")
		return doc
	}
	for _, e := range entries {
		key := keyName(e)
		switch key {
		case "sources":
			doc.sources = parseNamed[SourceConfig](file, "sources", e.Value, ds)
		case "channels":
			doc.channels = parseChannels(file, e.Value, ds, b)
		case "rules":
			doc.rules = parseRulesList(file, e.Value, ds)
		case "on_failure":
			doc.onFailurePos = nodePos(e.Value)
			if !isNull(e.Value) {
				decodeNode(file, e.Value, &doc.onFailure, "on_failure", "", ds)
			}
		case "retention":
			doc.retentionPos = nodePos(e.Value)
			var rc RetentionConfig
			if decodeNode(file, e.Value, &rc, "retention", "", ds) {
				doc.retention = &rc
			}
		default:
			ds.add(config.SeverityError, file, nodePos(e.Key), "", "", "unknown key %q (expected one of: %s)", key, strings.Join(topLevelKeys, ", "))
		}
	}
	return doc
}

// namedDoc is one entry of a mapping of names to settings (a source or a
// channel), decoded into C.
type namedDoc[C any] struct {
	name string
	key  pos
	node ast.Node
	cfg  C
	ok   bool // decoded without type errors
	// kinds are the kind blocks a channel sets, in the Builder's order.
	kinds []string
}

type (
	sourceDoc  = namedDoc[SourceConfig]
	channelDoc = namedDoc[ChannelConfig]
)

// parseNamed decodes `section:`, a mapping of names to settings, entry by
// entry so that one bad entry does not hide problems in the others.
func parseNamed[C any](file, section string, n ast.Node, ds *diags) []namedDoc[C] {
	if isNull(n) {
		return nil
	}
	entries, ok := mapEntries(n)
	if !ok {
		ds.add(config.SeverityError, file, nodePos(n), "", section, "%s must be a mapping of names to settings", section)
		return nil
	}
	var out []namedDoc[C]
	for _, e := range entries {
		d := namedDoc[C]{name: keyName(e), key: nodePos(e.Key), node: e.Value}
		d.ok = decodeNode(file, e.Value, &d.cfg, section+"."+d.name, "", ds)
		out = append(out, d)
	}
	return out
}

// parseChannels decodes `channels:` entry by entry like parseNamed, each
// channel's kind block (slack:, email:, …) into a new configuration of
// that kind from its descriptor, so that the schema names no kind.
func parseChannels(file string, n ast.Node, ds *diags, b Builder) []channelDoc {
	if isNull(n) {
		return nil
	}
	entries, ok := mapEntries(n)
	if !ok {
		ds.add(config.SeverityError, file, nodePos(n), "", "channels", "channels must be a mapping of names to settings")
		return nil
	}
	fields := yamlFields(reflect.TypeFor[ChannelConfig]())
	for _, name := range b.KindNames() {
		k, _ := b.Kind(name)
		fields[name] = reflect.TypeOf(k.Config())
	}
	var out []channelDoc
	for _, e := range entries {
		d := channelDoc{name: keyName(e), key: nodePos(e.Key), node: e.Value}
		where := "channels." + d.name
		before := len(ds.list)
		checkFields(file, e.Value, fields, "", ds)
		d.ok = decodeValue(file, e.Value, &d.cfg, where, "", ds)
		for _, name := range b.KindNames() {
			kn := lookup(e.Value, name)
			if kn == nil {
				continue
			}
			d.kinds = append(d.kinds, name)
			if isNull(kn) {
				continue
			}
			k, _ := b.Kind(name)
			v := k.Config()
			if decodeValue(file, kn, v, where, "", ds) {
				d.cfg.Kind, d.cfg.Settings = name, v
			} else {
				d.ok = false
			}
		}
		d.ok = d.ok && len(ds.list) == before
		out = append(out, d)
	}
	return out
}

func parseRulesList(file string, n ast.Node, ds *diags) []ruleDoc {
	if isNull(n) {
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		ds.add(config.SeverityError, file, nodePos(n), "", "rules", "rules must be a list (each entry starting with \"- name: …\")")
		return nil
	}
	var out []ruleDoc
	for i, item := range seq.Values {
		rd := ruleDoc{node: item}
		name := ""
		if v := lookup(item, "name"); v != nil {
			name = scalarString(v)
		}
		// `when: !x` is a YAML tag, not an expression: say so plainly
		// instead of a confusing type error.
		if w := lookup(item, "when"); w != nil {
			if tag, isTag := w.(*ast.TagNode); isTag {
				ds.add(config.SeverityError, file, nodePos(w), name, "when",
					"when starts with %q, which YAML reads as a tag: quote the expression or write it as a block (when: >-)", tag.Start.Value)
				rd.ok = false
				out = append(out, rd)
				continue
			}
		}
		before := len(ds.list)
		rd.ok = decodeNode(file, item, &rd.cfg, fmt.Sprintf("rules[%d]", i), name, ds)
		if !rd.ok && !isNull(item) {
			// Compile what could be read, so that one bad value does not
			// hide the rule's other problems; the load fails anyway.
			rd.bad = map[string]bool{}
			rd.ok = decodeFields(file, item, reflect.ValueOf(&rd.cfg).Elem(), "", name, ds, rd.bad, before)
		}
		out = append(out, rd)
	}
	return out
}

// decodeNode reports unknown keys anywhere under n and decodes n into v.
// It returns false when the node could not be decoded.
func decodeNode(file string, n ast.Node, v any, where, rule string, ds *diags) bool {
	before := len(ds.list)
	checkKeys(file, n, reflect.TypeOf(v).Elem(), rule, ds)
	return decodeValue(file, n, v, where, rule, ds) && len(ds.list) == before
}

// decodeValue decodes n into v, reporting a value that cannot be read;
// it returns false then. Unknown keys are checkKeys' to report.
func decodeValue(file string, n ast.Node, v any, where, rule string, ds *diags) bool {
	if isNull(n) {
		return true
	}
	if err := NodeToValue(n, v); err != nil {
		p := yamlErrPos(err)
		msg := yamlErrMsg(err)
		if p.line == 0 {
			p = nodePos(n)
			// A value the decoder rejected without a position (a bad
			// duration) is quoted in the message: point at it.
			if bad, ok := quotedValue(msg); ok {
				if at := findScalar(n, bad); at != nil {
					p = nodePos(at)
				}
			}
			if strings.HasPrefix(msg, "time: ") {
				msg = strings.TrimPrefix(msg, "time: ") + " (write durations like 30s, 5m, 6h or 1h30m)"
			}
		}
		ds.add(config.SeverityError, file, p, rule, "", "%s: %s", where, msg)
		return false
	}
	return true
}

// decodeFields decodes a mapping node key by key into the struct v,
// after decoding it whole failed: every value that cannot be read is
// reported with its own position (the whole-node error, reported from
// index reported onwards, is replaced), and the others are kept. It
// returns false when n is not a mapping.
func decodeFields(file string, n ast.Node, v reflect.Value, prefix, rule string, ds *diags, bad map[string]bool, reported int) bool {
	entries, ok := mapEntries(n)
	if !ok || v.Kind() != reflect.Struct {
		return false
	}
	// Drop the whole-node decode error: the fields say it better. Unknown
	// keys found before it are kept.
	kept := ds.list[:reported]
	for _, d := range ds.list[reported:] {
		if !strings.HasPrefix(d.Message, "rules[") {
			kept = append(kept, d)
		}
	}
	ds.list = kept
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
		key := keyName(e)
		i, known := fields[key]
		if !known {
			continue // reported by checkKeys
		}
		fv := v.Field(i)
		if isNull(e.Value) {
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
			if _, isMap := mapEntries(e.Value); isMap {
				decodeFields(file, e.Value, target, prefix+key+".", rule, ds, bad, len(ds.list))
				continue
			}
		}
		fv.Set(reflect.Zero(fv.Type()))
		bad[prefix+key] = true
		err := NodeToValue(e.Value, reflect.New(fv.Type()).Interface())
		p := yamlErrPos(err)
		msg := yamlErrMsg(err)
		if p.line == 0 {
			p = nodePos(e.Value)
		}
		if strings.HasPrefix(msg, "time: ") {
			msg = strings.TrimPrefix(msg, "time: ") + " (write durations like 30s, 5m, 6h or 1h30m)"
		}
		ds.add(config.SeverityError, file, p, rule, prefix+key, "%s: %s", prefix+key, msg)
	}
	return true
}

// checkKeys walks n alongside the Go type t and reports every mapping key
// that t has no field for, with the list of keys it does have.
func checkKeys(file string, n ast.Node, t reflect.Type, rule string, ds *diags) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || isNull(n) {
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
		if entries, ok := mapEntries(n); ok {
			for _, e := range entries {
				checkKeys(file, e.Value, t.Elem(), rule, ds)
			}
		}
	}
}

// checkFields reports every key of the mapping n that fields (YAML keys
// to their types) lacks, and checks the known ones' values.
func checkFields(file string, n ast.Node, fields map[string]reflect.Type, rule string, ds *diags) {
	entries, ok := mapEntries(n)
	if !ok {
		return // the decoder reports the type mismatch
	}
	for _, e := range entries {
		key := keyName(e)
		ft, known := fields[key]
		if !known {
			names := make([]string, 0, len(fields))
			for k := range fields {
				names = append(names, k)
			}
			sort.Strings(names)
			ds.add(config.SeverityError, file, nodePos(e.Key), rule, key, "unknown key %q (expected one of: %s)", key, strings.Join(names, ", "))
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

// mapEntries returns the key/value pairs of a mapping node.
func mapEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	case *ast.TagNode:
		return mapEntries(m.Value)
	case *ast.AnchorNode:
		return mapEntries(m.Value)
	}
	return nil, false
}

func keyName(e *ast.MappingValueNode) string {
	if e.Key == nil {
		return ""
	}
	if tk := e.Key.GetToken(); tk != nil {
		return tk.Value
	}
	return e.Key.String()
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// lookup follows a path of mapping keys (string) and sequence indexes (int)
// from n; it returns nil when the path does not exist.
func lookup(n ast.Node, path ...any) ast.Node {
	for _, p := range path {
		if n == nil {
			return nil
		}
		switch k := p.(type) {
		case string:
			entries, ok := mapEntries(n)
			if !ok {
				return nil
			}
			var next ast.Node
			for _, e := range entries {
				if keyName(e) == k {
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

// posIn returns the position of the node at path under n, falling back to
// the closest existing ancestor.
func posIn(n ast.Node, path ...any) pos {
	for i := len(path); i >= 0; i-- {
		if v := lookup(n, path[:i]...); v != nil {
			return nodePos(v)
		}
	}
	return pos{}
}

func nodePos(n ast.Node) pos {
	if n == nil {
		return pos{}
	}
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && !m.IsFlowStyle {
		return nodePos(m.Values[0].Key)
	}
	if mv, ok := n.(*ast.MappingValueNode); ok && mv.Key != nil {
		return nodePos(mv.Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

// scalarString returns a scalar node's value as written.
func scalarString(n ast.Node) string {
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

func yamlErrPos(err error) pos {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return pos{tk.Position.Line, tk.Position.Column}
		}
	}
	return pos{}
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
