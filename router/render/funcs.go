package render

import (
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"math"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/sprig/v3"
)

// sprigNames is the allow-list of Sprig helpers offered to templates: the
// pure string, list, dict, math, encoding and regex helpers. Left out on
// purpose: whatever reads the environment, files or the network (env,
// expandenv, getHostByName, os*), generates keys or certificates (gen*,
// derivePassword, bcrypt, htpasswd, encryptAES), is random (rand*, uuidv4,
// shuffle — a retry must resend identical content), mutates the message
// data that other templates share (set, unset, merge*), and semver. The
// unbounded generators (until, untilStep, seq, repeat, indent, nindent),
// the date helpers and the helpers that print values are Switchboard's own
// (see ownFuncs and dateFuncs) with the same names, as are duration and
// durationRound (Sprig's ignore float64, the type of JSON numbers).
func sprigNames() []string {
	return []string{
		// defaults and flow
		"default", "empty", "coalesce", "ternary", "all", "any", "fail",
		// strings
		"upper", "lower", "title", "untitle", "trim", "trimAll", "trimPrefix", "trimSuffix",
		"trunc", "abbrev", "abbrevboth", "substr", "replace", "contains", "hasPrefix", "hasSuffix",
		"nospace", "initials", "swapcase", "snakecase", "camelcase", "kebabcase", "wrap", "wrapWith",
		"plural", "split", "splitList", "splitn",
		// conversions
		"atoi", "int", "int64", "float64",
		// lists
		"list", "tuple", "first", "rest", "last", "initial", "reverse", "uniq", "without", "has",
		"compact", "concat", "append", "push", "prepend", "chunk", "sortAlpha",
		// dicts
		"dict", "get", "hasKey", "pluck", "pick", "omit", "dig",
		// math
		"add", "add1", "sub", "mul", "div", "mod", "max", "min", "biggest", "floor", "ceil", "round",
		"addf", "add1f", "subf", "mulf", "divf", "maxf", "minf",
		// encodings and hashes
		"b64enc", "b64dec", "b32enc", "b32dec", "sha1sum", "sha256sum", "sha512sum", "adler32sum",
		"fromJson", "mustFromJson",
		// regular expressions
		"regexMatch", "regexFind", "regexFindAll", "regexReplaceAll", "regexReplaceAllLiteral",
		"regexSplit", "regexQuoteMeta", "mustRegexMatch", "mustRegexFind", "mustRegexFindAll",
		"mustRegexReplaceAll", "mustRegexReplaceAllLiteral", "mustRegexSplit",
		// paths and URLs (string manipulation only)
		"base", "dir", "ext", "clean", "urlParse", "urlJoin",
		// types
		"typeOf", "kindOf", "kindIs", "deepEqual",
	}
}

// builtinNames are text/template's predefined functions, which parsing
// must accept (several are replaced by nil-safe versions in ownFuncs).
func builtinNames() map[string]any {
	m := map[string]any{}
	for _, n := range []string{"and", "call", "html", "index", "slice", "js", "len", "not", "or",
		"print", "printf", "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne"} {
		m[n] = true
	}
	return m
}

// funcMap returns the public functions of a template compiled with esc
// and o: the allow-listed Sprig helpers and Switchboard's own, made
// lenient. bindFuncs adds the internal functions of the rewritten tree
// and the budget.
func funcMap(esc Escape, o Options) map[string]any {
	all := sprig.TxtFuncMap()
	m := make(map[string]any, 160)
	for _, n := range sprigNames() {
		if f, ok := all[n]; ok {
			m[n] = f
		}
	}
	for n, f := range ownFuncs(o) {
		m[n] = f
	}
	for n, f := range dateFuncs(o) {
		m[n] = f
	}
	for n, f := range m {
		m[n] = lenient(f)
	}
	return m
}

// bindFuncs returns the functions of one instance: base (from funcMap)
// with each public function metered against b (see meter), and the
// internal functions of the rewritten tree, which count their steps too.
func bindFuncs(base map[string]any, esc Escape, o Options, b *budget) map[string]any {
	m := make(map[string]any, len(base)+12)
	for n, f := range base {
		m[n] = meter(n, f, b)
	}
	out := outFunc(esc)
	show := func(v any) (string, error) {
		if err := b.step(1); err != nil {
			return "", err
		}
		switch v.(type) {
		case nil, string, float64, bool, int:
		default:
			// An object or list prints as JSON: refuse one that could
			// not fit the output before building it.
			if printedSize(v, o.MaxBytes) > o.MaxBytes {
				return "", fmt.Errorf("%w of %d bytes", ErrTooLarge, o.MaxBytes)
			}
		}
		return out(v), nil
	}
	get := func(v any, path ...string) (any, error) { return lookup(v, path...), b.step(1) }
	m[fnGet] = get
	m[fnGet+"1"] = func(v any, a string) (any, error) { return lookup1(v, a), b.step(1) }
	m[fnGet+"2"] = func(v any, a, c string) (any, error) { return lookup1(lookup1(v, a), c), b.step(1) }
	m[fnGet+"3"] = func(v any, a, c, d string) (any, error) {
		return lookup1(lookup1(lookup1(v, a), c), d), b.step(1)
	}
	m[fnOut] = show
	m[fnShow] = func(v any, path ...string) (string, error) { return show(lookup(v, path...)) }
	m[fnRange] = func(v any) (any, error) {
		if err := b.step(1); err != nil {
			return nil, err
		}
		return rangeLimit(v)
	}
	m[fnTick] = func() (bool, error) { return false, b.step(1) }
	m[fnStr] = func(args ...any) (string, error) {
		if err := b.fits(printedSize(args, o.MaxMemory)); err != nil {
			return "", err
		}
		return fmt.Sprint(printArgs(args)...), b.step(1)
	}
	m[fnStop] = func() (string, error) { return "", errStopProbe }
	return m
}

// publicFuncs is the function map minus the internal functions: what
// parsing accepts in a template.
func publicFuncs(m map[string]any) map[string]any {
	p := make(map[string]any, len(m))
	for n, f := range m {
		if !strings.HasPrefix(n, "__") {
			p[n] = f
		}
	}
	return p
}

// ownFuncs are Switchboard's helpers, and nil-safe replacements of
// text/template's builtins and of Sprig helpers that print values.
func ownFuncs(o Options) map[string]any {
	return map[string]any{
		"money":        moneyFunc,
		"toJson":       func(v any) (string, error) { return marshalJSON(v, true, "") },
		"toRawJson":    func(v any) (string, error) { return marshalJSON(v, false, "") },
		"toPrettyJson": func(v any) (string, error) { return marshalJSON(v, true, "  ") },
		"required":     required,
		"mrkdwn":       func(v any) mrkdwnText { return mrkdwnText(escapeMrkdwn(formatValue(v))) },
		"mrkdwnJson":   mrkdwnJSON,
		"markdown":     func(v any) markdownText { return markdownText(escapeMarkdown(formatValue(v))) },
		"markdownJson": markdownJSON,
		"urlquery": func(args ...any) queryText {
			return queryText(url.QueryEscape(fmt.Sprint(printArgs(args)...)))
		},
		"html": func(args ...any) string {
			return htmltemplate.HTMLEscapeString(fmt.Sprint(printArgs(args)...))
		},
		"js": func(args ...any) string {
			return htmltemplate.JSEscapeString(fmt.Sprint(printArgs(args)...))
		},
		"print":   func(args ...any) string { return fmt.Sprint(printArgs(args)...) },
		"println": func(args ...any) string { return fmt.Sprintln(printArgs(args)...) },
		"printf": func(format string, args ...any) string {
			return fmt.Sprintf(format, printfArgs(args)...)
		},
		"len":   length,
		"index": index,
		"slice": sliceOf,
		"eq":    eq,
		"ne": func(a, b any) (bool, error) {
			r, err := eq(a, b)
			return !r, err
		},
		"lt": func(a, b any) (bool, error) { return order(a, b, func(c int) bool { return c < 0 }) },
		"le": func(a, b any) (bool, error) { return order(a, b, func(c int) bool { return c <= 0 }) },
		"gt": func(a, b any) (bool, error) { return order(a, b, func(c int) bool { return c > 0 }) },
		"ge": func(a, b any) (bool, error) { return order(a, b, func(c int) bool { return c >= 0 }) },

		"toString":  formatValue,
		"toStrings": toStrings,
		"join": func(sep string, v any) string {
			return strings.Join(toStrings(v), sep)
		},
		"cat": func(args ...any) string {
			return strings.Join(toStrings(args), " ")
		},
		"quote": func(args ...any) string {
			out := toStrings(args)
			for i, s := range out {
				out[i] = fmt.Sprintf("%q", s)
			}
			return strings.Join(out, " ")
		},
		"squote": func(args ...any) string {
			out := toStrings(args)
			for i, s := range out {
				out[i] = "'" + s + "'"
			}
			return strings.Join(out, " ")
		},
		"keys":   keys,
		"values": values,

		"repeat": func(count int, s string) (string, error) {
			if count <= 0 {
				return "", nil
			}
			if len(s) > 0 && count > o.MaxBytes/len(s) {
				return "", fmt.Errorf("the result would exceed %d bytes", o.MaxBytes)
			}
			return strings.Repeat(s, count), nil
		},
		"indent": func(n int, s string) (string, error) { return indent(n, s, o.MaxBytes) },
		"nindent": func(n int, s string) (string, error) {
			out, err := indent(n, s, o.MaxBytes)
			return "\n" + out, err
		},
		"until": func(n int) ([]int, error) {
			step := 1
			if n < 0 {
				step = -1
			}
			return untilStep(0, n, step)
		},
		"untilStep": untilStep,
		"seq":       seq,

		"regexReplaceAll":            regexReplace(false, o.MaxMemory),
		"mustRegexReplaceAll":        regexReplace(false, o.MaxMemory),
		"regexReplaceAllLiteral":     regexReplace(true, o.MaxMemory),
		"mustRegexReplaceAllLiteral": regexReplace(true, o.MaxMemory),

		"lagoObject": lagoObject,
		"eventType":  eventType,
		"lagoFacts":  lagoFacts,
	}
}

// lenient adapts a function so that its parameters accept what JSON data
// holds: nil becomes the zero value (a missing field is "" for a string
// parameter, not an error), numbers convert between kinds (JSON numbers are
// float64), and numbers, booleans and times print where a string is
// expected. Parameters of type any are passed as they are; a function
// taking only those is returned unchanged.
func lenient(fn any) any {
	v := reflect.ValueOf(fn)
	t := v.Type()
	anyT, errT := reflect.TypeFor[any](), reflect.TypeFor[error]()
	need := false
	in := make([]reflect.Type, t.NumIn())
	for i := range in {
		p := t.In(i)
		if t.IsVariadic() && i == t.NumIn()-1 {
			need = need || p.Elem() != anyT
			in[i] = reflect.SliceOf(anyT)
			continue
		}
		need = need || p != anyT
		in[i] = anyT
	}
	if !need || t.NumOut() == 0 || t.NumOut() > 2 {
		return fn
	}
	hasErr := t.NumOut() == 2
	out := []reflect.Type{t.Out(0), errT}
	fail := func(err error) []reflect.Value {
		return []reflect.Value{reflect.Zero(t.Out(0)), reflect.ValueOf(&err).Elem()}
	}
	return reflect.MakeFunc(reflect.FuncOf(in, out, t.IsVariadic()), func(args []reflect.Value) []reflect.Value {
		conv := make([]reflect.Value, 0, len(args))
		for i, a := range args {
			if t.IsVariadic() && i == len(args)-1 {
				for j := 0; j < a.Len(); j++ {
					c, err := convertArg(a.Index(j).Interface(), t.In(i).Elem())
					if err != nil {
						return fail(err)
					}
					conv = append(conv, c)
				}
				continue
			}
			c, err := convertArg(a.Interface(), t.In(i))
			if err != nil {
				return fail(err)
			}
			conv = append(conv, c)
		}
		res := v.Call(conv)
		if hasErr {
			return res
		}
		return []reflect.Value{res[0], reflect.Zero(errT)}
	}).Interface()
}

// convertArg converts v for a parameter of type t; see lenient.
func convertArg(v any, t reflect.Type) (reflect.Value, error) {
	if v == nil {
		return reflect.Zero(t), nil
	}
	rv := reflect.ValueOf(v)
	if rv.Type().AssignableTo(t) {
		return rv, nil
	}
	switch t.Kind() {
	case reflect.String:
		switch rv.Kind() {
		case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
			if _, ok := v.(fmt.Stringer); !ok {
				break
			}
			fallthrough
		default:
			return reflect.ValueOf(formatValue(v)).Convert(t), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if f, ok := toFloat(v, true); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return reflect.ValueOf(math.Trunc(f)).Convert(t), nil
		}
	case reflect.Float32, reflect.Float64:
		if f, ok := toFloat(v, true); ok {
			return reflect.ValueOf(f).Convert(t), nil
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String && (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) {
			out := reflect.MakeSlice(t, 0, rv.Len())
			for i := 0; i < rv.Len(); i++ {
				out = reflect.Append(out, reflect.ValueOf(formatValue(rv.Index(i).Interface())).Convert(t.Elem()))
			}
			return out, nil
		}
	case reflect.Map:
		if rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String && t.Key().Kind() == reflect.String {
			out := reflect.MakeMapWithSize(t, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				val := it.Value()
				if val.Kind() == reflect.Interface && val.IsNil() {
					out.SetMapIndex(it.Key().Convert(t.Key()), reflect.Zero(t.Elem()))
					continue
				}
				if !val.Type().AssignableTo(t.Elem()) {
					return reflect.Value{}, fmt.Errorf("expected %s, got %s", kindName(t), withArticle(describe(v)))
				}
				out.SetMapIndex(it.Key().Convert(t.Key()), val)
			}
			return out, nil
		}
	}
	if rv.Type().ConvertibleTo(t) && rv.Kind() == t.Kind() {
		return rv.Convert(t), nil
	}
	return reflect.Value{}, fmt.Errorf("expected %s, got %s", kindName(t), withArticle(describe(v)))
}

// kindName names a parameter type the way template authors think of it.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// moneyFunc is the template's money: `money cents currency`, and also the
// pipeline form `cents | money currency`, which passes the arguments the
// other way round. A missing amount prints as "".
func moneyFunc(a, b any) (string, error) {
	// The first argument is the currency when it cannot be an amount (it is
	// text that is not a number, or missing) while the second can (it is a
	// number, or missing).
	_, aNum := toFloat(a, true)
	_, bNum := toFloat(b, true)
	_, aText := a.(string)
	if (a == nil || aText && !aNum) && (b == nil || bNum) {
		a, b = b, a
	}
	if a == nil {
		return "", nil
	}
	currency, _ := b.(string)
	neg, digits, err := minorUnits(a)
	if err != nil {
		return "", err // text/template prefixes "money: "
	}
	return formatMoney(neg, digits, strings.ToUpper(strings.TrimSpace(currency))), nil
}

// mrkdwnJSON is the template's mrkdwnJson: v escaped for Slack mrkdwn
// (like mrkdwn) and then for the inside of a JSON string, without the
// quotes, for Block Kit text objects written in a template:
//
//	{"type": "mrkdwn", "text": "*Customer*\n{{ mrkdwnJson .customer.name }}"}
//
// The template's own mrkdwn (*bold*, <https://…|links>) stays; a value can
// neither mention, link nor leave the JSON string.
func mrkdwnJSON(v any) (string, error) {
	s, err := marshalJSON(escapeMrkdwn(formatValue(v)), true, "")
	if err != nil {
		return "", err
	}
	return s[1 : len(s)-1], nil
}

func marshalJSON(v any, escapeHTML bool, indent string) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// required fails rendering with msg when v is nil, "" or an empty list or
// object; otherwise it returns v.
func required(msg string, v any) (any, error) {
	if isEmpty(v) {
		return nil, errors.New(msg)
	}
	return v, nil
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// length is len, with 0 for nil.
func length(v any) (int, error) {
	if v == nil {
		return 0, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array, reflect.Chan:
		return rv.Len(), nil
	}
	return 0, fmt.Errorf("len of %s", withArticle(describe(v)))
}

// index is index, nil-safe: a missing key, an index out of range or a
// lookup in nil is nil. JSON numbers are accepted as list indexes.
func index(v any, keys ...any) (any, error) {
	for _, k := range keys {
		if v == nil {
			return nil, nil
		}
		switch m := v.(type) {
		case map[string]any:
			s, ok := k.(string)
			if !ok {
				s = formatValue(k)
			}
			v = m[s]
			continue
		case []any:
			i, ok := toInt(k)
			if !ok {
				return nil, fmt.Errorf("cannot index a list with %s", withArticle(describe(k)))
			}
			if i < 0 || i >= int64(len(m)) {
				return nil, nil
			}
			v = m[i]
			continue
		}
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Map:
			kv, err := convertArg(k, rv.Type().Key())
			if err != nil {
				return nil, err
			}
			e := rv.MapIndex(kv)
			if !e.IsValid() {
				return nil, nil
			}
			v = e.Interface()
		case reflect.Slice, reflect.Array, reflect.String:
			i, ok := toInt(k)
			if !ok {
				return nil, fmt.Errorf("cannot index %s with %s", withArticle(describe(v)), withArticle(describe(k)))
			}
			if i < 0 || i >= int64(rv.Len()) {
				return nil, nil
			}
			v = rv.Index(int(i)).Interface()
		default:
			return nil, nil
		}
	}
	return v, nil
}

// sliceOf is slice, nil-safe, for strings and lists; JSON numbers are
// accepted as indexes.
func sliceOf(v any, idx ...any) (any, error) {
	if v == nil {
		return nil, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Slice, reflect.Array:
	default:
		return nil, fmt.Errorf("cannot slice %s", withArticle(describe(v)))
	}
	if len(idx) > 3 || (len(idx) == 3 && rv.Kind() == reflect.String) {
		return nil, errors.New("too many slice indexes")
	}
	n := []int{0, rv.Len(), rv.Len()}
	if rv.Kind() == reflect.Slice {
		n[2] = rv.Cap()
	}
	cap3 := n[2]
	for i, x := range idx {
		k, ok := toInt(x)
		if !ok {
			return nil, fmt.Errorf("slice index is %s", withArticle(describe(x)))
		}
		n[i] = int(k)
	}
	if n[0] < 0 || n[0] > n[1] || n[1] > n[2] || n[2] > cap3 {
		return nil, fmt.Errorf("slice indexes out of range: %v", n[:max(len(idx), 2)])
	}
	if rv.Kind() == reflect.Array && !rv.CanAddr() {
		c := reflect.New(rv.Type()).Elem()
		c.Set(rv)
		rv = c
	}
	if len(idx) == 3 {
		return rv.Slice3(n[0], n[1], n[2]).Interface(), nil
	}
	return rv.Slice(n[0], n[1]).Interface(), nil
}

// eq reports whether a equals any of bs. Numbers compare by value whatever
// their Go type (JSON numbers are float64, template constants int);
// different kinds are unequal rather than an error.
func eq(a any, bs ...any) (bool, error) {
	if len(bs) == 0 {
		return false, errors.New("missing argument for comparison")
	}
	for _, b := range bs {
		ok, err := equal(a, b)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func equal(a, b any) (bool, error) {
	if a == nil || b == nil {
		return a == nil && b == nil, nil
	}
	if c, ok, err := compare(a, b); ok {
		return c == 0, err
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb {
		return false, nil
	}
	if !ta.Comparable() {
		return false, fmt.Errorf("cannot compare %s values", describe(a))
	}
	return a == b, nil
}

// compare orders numbers and strings; ok is false for other kinds or
// mismatched ones.
func compare(a, b any) (c int, ok bool, err error) {
	if ia, okA := toIntExact(a); okA {
		if ib, okB := toIntExact(b); okB {
			return cmpInt(ia, ib), true, nil
		}
	}
	if fa, okA := toFloat(a, false); okA {
		if fb, okB := toFloat(b, false); okB {
			switch {
			case fa < fb:
				return -1, true, nil
			case fa > fb:
				return 1, true, nil
			}
			return 0, true, nil
		}
		return 0, false, nil
	}
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Kind() == reflect.String && rb.Kind() == reflect.String {
		return strings.Compare(ra.String(), rb.String()), true, nil
	}
	return 0, false, nil
}

// toIntExact reads a value of an integer kind (not a float).
func toIntExact(v any) (int64, bool) {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return toInt(v)
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// order implements lt, le, gt and ge for numbers (of any Go type) and
// strings. A comparison with a missing value is false, so that
// {{ if gt .invoice.total_amount_cents 100000 }} skips a message without
// the field instead of failing its delivery.
func order(a, b any, test func(int) bool) (bool, error) {
	if a == nil || b == nil {
		return false, nil
	}
	c, ok, err := compare(a, b)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("cannot compare %s with %s", withArticle(describe(a)), withArticle(describe(b)))
	}
	return test(c), nil
}

// toStrings prints each element of a list (nil elements are skipped), or
// the value itself when it is not a list.
func toStrings(v any) []string {
	if v == nil {
		return []string{}
	}
	if s, ok := v.([]string); ok {
		return slices.Clone(s)
	}
	rv := reflect.ValueOf(v)
	if (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || rv.Type().Elem().Kind() == reflect.Uint8 {
		return []string{formatValue(v)}
	}
	out := make([]string, 0, rv.Len())
	for i := 0; i < rv.Len(); i++ {
		e := rv.Index(i).Interface()
		if e != nil {
			out = append(out, formatValue(e))
		}
	}
	return out
}

// keys returns the keys of one or more objects, sorted (Sprig's are in
// random order).
func keys(dicts ...any) []string {
	out := []string{}
	for _, d := range dicts {
		rv := reflect.ValueOf(d)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			continue
		}
		for _, k := range rv.MapKeys() {
			out = append(out, k.String())
		}
	}
	sort.Strings(out)
	return out
}

// values returns an object's values in the order of its sorted keys.
func values(d any) []any {
	rv := reflect.ValueOf(d)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return []any{}
	}
	ks := rv.MapKeys()
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	out := make([]any, len(ks))
	for i, k := range ks {
		out[i] = rv.MapIndex(k).Interface()
	}
	return out
}

// indent prefixes every line of s with n spaces, refusing results larger
// than limit.
func indent(n int, s string, limit int) (string, error) {
	if n <= 0 {
		return s, nil
	}
	lines := strings.Count(s, "\n") + 1
	if n > limit || n*lines > limit-len(s) {
		return "", fmt.Errorf("the result would exceed %d bytes", limit)
	}
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad), nil
}

// untilStep is Sprig's untilStep, capped at maxIterations elements.
func untilStep(start, stop, step int) ([]int, error) {
	if step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop) {
		return []int{}, nil
	}
	// In floats: the difference of two extreme ints overflows.
	count := math.Ceil((float64(stop) - float64(start)) / float64(step))
	if count > maxIterations {
		return nil, fmt.Errorf("more than %d elements", maxIterations)
	}
	out := make([]int, 0, int(count))
	for k := range int(count) {
		out = append(out, start+k*step)
	}
	return out, nil
}

// seq is Sprig's seq (like the Unix command: seq LAST, seq FIRST LAST,
// seq FIRST STEP LAST), capped at maxIterations numbers.
func seq(params ...int) (string, error) {
	start, step, end := 1, 1, 0
	switch len(params) {
	case 1:
		end = params[0]
		if end < start {
			step = -1
		}
	case 2:
		start, end = params[0], params[1]
		if end < start {
			step = -1
		}
	case 3:
		start, step, end = params[0], params[1], params[2]
		if step == 0 || (end < start && step > 0) || (end > start && step < 0) {
			return "", nil
		}
	default:
		return "", errors.New("seq takes 1 to 3 numbers")
	}
	var stop int
	if step > 0 {
		stop = end + 1
	} else {
		stop = end - 1
	}
	list, err := untilStep(start, stop, step)
	if err != nil {
		return "", err
	}
	return strings.Trim(fmt.Sprint(list), "[]"), nil
}

// rangeLimit ends every range pipeline: ranging over an integer (Go 1.22
// templates can) is capped at maxIterations, and an integral JSON number
// ranges like an int.
func rangeLimit(v any) (any, error) {
	if f, ok := v.(float64); ok {
		n, isInt := toInt(f)
		if !isInt {
			return nil, fmt.Errorf("cannot range over %s", formatFloat(f, 64))
		}
		v = int(n)
	}
	if n, ok := toIntExact(v); ok && n > maxIterations {
		return nil, fmt.Errorf("%d iterations, more than the limit of %d", n, maxIterations)
	}
	return v, nil
}

// lagoObject returns the object of a Lago webhook message: the value under
// the key its object_type names ({"object_type":"invoice","invoice":{…}}),
// or nil when the message is not shaped that way.
func lagoObject(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	key, _ := m["object_type"].(string)
	if key == "" {
		return nil
	}
	obj, ok := m[key].(map[string]any)
	if !ok {
		return nil
	}
	return obj
}

// eventType returns a message's event type: webhook_type (Lago), else
// type, event or event_type, whichever is a non-empty string; "" if none.
func eventType(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range []string{"webhook_type", "type", "event", "event_type"} {
		if s, ok := m[k].(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
