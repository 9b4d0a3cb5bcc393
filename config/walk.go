package config

import (
	"reflect"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Field is one exported field of a configuration block, as Walk meets it.
type Field struct {
	// Path is the field's key path ("channels.ops.http.url"): the path
	// Walk was given, then the YAML keys.
	Path string
	// Node is the YAML node the field was decoded from; nil when the file
	// does not write it.
	Node ast.Node
	// Struct is the field's declaration: its type and its yaml and sb
	// tags.
	Struct reflect.StructField
	// Value is the field's value. It is settable when the block was walked
	// through a pointer and the field is not under a nil pointer (whose
	// fields Walk shows as zero values, so that a walk over types sees
	// every field).
	Value reflect.Value
}

// Walk is the one walker over configuration blocks (the ${VAR}
// expansion of sb:"env" fields, collecting secret values to scrub, the
// admin API's list of secret keys): it calls visit for every exported
// field of the struct v holds or points to, in declaration order, and
// descends into fields that are structs or pointers to structs unless
// visit returns false. node is the YAML node v was decoded from (nil:
// none), path its key path.
func Walk(v reflect.Value, node ast.Node, path string, visit func(Field) bool) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.Zero(v.Type().Elem())
			continue
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fpath := key
		if path != "" {
			fpath = path + "." + key
		}
		fv, fnode := v.Field(i), Lookup(node, key)
		if !visit(Field{Path: fpath, Node: fnode, Struct: f, Value: fv}) {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			Walk(fv, fnode, fpath, visit)
		}
	}
}
