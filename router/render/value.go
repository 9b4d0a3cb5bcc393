package render

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// mrkdwnText is a value already escaped for Slack mrkdwn (the result of the
// mrkdwn function): the Mrkdwn output does not escape it again.
type mrkdwnText string

// queryText is a value already escaped with url.QueryEscape (the result of
// urlquery): the URL outputs do not escape it again. It cannot contain "/",
// "?" or "#", so it is safe in a path too.
type queryText string

// lookup is the nil-safe field access every field chain is rewritten to:
// a missing key, a null value, or a field of something that has no fields
// (a string, a number, a list) is nil, never an error.
func lookup(v any, path ...string) any {
	for _, k := range path {
		v = lookup1(v, k)
	}
	return v
}

func lookup1(v any, k string) any {
	switch m := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return m[k]
	case map[string]string:
		s, ok := m[k]
		if !ok {
			return nil
		}
		return s
	}
	return lookupReflect(v, k)
}

// lookupReflect reads key k of a map with string keys, an exported field
// of a struct, or the result of an exported method without arguments (as
// text/template does: now.Year).
func lookupReflect(v any, k string) any {
	rv := reflect.ValueOf(v)
	if m := rv.MethodByName(k); m.IsValid() {
		return callNiladic(m)
	}
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		kt := rv.Type().Key()
		if kt.Kind() != reflect.String {
			return nil
		}
		e := rv.MapIndex(reflect.ValueOf(k).Convert(kt))
		if !e.IsValid() || !e.CanInterface() {
			return nil
		}
		return e.Interface()
	case reflect.Struct:
		f, ok := rv.Type().FieldByName(k)
		if !ok || !f.IsExported() {
			return nil
		}
		fv, err := rv.FieldByIndexErr(f.Index)
		if err != nil || !fv.CanInterface() {
			return nil
		}
		return fv.Interface()
	}
	return nil
}

func callNiladic(m reflect.Value) (out any) {
	t := m.Type()
	if t.NumIn() != 0 || t.NumOut() == 0 || t.NumOut() > 2 {
		return nil
	}
	if t.NumOut() == 2 && t.Out(1) != reflect.TypeFor[error]() {
		return nil
	}
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	res := m.Call(nil)
	if len(res) == 2 && !res[1].IsNil() {
		return nil
	}
	return res[0].Interface()
}

// formatValue is how a value prints: nil as "", numbers without exponent
// (1500000, not 1.5e+06), times as RFC 3339, maps and lists as JSON.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return formatFloat(x, 64)
	case float32:
		return formatFloat(float64(x), 32)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return string(x)
	case mrkdwnText:
		return string(x)
	case markdownText:
		return string(x)
	case queryText:
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			return ""
		}
		return x.Format(time.RFC3339)
	case time.Duration:
		return x.String()
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	case []byte:
		return string(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return formatFloat(rv.Float(), rv.Type().Bits())
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return ""
		}
		return formatValue(rv.Elem().Interface())
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

// formatFloat prints a float without exponent and with the fewest digits
// that round-trip: JSON numbers arrive as float64, and an amount of
// 1500000 cents must print as 1500000.
func formatFloat(f float64, bits int) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, bits)
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// outFunc returns the function that ends every output action: it prints
// the value (see formatValue) and escapes it for esc.
func outFunc(esc Escape) func(any) string {
	switch esc {
	case Mrkdwn:
		return func(v any) string {
			if s, ok := v.(mrkdwnText); ok {
				return string(s)
			}
			return escapeMrkdwn(formatValue(v))
		}
	case URLPath:
		return func(v any) string {
			if s, ok := v.(queryText); ok {
				return string(s)
			}
			return url.PathEscape(formatValue(v))
		}
	case URLQuery:
		return func(v any) string {
			if s, ok := v.(queryText); ok {
				return string(s)
			}
			return url.QueryEscape(formatValue(v))
		}
	case HeaderValue:
		return func(v any) string { return stripControl(formatValue(v)) }
	case Markdown:
		return func(v any) string {
			if s, ok := v.(markdownText); ok {
				return string(s)
			}
			return escapeMarkdown(formatValue(v))
		}
	}
	// Plain, and HTML, where html/template escapes what this returns.
	return formatValue
}

// escapeMrkdwn escapes the three characters Slack's mrkdwn gives a meaning
// to: &, < and >.
func escapeMrkdwn(s string) string {
	if !strings.ContainsAny(s, "&<>`") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '`':
			// Slack has no escape for a backtick: a value holding one
			// would end the template's `code span` and start its own.
			b.WriteString("ˋ")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripControl removes CR, LF and the other control characters but tab,
// which no HTTP header value may contain.
func stripControl(s string) string {
	clean := func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }
	if strings.IndexFunc(s, clean) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if clean(r) {
			return -1
		}
		return r
	}, s)
}

// number is a float argument of print, printf and println: %v and %s
// print it like an output action does (no exponent), %d prints an
// integral value; every other verb formats the float64 as usual.
type number float64

// Format implements fmt.Formatter.
func (n number) Format(f fmt.State, verb rune) {
	_, hasPrec := f.Precision()
	switch {
	case (verb == 'v' || verb == 's') && !hasPrec && !f.Flag('#') && !f.Flag('+'):
		fmt.Fprintf(f, fmt.FormatString(f, 's'), formatFloat(float64(n), 64))
	case verb == 'd' && float64(n) == math.Trunc(float64(n)) && math.Abs(float64(n)) < 1<<63:
		fmt.Fprintf(f, fmt.FormatString(f, 'd'), int64(n))
	default:
		fmt.Fprintf(f, fmt.FormatString(f, verb), float64(n))
	}
}

// blank is a nil argument of printf: it prints as nothing for any verb.
type blank struct{}

// Format implements fmt.Formatter.
func (blank) Format(f fmt.State, verb rune) {
	if w, ok := f.Width(); ok {
		f.Write([]byte(strings.Repeat(" ", min(w, 1<<20))))
	}
}

// printArgs prepares print's and println's arguments: nil prints as "" and
// floats without exponent.
func printArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch x := a.(type) {
		case nil:
			out[i] = ""
		case float64:
			out[i] = number(x)
		default:
			out[i] = a
		}
	}
	return out
}

// printfArgs prepares printf's arguments: nil prints as nothing whatever
// the verb, floats without exponent for %v, %s and %d.
func printfArgs(args []any) []any {
	out := printArgs(args)
	for i, a := range args {
		if a == nil {
			out[i] = blank{}
		}
	}
	return out
}

// toFloat reads a number: Go's numeric kinds, json.Number, and (when
// parseStrings is true) numeric strings.
func toFloat(v any, parseStrings bool) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case nil:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	case reflect.String:
		if parseStrings {
			f, err := strconv.ParseFloat(rv.String(), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// toInt reads an integral number (a JSON float64 like 3 included).
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return 0, false
		}
		return int64(rv.Uint()), true
	}
	f, ok := toFloat(v, false)
	if !ok || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// describe names a value's kind for error messages without printing the
// value (which may be long, or private).
func describe(v any) string {
	if v == nil {
		return "null"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
