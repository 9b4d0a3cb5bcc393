package router

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	exprcompiler "github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// condition is a compiled `when` expression. The Program is shared; VMs
// are pooled because a vm.VM is not safe for concurrent use.
type condition struct {
	source  string
	program *vm.Program
	// loose compiles, once and when first needed, the program for a
	// message whose declared variables (exprEnv) are not all there with
	// their types: program compares webhook_type as a string and would
	// fail on a message without one, where the field is nil.
	loose func() (*vm.Program, error)
	vms   *sync.Pool
	// tree is the parsed expression, kept while its rule is compiled
	// for its analyses (field paths, comparisons) and then dropped; index
	// is what the rule index reads in it, kept until the index is built.
	tree  *parser.Tree
	index *indexAnalysis
}

// exprEnv declares the variables every message has, so that obvious type
// errors (webhook_type > 5) fail at load. Other top-level fields are
// unknown until a message arrives and evaluate to nil when absent.
func exprEnv() map[string]any {
	return map[string]any{
		"webhook_type":    "",
		"object_type":     "",
		"organization_id": "",
		"meta":            map[string]any{},
	}
}

// exprOptions are the compile options shared by every condition.
func exprOptions(now func() time.Time) []expr.Option {
	ts := func(name string, f func(t time.Time) float64) expr.Option {
		return expr.Function(name, func(params ...any) (any, error) {
			t, err := parseTimestamp(params[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return f(t), nil
		}, new(func(any) float64))
	}
	return append([]expr.Option{
		expr.Env(exprEnv()),
		expr.AllowUndefinedVariables(),
		expr.AsBool(),
		ts("hours_since", func(t time.Time) float64 { return now().Sub(t).Hours() }),
		ts("hours_until", func(t time.Time) float64 { return t.Sub(now()).Hours() }),
		ts("days_since", func(t time.Time) float64 { return now().Sub(t).Hours() / 24 }),
		ts("days_until", func(t time.Time) float64 { return t.Sub(now()).Hours() / 24 }),
	}, numericCompareOptions()...)
}

// declaredAsTyped reports whether env holds every variable exprEnv
// declares, with its declared type.
func declaredAsTyped(env map[string]any) bool {
	for _, k := range [...]string{"webhook_type", "object_type", "organization_id"} {
		if _, ok := env[k].(string); !ok {
			return false
		}
	}
	_, ok := env["meta"].(map[string]any)
	return ok
}

// parseTimestamp reads Lago's ISO-8601 timestamps ("2024-03-05T12:34:56Z",
// with fractional seconds or an offset) and plain dates ("2024-03-05").
func parseTimestamp(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		if v == nil {
			return time.Time{}, errors.New("timestamp is null")
		}
		return time.Time{}, fmt.Errorf("timestamp is a %T, not a string", v)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q as an ISO-8601 timestamp", s)
}

// functionNames are the functions conditions may call beside expr's
// builtins (which parse as builtin nodes, not calls).
var functionNames = map[string]bool{"hours_since": true, "hours_until": true, "days_since": true, "days_until": true}

// compileCondition compiles one `when`. On error it returns the expr
// error, whose Line and Column are relative to the expression.
func compileCondition(src string, opts []expr.Option) (*condition, error) {
	return newExprCompiler(opts).compile(src)
}

// exprCompiler compiles conditions with one expr configuration, built once
// per load: building it costs more than compiling a short condition, and
// a configuration is only read while compiling.
type exprCompiler struct {
	config *conf.Config
	// unpatched is config without the patch that rewrites comparisons:
	// a comparison the patch rewrites hides type errors in its operands
	// from the checker (`len() > 0` would pass), so conditions are also
	// checked as written. The patch only rewrites comparisons whose types
	// are unknown at load, which the checker accepts either way.
	unpatched *conf.Config
	// loose is config without the declared variables' types (exprEnv),
	// for messages in which one of them is missing or of another type.
	// Its programs are compiled when first needed, by routing goroutines:
	// compiling writes to the configuration's caches, so looseMu
	// serializes it.
	loose   *conf.Config
	looseMu sync.Mutex
	// declared are the variables every message has (exprEnv).
	declared map[string]any
}

func newExprCompiler(opts []expr.Option) *exprCompiler {
	unpatched := newExprConfig(opts)
	unpatched.Visitors = nil
	loose := newExprConfig(opts)
	loose.WithEnv(map[string]any{})
	loose.Strict = false
	return &exprCompiler{config: newExprConfig(opts), unpatched: unpatched, loose: loose, declared: exprEnv()}
}

// newExprConfig prepares a configuration as expr.Compile does.
func newExprConfig(opts []expr.Option) *conf.Config {
	config := conf.CreateNew()
	for _, op := range opts {
		op(config)
	}
	for name := range config.Disabled {
		delete(config.Builtins, name)
	}
	config.Check()
	return config
}

// compile compiles one `when`, as expr.Compile would. On error it returns
// the expr error, whose Line and Column are relative to the expression.
func (x *exprCompiler) compile(src string) (*condition, error) {
	return x.compileFor(src, true)
}

// compileFor is compile; without needProgram, a condition the rule
// index matches on its own (indexedExactly) is only parsed: its program
// would be dropped after the load, and such a condition cannot fail to
// type-check or compile, so every error is still reported.
func (x *exprCompiler) compileFor(src string, needProgram bool) (*condition, error) {
	if !needProgram {
		if tree, err := parser.Parse(src); err == nil {
			if a := x.indexedExactly(tree); a != nil {
				return &condition{source: src, tree: tree, index: a}, nil
			}
		}
	}
	asWritten, err := parser.ParseWithConfig(src, x.unpatched)
	if err != nil {
		return nil, err
	}
	if _, err := checker.Check(asWritten, x.unpatched); err != nil {
		return nil, err
	}
	program, err := buildProgram(src, x.config)
	if err != nil {
		return nil, err
	}
	// Undefined variables are allowed (they are the message's fields), so
	// expr would accept a call to an unknown function and fail on every
	// message; reject it at load instead. The plain parse is kept for the
	// load's analyses (checking patches the tree ParseCheck returns).
	tree, perr := parser.Parse(src)
	if perr == nil {
		v := &callCollector{}
		exprast.Walk(&tree.Node, v)
		for _, c := range v.calls {
			if id, ok := c.Callee.(*exprast.IdentifierNode); ok && !functionNames[id.Value] {
				fe := &file.Error{Location: c.Location(), Message: fmt.Sprintf("unknown function %s", id.Value)}
				return nil, fe.Bind(file.NewSource(src))
			}
		}
	} else {
		tree = nil
	}
	return &condition{
		source:  src,
		program: program,
		loose: sync.OnceValues(func() (*vm.Program, error) {
			x.looseMu.Lock()
			defer x.looseMu.Unlock()
			return buildProgram(src, x.loose)
		}),
		vms:  &sync.Pool{New: func() any { return new(vm.VM) }},
		tree: tree,
	}, nil
}

// buildProgram checks (with config's patches), optimizes and compiles src,
// as expr.Compile would.
func buildProgram(src string, config *conf.Config) (*vm.Program, error) {
	checked, err := checker.ParseCheck(src, config)
	if err != nil {
		return nil, err
	}
	if config.Optimize {
		if err := optimizer.Optimize(&checked.Node, config); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(checked.Source)
			}
			return nil, err
		}
	}
	return exprcompiler.Compile(checked, config)
}

// indexedExactly returns what the rule index reads in tree when the index
// matches it on its own (analyzeIndexTree), with field paths rooted in
// the message's own fields: a comparison of webhook_type and of such
// paths with literals, which type-checks whatever the message holds.
// Otherwise it returns nil.
func (x *exprCompiler) indexedExactly(tree *parser.Tree) *indexAnalysis {
	p, key, exact := analyzeIndexTree(tree)
	if p == nil || !exact {
		return nil
	}
	if key != nil {
		root := key.path[0]
		if _, declared := x.declared[root]; declared {
			return nil
		}
		if _, fn := x.config.Functions[root]; fn {
			return nil
		}
		if _, builtin := x.config.Builtins[root]; builtin {
			return nil
		}
	}
	return &indexAnalysis{p: p, key: key, exact: exact}
}

// eval runs the condition against a message's variables.
func (c *condition) eval(env map[string]any) (matched bool, err error) {
	program := c.program
	if !declaredAsTyped(env) {
		if program, err = c.loose(); err != nil {
			return false, err
		}
	}
	m := c.vms.Get().(*vm.VM)
	defer c.vms.Put(m)
	defer func() {
		// expr turns most problems into errors, but a panic in a helper
		// must never take the process (or other rules) down.
		if r := recover(); r != nil {
			matched, err = false, fmt.Errorf("evaluation panicked: %v", r)
		}
	}()
	out, err := m.Run(program, env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %T, not a boolean", out)
	}
	return b, nil
}

// exprErrorPos extracts the position inside the expression from an expr
// compile error (1-based line, 1-based column) and its message.
func exprErrorPos(err error) (line, col int, msg string) {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Line, fe.Column + 1, fe.Message
	}
	msg = err.Error()
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	return 0, 0, msg
}

// fieldRef is a field path read by an expression, with its offset (in
// runes) inside the expression.
type fieldRef struct {
	path   []string
	offset int
}

// analyze parses src (already known to compile) and returns the Lago event
// types its top-level conjuncts pin webhook_type to (nil: not pinned) and
// the field paths it reads.
func analyze(src string, allTypes []string) (pinned []string, refs []fieldRef) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, nil
	}
	return analyzeTree(tree, allTypes)
}

// analyzeTree is analyze on an already parsed expression.
func analyzeTree(tree *parser.Tree, allTypes []string) (pinned []string, refs []fieldRef) {
	set := pinnedTypes(tree.Node, allTypes)
	for t := range set {
		pinned = append(pinned, t)
	}
	sort.Strings(pinned)
	v := &refCollector{}
	exprast.Walk(&tree.Node, v)
	for _, m := range v.members {
		if v.inner[m] {
			continue
		}
		if path, ok := memberPath(m); ok {
			refs = append(refs, fieldRef{path: path, offset: m.Location().From})
		}
	}
	return pinned, refs
}

// pinnedTypes returns the set of webhook types n requires, or nil when n
// does not pin webhook_type.
func pinnedTypes(n exprast.Node, allTypes []string) map[string]bool {
	switch b := n.(type) {
	case *exprast.BinaryNode:
		switch b.Operator {
		case "&&", "and":
			// Every conjunct must hold: the types all the pinning ones
			// allow.
			var out map[string]bool
			for _, c := range Conjuncts(b) {
				pinned := pinnedTypes(c, allTypes)
				switch {
				case pinned == nil:
				case out == nil:
					out = pinned
				default:
					for t := range out {
						if !pinned[t] {
							delete(out, t)
						}
					}
				}
			}
			return out
		case "||", "or":
			l, r := pinnedTypes(b.Left, allTypes), pinnedTypes(b.Right, allTypes)
			if l == nil || r == nil {
				return nil
			}
			for t := range r {
				l[t] = true
			}
			return l
		case "==":
			if isWebhookType(b.Left) {
				if s, ok := b.Right.(*exprast.StringNode); ok {
					return map[string]bool{s.Value: true}
				}
			}
			if isWebhookType(b.Right) {
				if s, ok := b.Left.(*exprast.StringNode); ok {
					return map[string]bool{s.Value: true}
				}
			}
		case "in":
			if arr, ok := b.Right.(*exprast.ArrayNode); ok && isWebhookType(b.Left) {
				out := map[string]bool{}
				for _, el := range arr.Nodes {
					s, ok := el.(*exprast.StringNode)
					if !ok {
						return nil
					}
					out[s.Value] = true
				}
				return out
			}
		case "startsWith":
			if s, ok := b.Right.(*exprast.StringNode); ok && isWebhookType(b.Left) {
				out := map[string]bool{}
				for _, t := range allTypes {
					if strings.HasPrefix(t, s.Value) {
						out[t] = true
					}
				}
				return out
			}
		}
	}
	return nil
}

func isWebhookType(n exprast.Node) bool {
	id, ok := n.(*exprast.IdentifierNode)
	return ok && id.Value == "webhook_type"
}

type callCollector struct{ calls []*exprast.CallNode }

func (v *callCollector) Visit(n *exprast.Node) {
	if c, ok := (*n).(*exprast.CallNode); ok {
		v.calls = append(v.calls, c)
	}
}

type refCollector struct {
	members []*exprast.MemberNode
	inner   map[*exprast.MemberNode]bool
}

func (v *refCollector) Visit(n *exprast.Node) {
	m, ok := (*n).(*exprast.MemberNode)
	if !ok {
		return
	}
	v.members = append(v.members, m)
	if v.inner == nil {
		v.inner = map[*exprast.MemberNode]bool{}
	}
	if child, ok := m.Node.(*exprast.MemberNode); ok {
		v.inner[child] = true
	}
	if ch, ok := m.Node.(*exprast.ChainNode); ok {
		if child, ok := ch.Node.(*exprast.MemberNode); ok {
			v.inner[child] = true
		}
	}
}

// memberPath turns a.b.c (or a?.b?.c) into ["a","b","c"]; false when the
// chain has computed parts (a[0], a[x]).
func memberPath(m *exprast.MemberNode) ([]string, bool) {
	var rev []string
	var n exprast.Node = m
	for {
		switch x := n.(type) {
		case *exprast.MemberNode:
			s, ok := x.Property.(*exprast.StringNode)
			if !ok || x.Method {
				return nil, false
			}
			rev = append(rev, s.Value)
			n = x.Node
		case *exprast.ChainNode:
			n = x.Node
		case *exprast.IdentifierNode:
			rev = append(rev, x.Value)
			path := make([]string, len(rev))
			for i := range rev {
				path[i] = rev[len(rev)-1-i]
			}
			return path, true
		default:
			return nil, false
		}
	}
}

// comparison is a field path compared with a literal in a condition.
type comparison struct {
	path        []string
	ordering    bool   // <, <=, >, >=; otherwise == or !=
	literalKind string // string, number or bool
	literal     string // the literal's value
	text        string // the literal as written
	offset      int    // of the literal, in runes inside the expression
}

// comparisons returns the comparisons of a field path with a literal.
func comparisons(tree *parser.Tree) []comparison {
	v := &comparisonCollector{}
	exprast.Walk(&tree.Node, v)
	return v.found
}

type comparisonCollector struct{ found []comparison }

func (v *comparisonCollector) Visit(n *exprast.Node) {
	b, ok := (*n).(*exprast.BinaryNode)
	if !ok {
		return
	}
	ordering := false
	switch b.Operator {
	case "<", "<=", ">", ">=":
		ordering = true
	case "==", "!=":
	default:
		return
	}
	for _, pair := range [][2]exprast.Node{{b.Left, b.Right}, {b.Right, b.Left}} {
		m, ok := pair[0].(*exprast.MemberNode)
		if !ok {
			continue
		}
		path, ok := memberPath(m)
		if !ok {
			continue
		}
		var kind, lit, text string
		switch l := pair[1].(type) {
		case *exprast.StringNode:
			kind, lit, text = "string", l.Value, strconv.Quote(l.Value)
		case *exprast.IntegerNode:
			kind, lit = "number", strconv.Itoa(l.Value)
			text = lit
		case *exprast.FloatNode:
			kind, lit = "number", strconv.FormatFloat(l.Value, 'g', -1, 64)
			text = lit
		case *exprast.BoolNode:
			kind, lit = "bool", strconv.FormatBool(l.Value)
			text = lit
		default:
			continue
		}
		v.found = append(v.found, comparison{path: path, ordering: ordering, literalKind: kind, literal: lit, text: text,
			offset: pair[1].Location().From})
	}
}
