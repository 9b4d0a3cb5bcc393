package router

import (
	"github.com/switchboard-dev/switchboard/config"

	"fmt"
	"reflect"

	"github.com/goccy/go-yaml/ast"
)

// expander expands the sb:"env" fields of one configuration block and
// reports problems at the fields' positions.
type expander struct {
	file      string
	env       config.Env
	dryRun    bool
	checkOnly bool
	ds        *config.Diags
	// unset collects the variables that were missing, for the dry-run
	// warnings that disable verification.
	unset map[string]bool
	// missing counts unset references, so a caller can tell whether the
	// block it just expanded had any; unsetFields are the field paths
	// that held them.
	missing     int
	unsetFields map[string]bool
	// record, if set, receives the value of every variable expanded, in
	// any field: each is scrubbed from errors, logs and API answers.
	record func(value string)
}

// expandStruct expands the sb:"env" fields of the struct v points to.
// node is the YAML node the struct was decoded from; path is the field
// path for messages.
func (x *expander) expandStruct(v reflect.Value, node ast.Node, path string, rule string) {
	config.Walk(v, node, path, func(f config.Field) bool {
		if f.Struct.Tag.Get("sb") != "env" {
			return true
		}
		if f.Value.CanSet() {
			x.expandField(f, rule)
		}
		return false
	})
}

// expandField expands one sb:"env" field: a string, a list or map of
// strings, or a type that expands itself (ExpandEnv).
func (x *expander) expandField(f config.Field, rule string) {
	fv, fnode, fpath := f.Value, f.Node, f.Path
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(x.expand(fv.String(), fnode, fpath, rule))
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.String {
			for j := range fv.Len() {
				el := fv.Index(j)
				el.SetString(x.expand(el.String(), config.Lookup(fnode, j), fmt.Sprintf("%s[%d]", fpath, j), rule))
			}
		}
	case reflect.Map:
		if fv.Type().Elem().Kind() == reflect.String {
			for _, k := range fv.MapKeys() {
				ev := fv.MapIndex(k)
				nv := reflect.New(fv.Type().Elem()).Elem()
				nv.SetString(x.expand(ev.String(), config.Lookup(fnode, k.String()), fpath+"."+k.String(), rule))
				fv.SetMapIndex(k, nv)
			}
		}
	case reflect.Struct, reflect.Pointer:
		// A custom scalar type (e.g. a port) stored as a struct is
		// expanded through its string form if it has one.
		if s, ok := fv.Addr().Interface().(interface {
			ExpandEnv(func(string) string) error
		}); ok {
			err := s.ExpandEnv(func(raw string) string { return x.expand(raw, fnode, fpath, rule) })
			if err != nil {
				x.ds.Add(config.SeverityError, x.file, config.NodePos(fnode), rule, fpath, "%s: %v", fpath, err)
			}
		}
	}
}

func (x *expander) expand(s string, node ast.Node, field, rule string) string {
	out, missing, err := config.Expand(s, x.env)
	if x.record != nil && out != s {
		for _, name := range config.References(s) {
			if v, ok := x.env(name); ok && v != "" {
				x.record(v)
			}
		}
	}
	p := config.NodePos(node)
	if err != nil {
		x.ds.Add(config.SeverityError, x.file, p, rule, field, "%s: %v", field, err)
		return s
	}
	for _, name := range missing {
		x.missing++
		if x.unset == nil {
			x.unset, x.unsetFields = map[string]bool{}, map[string]bool{}
		}
		x.unset[name] = true
		x.unsetFields[field] = true
		switch {
		case x.checkOnly:
			x.ds.Add(config.SeverityWarning, x.file, p, rule, field, "%s: environment variable %s is not set (serve needs it, unless it runs with --dry-run)", field, name)
		case x.dryRun:
			x.ds.Add(config.SeverityWarning, x.file, p, rule, field, "%s: environment variable %s is not set (treated as empty under --dry-run)", field, name)
		default:
			x.ds.Add(config.SeverityError, x.file, p, rule, field, "%s: environment variable %s is not set (set it, or give a default with ${%s:-value})", field, name, name)
		}
	}
	return out
}
