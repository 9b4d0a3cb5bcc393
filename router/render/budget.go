package render

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of the render budget; see Options.
const (
	// DefaultMaxSteps is the default number of steps one execution may
	// take: a step is one function call, one field lookup or output, or
	// one iteration of a range.
	DefaultMaxSteps = 1_000_000
	// DefaultMaxMemory is the default budget of intermediate values one
	// execution may build (32 MiB): the sum of the sizes of every string,
	// list and object a function returns.
	DefaultMaxMemory = 32 << 20
	// DefaultTimeout is the default wall-clock time one execution may take.
	DefaultTimeout = 2 * time.Second
)

// ErrBudget is returned (wrapped) by Execute when an execution exceeds
// its step, memory or time budget. Execution stops there; the process
// and other executions are unaffected.
var ErrBudget = errors.New("render budget exceeded")

// budget bounds one execution. It belongs to one instance (see
// Template), so it is used by one goroutine at a time.
type budget struct {
	maxSteps  int
	maxMemory int
	timeout   time.Duration

	deadline time.Time
	steps    int
	memory   int
	clock    int // steps since the deadline was last checked
}

func newBudget(o Options) *budget {
	return &budget{maxSteps: o.MaxSteps, maxMemory: o.MaxMemory, timeout: o.Timeout}
}

// start resets the budget for a new execution.
func (b *budget) start() {
	b.steps, b.memory, b.clock = 0, 0, 0
	b.deadline = time.Now().Add(b.timeout)
}

// step counts n steps and checks the deadline every few steps.
func (b *budget) step(n int) error {
	b.steps += n
	if b.steps > b.maxSteps {
		return fmt.Errorf("%w: more than %d steps (a loop too long?)", ErrBudget, b.maxSteps)
	}
	b.clock += n
	if b.clock >= 32 {
		b.clock = 0
		if time.Now().After(b.deadline) {
			return fmt.Errorf("%w: rendering took longer than %s", ErrBudget, b.timeout)
		}
	}
	return nil
}

// fits checks that n more bytes of intermediate values stay within the
// memory budget, without counting them.
func (b *budget) fits(n int) error {
	if n < 0 || b.memory+n > b.maxMemory {
		return fmt.Errorf("%w: intermediate values would exceed %s", ErrBudget, sizeName(b.maxMemory))
	}
	return nil
}

// alloc counts n bytes of intermediate values.
func (b *budget) alloc(n int) error {
	if err := b.fits(n); err != nil {
		return err
	}
	b.memory += n
	return nil
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// growthOf says which functions can build a result much larger than the
// memory their arguments hold — printing a list that holds the same long
// string many times, joining it, encoding it — and by how much escaping
// can grow it (JSON's \u003c is six bytes for one). Those are checked
// before they run: the printed size of their arguments, times the growth,
// must fit the budget. 0 for the other functions.
func growthOf(name string) int {
	switch name {
	case "print", "println", "cat", "join", "toString", "toStrings", "sortAlpha", "squote":
		return 1
	case "b64enc", "b32enc", "wrap":
		return 2
	case "urlquery":
		return 3
	case "mrkdwn":
		return 5
	case "markdown":
		return 2
	case "toJson", "toRawJson", "quote", "html", "js", "mrkdwnJson", "markdownJson":
		return 6
	case "toPrettyJson":
		return 8
	}
	return 0
}

// passesThrough reports whether the function name returns (part of) a
// value it was given, so its result costs nothing new.
func passesThrough(name string) bool {
	switch name {
	case "default", "coalesce", "ternary", "first", "last", "index", "get", "dig",
		"lagoObject", "required", "slice", "empty", "eventType":
		return true
	}
	return false
}

// meter wraps the template function f (named name) so that each call is
// a step, its result is counted against the memory budget, and a call
// whose result would blow the budget is refused before it runs.
func meter(name string, f any, b *budget) any {
	v := reflect.ValueOf(f)
	t := v.Type()
	switch t.Out(0).Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		// A number or a boolean costs nothing to keep, and a loop calling
		// it is counted by its range: no wrapper, no overhead.
		return f
	}
	in := make([]reflect.Type, t.NumIn())
	for i := range in {
		in[i] = t.In(i)
	}
	errT := reflect.TypeFor[error]()
	outT := []reflect.Type{t.Out(0), errT}
	hasErr := t.NumOut() == 2
	fail := func(err error) []reflect.Value {
		return []reflect.Value{reflect.Zero(outT[0]), reflect.ValueOf(&err).Elem()}
	}
	growth := growthOf(name)
	free := passesThrough(name)
	return reflect.MakeFunc(reflect.FuncOf(in, outT, t.IsVariadic()), func(args []reflect.Value) []reflect.Value {
		if err := b.step(1); err != nil {
			return fail(err)
		}
		if need := argBound(name, growth, args, b.maxMemory); need > 0 {
			if err := b.fits(need); err != nil {
				return fail(err)
			}
		}
		var res []reflect.Value
		if t.IsVariadic() {
			res = v.CallSlice(args)
		} else {
			res = v.Call(args)
		}
		if hasErr && !res[1].IsNil() {
			return res
		}
		if !free {
			if err := b.alloc(shallowSize(res[0])); err != nil {
				return fail(err)
			}
		}
		return []reflect.Value{res[0], reflect.Zero(errT)}
	}).Interface()
}

// argBound estimates the size of what the function name will build from
// args, before it runs; 0 when the function cannot build much more than
// its arguments hold. The estimate stops growing past limit.
func argBound(name string, growth int, args []reflect.Value, limit int) int {
	str := func(i int) string {
		if i >= len(args) {
			return ""
		}
		s, _ := valueOf(args[i]).(string)
		return s
	}
	switch name {
	case "printf":
		format := str(0)
		n := len(format) + formatWidths(format)
		for _, a := range args[1:] {
			n += 6 * printedSize(valueOf(a), limit)
		}
		return n
	case "replace": // replace OLD NEW S
		old, repl, s := str(0), str(1), str(2)
		count := utf8.RuneCountInString(s) + 1
		if old != "" {
			count = strings.Count(s, old)
		}
		return len(s) + count*len(repl)
	case "wrapWith": // wrapWith N WITH S
		n, _ := toInt(valueOf(args[0]))
		s := str(2)
		return len(s) + (len(s)/int(max(n, 1))+1)*len(str(1))
	}
	if growth == 0 {
		return 0
	}
	n := 0
	for _, a := range args {
		n += printedSize(valueOf(a), limit)
		if n > limit {
			break
		}
	}
	return n * growth
}

func valueOf(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Kind() == reflect.Interface && v.IsNil() {
		return nil
	}
	return v.Interface()
}

// formatWidths sums the widths and precisions written in a printf
// format (fmt caps each at 1e6): "%0900000d" prints 900000 bytes.
func formatWidths(format string) int {
	total := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format); i++ {
			c := format[i]
			if c >= '0' && c <= '9' {
				n := 0
				for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
					if n < 1e6 {
						n = n*10 + int(format[i]-'0')
					}
				}
				total += min(n, 1e6)
				i--
				continue
			}
			if !strings.ContainsRune("+-# .*[]", rune(c)) {
				break
			}
		}
	}
	return total
}

// printedSize is about how many bytes printing v takes: the lengths of
// its strings, a few bytes per number and element. Lists and objects
// that hold the same value many times count it each time, as printing
// does. The walk stops once the size passes limit.
func printedSize(v any, limit int) int {
	n := 0
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if n > limit || depth > 64 {
			return
		}
		switch x := v.(type) {
		case nil:
		case string:
			n += len(x) + 2
		case mrkdwnText:
			n += len(x)
		case markdownText:
			n += len(x)
		case queryText:
			n += len(x)
		case []byte:
			n += len(x)
		case []any:
			for _, e := range x {
				walk(e, depth+1)
				n++
			}
		case []string:
			for _, e := range x {
				n += len(e) + 3
			}
		case map[string]any:
			for k, e := range x {
				n += len(k) + 4
				walk(e, depth+1)
			}
		default:
			rv := reflect.ValueOf(v)
			switch rv.Kind() {
			case reflect.Slice, reflect.Array:
				for i := 0; i < rv.Len() && n <= limit; i++ {
					walk(rv.Index(i).Interface(), depth+1)
					n++
				}
			case reflect.Map:
				for it := rv.MapRange(); it.Next() && n <= limit; {
					walk(it.Key().Interface(), depth+1)
					walk(it.Value().Interface(), depth+1)
				}
			case reflect.String:
				n += rv.Len()
			default:
				n += 8
			}
		}
	}
	walk(v, 0)
	return n
}

// shallowSize is the memory a function's result newly holds: the bytes
// of a string, the elements of a list or object (not what they point to).
func shallowSize(v reflect.Value) int {
	for v.IsValid() && v.Kind() == reflect.Interface {
		if v.IsNil() {
			return 0
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return 0
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Slice:
		return v.Len() * int(v.Type().Elem().Size())
	case reflect.Map:
		return v.Len() * 48
	}
	return 0
}

// maxMatches caps the matches regexReplaceAll replaces: the list of
// matches costs memory too.
const maxMatches = 100_000

// regexReplace is regexReplaceAll (and, literal, regexReplaceAllLiteral)
// built step by step, so that a replacement repeated on many matches
// stops at limit bytes instead of building a huge string first.
func regexReplace(literal bool, limit int) func(regex, s, repl string) (string, error) {
	return func(regex, s, repl string) (string, error) {
		re, err := regexp.Compile(regex)
		if err != nil {
			return "", err
		}
		matches := re.FindAllStringSubmatchIndex(s, maxMatches+1)
		if len(matches) > maxMatches {
			return "", fmt.Errorf("%w: more than %d matches", ErrBudget, maxMatches)
		}
		var out []byte
		last := 0
		for _, m := range matches {
			out = append(out, s[last:m[0]]...)
			if literal {
				out = append(out, repl...)
			} else {
				out = re.ExpandString(out, repl, s, m)
			}
			last = m[1]
			if len(out) > limit {
				return "", fmt.Errorf("%w: the result would exceed %s", ErrBudget, sizeName(limit))
			}
		}
		return string(append(out, s[last:]...)), nil
	}
}
