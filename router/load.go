package router

import (
	"github.com/switchboard-dev/switchboard/config"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/router/render"
)

// LoadOptions say where the configuration is and how to compile it.
type LoadOptions struct {
	// RulesPath is the rules file (default rules.yaml).
	RulesPath string
	// TemplatesDir holds the template files rules refer to (default
	// templates/). A missing directory is fine when no rule uses a file.
	TemplatesDir string
	// Env resolves ${VAR}; nil means os.LookupEnv.
	Env config.Env
	// DryRun makes unset variables warnings, disables the verification of
	// sources whose secret is unset, and replaces every notifier with one
	// that logs the rendered notification instead of sending it.
	DryRun bool
	// CheckOnly compiles for `check`: as under DryRun nothing can be
	// sent, and an unset variable is a warning that says serve needs it,
	// without the dry-run notes about disabled verification.
	CheckOnly bool
	// Logger receives dry-run notifications.
	Logger *slog.Logger
	// Catalog is Lago's catalog, used to warn about field paths that do
	// not exist in the event types a rule is pinned to. Nil skips that.
	Catalog *lago.Catalog
	// Now is the clock of the expression helpers (hours_since…).
	Now func() time.Time
	// MaxRenderBytes caps each rendered part (default 64 KiB).
	MaxRenderBytes int
	// Builder knows the channel kinds and builds the sources' verifiers
	// (internal/wiring's); required.
	Builder Builder

	// chunkRules, when positive, parses and compiles every rules file
	// chunked, this many rules at a time; when negative, never (tests).
	chunkRules int
}

// WithDefaults returns o with every unset option at its default.
func (o LoadOptions) WithDefaults() LoadOptions {
	o.defaults()
	return o
}

func (o *LoadOptions) defaults() {
	if o.RulesPath == "" {
		o.RulesPath = "rules.yaml"
	}
	if o.TemplatesDir == "" {
		o.TemplatesDir = "templates"
	}
	if o.Env == nil {
		o.Env = os.LookupEnv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CheckOnly {
		o.DryRun = true
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Load reads, validates and compiles the configuration. It returns the
// Ruleset and its warnings, or a *LoadError holding every problem found
// (warnings included). It never returns a partially valid Ruleset.
func Load(o LoadOptions) (*Ruleset, []config.Diagnostic, error) {
	o.defaults()
	ds := &config.Diags{}
	src, err := os.ReadFile(o.RulesPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			ds.Add(config.SeverityError, o.RulesPath, config.Pos{}, "", "", "the rules file does not exist")
		} else {
			ds.Add(config.SeverityError, o.RulesPath, config.Pos{}, "", "", "read rules file: %v", errors.Unwrap(err))
		}
		all := ds.Sorted()
		return nil, all, &config.LoadError{Diagnostics: all}
	}
	tmpls, err := readTemplates(o.TemplatesDir)
	if err != nil {
		ds.Add(config.SeverityError, o.TemplatesDir, config.Pos{}, "", "", "read templates: %v", err)
		all := ds.Sorted()
		return nil, all, &config.LoadError{Diagnostics: all}
	}
	return finish(compile(o, src, tmpls, ds), ds)
}

// Compile validates and compiles a configuration from bytes, as Load
// does from files: src is the rules file, named name in diagnostics, and
// templates holds the template files rules refer to (nil: none). Template
// files are named in messages under o.TemplatesDir. o.RulesPath is
// ignored. It returns the Ruleset and its warnings, or a
// *config.LoadError holding every problem found.
func Compile(name string, src []byte, templates fs.FS, o LoadOptions) (*Ruleset, []config.Diagnostic, error) {
	o.RulesPath = name
	o.defaults()
	ds := &config.Diags{}
	tmpls := map[string]templateFile{}
	if templates != nil {
		var err error
		if tmpls, err = readTemplatesFS(templates, o.TemplatesDir); err != nil {
			ds.Add(config.SeverityError, o.TemplatesDir, config.Pos{}, "", "", "read templates: %v", err)
			all := ds.Sorted()
			return nil, all, &config.LoadError{Diagnostics: all}
		}
	}
	return finish(compile(o, src, tmpls, ds), ds)
}

// finish returns a compiled Ruleset with its warnings, or the load error.
func finish(rs *Ruleset, ds *config.Diags) (*Ruleset, []config.Diagnostic, error) {
	all := ds.Sorted()
	if ds.HasErrors() {
		rs.close()
		return nil, all, &config.LoadError{Diagnostics: all}
	}
	// The warnings are kept with the Ruleset: their texts in one
	// allocation rather than one each amid the load's garbage.
	texts := make([]*string, len(all))
	for i := range all {
		texts[i] = &all[i].Message
	}
	config.CompactStrings(texts)
	rs.Warnings = all
	return rs, all, nil
}

// readTemplatesFS reads every template file of fsys, skipping hidden
// files and directories (such as Kubernetes' ..data and ..2024_… links
// to the real content) and editor backups, and names each under dir in
// messages.
func readTemplatesFS(fsys fs.FS, dir string) (map[string]templateFile, error) {
	out := map[string]templateFile{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), "~") {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := fs.Stat(fsys, p); err == nil && st.IsDir() {
				return nil // a link to a directory inside: not followed
			}
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out[p] = templateFile{name: p, path: filepath.Join(dir, filepath.FromSlash(p)), src: b}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// templateFile is one file of the templates directory.
type templateFile struct {
	name string // relative to the templates directory, with "/"
	path string // as given, for messages
	src  []byte
}

func readTemplates(dir string) (map[string]templateFile, error) {
	root := templatesRoot(dir)
	out, err := readTemplatesFS(os.DirFS(root), dir)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// Say which file on disk could not be read.
		pe.Path = filepath.Join(root, filepath.FromSlash(pe.Path))
	}
	return out, err
}

// templatesRoot is the directory to read templates from: the
// directory may be a symbolic link (a mounted volume, a checkout linked
// into place), so walk what it points to, and name files under dir as
// given.
func templatesRoot(dir string) string {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		return resolved
	}
	return dir
}

// TemplatesFS is the templates directory of o (default templates/) as
// Compile reads it.
func (o LoadOptions) TemplatesFS() fs.FS {
	o.defaults()
	return os.DirFS(templatesRoot(o.TemplatesDir))
}

// ContentVersion is the Version a Ruleset loaded now from o's files
// would have: a hash of the rules file and every template as they are on
// disk, without compiling them.
func ContentVersion(o LoadOptions) (string, error) {
	o.defaults()
	src, err := os.ReadFile(o.RulesPath)
	if err != nil {
		return "", err
	}
	tmpls, err := readTemplates(o.TemplatesDir)
	if err != nil {
		return "", err
	}
	return version(src, tmpls), nil
}

// version is a content hash of the rules file and every template: the
// Ruleset's identity, recorded with each message it routes.
func version(src []byte, tmpls map[string]templateFile) string {
	h := sha256.New()
	h.Write(src)
	names := make([]string, 0, len(tmpls))
	for n := range tmpls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "\x00%s\x00%d\x00", n, len(tmpls[n].src))
		h.Write(tmpls[n].src)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// compiler holds what compiling one configuration needs.
type compiler struct {
	o       LoadOptions
	ds      *config.Diags
	file    string
	lines   []string
	tmpls   map[string]templateFile
	files   map[string]*render.File // parsed template files
	badFile map[string]bool         // files that failed to parse (reported once)
	// channelNodes are the YAML nodes of channels, for positions.
	channelNodes map[string]ast.Node
	// brokenChannels are channels defined with errors (already reported).
	brokenChannels map[string]bool
	// pinned are the Lago types the rule being compiled is pinned to;
	// pinnedOf those of every rule, by position.
	pinned   []string
	pinnedOf [][]string
	// blocks caches compiled templates; defaults the built-in files.
	blocks   map[blockKey]*render.Template
	defaults map[string]*render.File
	rs       *Ruleset
	x        *expander
	ropts    render.Options
	// lint analyses templates (function arguments, fields read).
	lint *render.Checker
	// typeNames caches the catalog's webhook types (catalogTypeNames).
	typeNames []string
	// plainTargets are the targets of plain send entries (a channel and
	// nothing else) that compiled without a diagnostic, by channel: the
	// rules sending to that channel share one.
	plainTargets map[*Channel]*target
	// pinnedSets interns rules' pinned type lists: thousands of rules
	// pinned to the same type keep one list.
	pinnedSets map[string][]string
	// ruleSlab holds the compiled rules, one allocation for all of them.
	ruleSlab []Rule
	// targetLists interns rules' one-target lists, by target.
	targetLists map[*target][]*target
	// sendLists interns rules' one-entry send lists, by entry: thousands
	// of rules sending the same way keep one list (Rule.Sends copies).
	sendLists map[SendConfig][]SendConfig
}

// rulesPerChunk is how many rules a large rules file is parsed and
// compiled at a time (config.SplitRules), and chunkedFrom the size from
// which it is: the syntax tree of a 10,000-rule file, some 40 MB, would
// otherwise be live for the whole load, and the runtime keeps part of
// the metadata of a heap that large for the life of the process.
const (
	rulesPerChunk = 500
	chunkedFrom   = 256 << 10
)

func compile(o LoadOptions, src []byte, tmpls map[string]templateFile, ds *config.Diags) *Ruleset {
	size, from := rulesPerChunk, chunkedFrom
	switch {
	case o.chunkRules > 0:
		size, from = o.chunkRules, 0
	case o.chunkRules < 0:
		from = len(src) + 1
	}
	// check reads every rule's nodes once all are compiled: it parses the
	// file whole (its memory is not kept).
	if !o.CheckOnly && o.Builder != nil && len(src) >= from {
		if head, chunks, ok := config.SplitRules(src, size); ok {
			start := len(ds.List)
			if rs, ok := compileFrom(o, src, tmpls, ds, head, chunks); ok {
				return rs
			}
			// A chunk did not parse on its own (a syntax error, an
			// alias): the whole file says what is wrong.
			ds.List = ds.List[:start]
		}
	}
	rs, _ := compileFrom(o, src, tmpls, ds, src, nil)
	return rs
}

// compileFrom compiles the rules file src: parsed whole when chunks is
// nil, otherwise head (src without its rules) and then each chunk of
// rules, compiled before the next is parsed. It returns false, having
// released what it built, when a chunk does not parse on its own.
func compileFrom(o LoadOptions, src []byte, tmpls map[string]templateFile, ds *config.Diags, head []byte, chunks []config.RuleChunk) (*Ruleset, bool) {
	c := &compiler{
		o: o, ds: ds, file: o.RulesPath,
		lines:          strings.Split(string(src), "\n"),
		tmpls:          tmpls,
		files:          map[string]*render.File{},
		badFile:        map[string]bool{},
		channelNodes:   map[string]ast.Node{},
		brokenChannels: map[string]bool{},
		blocks:         map[blockKey]*render.Template{},
		defaults:       map[string]*render.File{},
		ropts:          render.Options{MaxBytes: o.MaxRenderBytes, Now: o.Now},
		lint:           render.NewChecker(),
		plainTargets:   map[*Channel]*target{},
		pinnedSets:     map[string][]string{},
		sendLists:      map[SendConfig][]SendConfig{},
		targetLists:    map[*target][]*target{},
	}
	c.x = &expander{file: o.RulesPath, env: o.Env, dryRun: o.DryRun, checkOnly: o.CheckOnly, ds: ds}
	c.rs = &Ruleset{
		Version:  version(src, tmpls),
		Sources:  map[string]*Source{},
		Channels: map[string]*Channel{},
		LoadedAt: o.Now(),
		now:      o.Now,
	}
	c.x.record = func(v string) { c.rs.secrets = append(c.rs.secrets, v) }
	if o.Builder == nil {
		ds.Add(config.SeverityError, c.file, config.Pos{}, "", "", "no channel kinds to compile with (LoadOptions.Builder is nil)")
		return c.rs, true
	}
	doc := config.Parse(o.RulesPath, head, ds, parserKinds{o.Builder})
	for _, sd := range doc.Sources {
		c.compileSource(sd)
	}
	for _, cd := range doc.Channels {
		c.channelNodes[cd.Name] = cd.Node
		c.compileChannel(cd)
	}
	c.resolveOnFailure(doc)
	c.compileRetention(doc)
	names := map[string]config.Pos{}
	exprs := newExprCompiler(exprOptions(o.Now))
	total := len(doc.Rules)
	for _, ch := range chunks {
		total += ch.Count
	}
	c.ruleSlab = make([]Rule, total)
	c.pinnedOf = make([][]string, total)
	c.rs.Rules = make([]*Rule, 0, total)
	var resolves []resolveRef
	compileRules := func(first int, rules []config.RuleDoc) {
		for k, rd := range rules {
			c.compileRule(first+k, rd, names, exprs)
			if rd.Config.Resolves != "" {
				resolves = append(resolves, resolveRef{name: rd.Config.Name, resolves: rd.Config.Resolves, at: config.PosIn(rd.Node, "resolves")})
			}
		}
	}
	compileRules(0, doc.Rules)
	for _, ch := range chunks {
		rules, ok := config.ParseRuleChunk(o.RulesPath, ch, ds)
		if !ok {
			c.rs.close()
			return nil, false
		}
		compileRules(ch.First, rules)
	}
	c.checkResolves(resolves)
	if o.CheckOnly && o.Catalog != nil {
		c.tryExamples(doc.Rules)
	}
	c.rs.index = buildIndex(c.rs.Rules)
	// A rule the index matches exactly keeps no program: thousands of
	// per-customer rules then cost a map entry each, not a compiled
	// expression (which `check` still compiled above, to report errors).
	for i, exact := range c.rs.index.exact {
		if exact {
			c.rs.Rules[i].cond = nil
		}
	}
	for _, r := range c.rs.Rules {
		if r.cond != nil && r.cond.program == nil {
			// Left without a program for the index, which matches it
			// exactly (compileRule): never the case, but a rule must
			// never be kept without either.
			cond, err := exprs.compile(r.When)
			if err != nil {
				_, _, msg := exprErrorPos(err)
				c.ds.Add(config.SeverityError, c.file, config.Pos{}, r.Name, "when", "when: %s", msg)
			}
			r.cond = cond
		}
		if r.cond != nil {
			r.cond.tree, r.cond.index = nil, nil // the analyses are done
		}
	}
	if total == 0 && !ds.HasErrors() {
		ds.Add(config.SeverityWarning, c.file, config.Pos{Line: 1, Col: 1}, "", "rules", "no rules: every message will be accepted and nothing sent")
	}
	return c.rs, true
}

// secretValues returns the revealed values of every secret field in v, so
// that output produced with them can be scrubbed.
func secretValues(v reflect.Value) []string {
	var out []string
	add := func(x reflect.Value) bool {
		r, ok := x.Interface().(interface{ Reveal() string })
		if ok && r.Reveal() != "" {
			out = append(out, r.Reveal())
		}
		return ok
	}
	config.Walk(v, nil, "", func(f config.Field) bool {
		if add(f.Value) {
			return false
		}
		if f.Value.Kind() == reflect.Map {
			for _, k := range f.Value.MapKeys() {
				add(f.Value.MapIndex(k))
			}
		}
		return true
	})
	return out
}

func (c *compiler) compileRule(i int, rd config.RuleDoc, names map[string]config.Pos, exprs *exprCompiler) {
	r := rd.Config
	node := rd.Node
	p := config.NodePos(node)
	if !rd.OK {
		return
	}
	if r.Name == "" {
		c.ds.Add(config.SeverityError, c.file, p, "", fmt.Sprintf("rules[%d].name", i), "rules[%d]: name is required", i)
	} else if !ValidRuleName(r.Name) {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "name"), "", "name", "rule name %q: use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 128 characters)", r.Name)
	} else if prev, dup := names[r.Name]; dup {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "name"), r.Name, "name", "duplicate rule name (first defined at line %d)", prev.Line)
	} else {
		names[r.Name] = config.PosIn(node, "name")
	}
	rule := &c.ruleSlab[i]
	*rule = Rule{Name: r.Name, Description: r.Description, Enabled: r.IsEnabled(), When: r.When, Index: i, sends: c.internSends(r.Send)}
	if r.Throttle != nil || r.Group != nil || r.Schedule != nil {
		rule.fatigue = &FatigueConfig{Throttle: r.Throttle, Group: r.Group, Schedule: r.Schedule}
	}
	when := strings.TrimSpace(r.When)
	whenNode := config.Lookup(node, "when")
	switch {
	case whenNode == nil:
		c.ds.Add(config.SeverityError, c.file, p, r.Name, "when", "when is required (use `when: \"true\"` to match every message)")
	case when == "":
		c.ds.Add(config.SeverityError, c.file, config.NodePos(whenNode), r.Name, "when", "when is empty (use `when: \"true\"` to match every message)")
	default:
		// Serving needs no program for a condition the index matches
		// exactly (which it does for enabled rules); check evaluates
		// every condition on Lago's examples.
		cond, err := exprs.compileFor(r.When, c.o.CheckOnly || !rule.Enabled)
		if err != nil {
			line, col, msg := exprErrorPos(err)
			at := c.exprPos(whenNode, r.When, line, col)
			c.ds.Add(config.SeverityError, c.file, at, r.Name, "when", "when: %s", msg)
		} else {
			rule.cond = cond
			c.checkPaths(rule, whenNode)
		}
	}
	c.pinned = c.pinnedOf[i]
	if len(r.Send) == 0 && !rd.Bad["send"] {
		c.ds.Add(config.SeverityError, c.file, config.PosIn(node, "send"), r.Name, "send", "send needs at least one target (- to: <channel>)")
	}
	for j, s := range r.Send {
		t := c.compileTarget(r.Name, node, j, s)
		if t != nil {
			c.compileTargetConversation(rule, node, j, s, t)
			rule.targets = append(rule.targets, t)
		}
	}
	if len(rule.targets) == 1 {
		rule.targets = c.internTargets(rule.targets)
	}
	if rule.cond != nil && rule.cond.tree != nil {
		// The tree's analyses are done but the index's: keep only what
		// it reads, a fraction of the tree.
		if rule.cond.index == nil {
			p, key, exact := analyzeIndexTree(rule.cond.tree)
			rule.cond.index = &indexAnalysis{p: p, key: key, exact: exact}
		}
		rule.cond.tree = nil
	}
	c.compileFatigue(rule, r, node, rd.Bad)
	c.compileConversation(rule, r, node)
	c.rs.Rules = append(c.rs.Rules, rule)
}

// exprPos converts a (line, column) inside the expression to the file.
func (c *compiler) exprPos(wn ast.Node, src string, line, col int) config.Pos {
	if wn == nil {
		return config.Pos{}
	}
	if line <= 0 {
		return config.NodePos(wn)
	}
	// Convert line/column to a rune offset in src.
	offset := 0
	srcLines := strings.Split(src, "\n")
	for l := 0; l < line-1 && l < len(srcLines); l++ {
		offset += len([]rune(srcLines[l])) + 1
	}
	offset += col - 1
	return config.ScalarOffsetPos(c.lines, wn, offset)
}

// checkPaths warns about field paths that cannot exist in the Lago event
// types a rule is pinned to — a typo that would otherwise never match.
func (c *compiler) checkPaths(rule *Rule, whenNode ast.Node) {
	if c.o.Catalog == nil {
		return
	}
	all := c.catalogTypeNames()
	var pinned []string
	var refs []fieldRef
	if rule.cond != nil && rule.cond.tree != nil {
		pinned, refs = analyzeTree(rule.cond.tree, all)
	} else {
		pinned, refs = analyze(rule.When, all)
	}
	c.pinnedOf[rule.Index] = c.internPinned(pinned)
	if len(pinned) == 0 {
		return
	}
	for _, t := range pinned {
		if _, ok := c.o.Catalog.Type(t); !ok {
			if t == lagoRefundFailureFilter {
				c.ds.Add(config.SeverityWarning, c.file, config.NodePos(whenNode), rule.Name, "when",
					"when: %q is what Lago's endpoint filter calls refund failures; the payload's webhook_type is %q", t, lagoRefundFailure)
				continue
			}
			c.ds.Add(config.SeverityWarning, c.file, config.NodePos(whenNode), rule.Name, "when", "when: %q is not a Lago webhook type", t)
		}
	}
	c.lagoTraps(rule, whenNode, pinned, refs)
	if rule.cond != nil && rule.cond.tree != nil {
		c.checkComparisons(rule, whenNode, pinned)
	}
	for _, ref := range refs {
		if ref.path[0] == "meta" {
			continue
		}
		missing := true
		for _, t := range pinned {
			if c.o.Catalog.Lookup(t, ref.path) != lago.Missing {
				missing = false
				break
			}
		}
		if missing {
			c.ds.Add(config.SeverityWarning, c.file, config.ScalarOffsetPos(c.lines, whenNode, ref.offset), rule.Name, "when",
				"when: %s does not exist in %s payloads (a typo never matches)", strings.Join(ref.path, "."), strings.Join(pinned, ", "))
		}
	}
}

// internTargets returns the one copy of a one-target list kept for this
// load: rules sharing a target (plainTargets) share the list too.
func (c *compiler) internTargets(ts []*target) []*target {
	if l, ok := c.targetLists[ts[0]]; ok {
		return l
	}
	c.targetLists[ts[0]] = ts
	return ts
}

// internSends returns the one copy of a one-entry send list equal to
// sends kept for this load; longer lists are kept as they are.
func (c *compiler) internSends(sends []SendConfig) []SendConfig {
	if len(sends) != 1 {
		return sends
	}
	if l, ok := c.sendLists[sends[0]]; ok {
		return l
	}
	c.sendLists[sends[0]] = sends
	return sends
}

// internPinned returns the one copy of the pinned type list equal to
// pinned kept for this load (nil stays nil).
func (c *compiler) internPinned(pinned []string) []string {
	if len(pinned) == 0 {
		return nil
	}
	key := strings.Join(pinned, "\x00")
	if p, ok := c.pinnedSets[key]; ok {
		return p
	}
	c.pinnedSets[key] = pinned
	return pinned
}

// Lago names refund failures differently in two places: the endpoint's
// event-type filter offers credit_note.provider_refund_failure while the
// payload says credit_note.refund_failure.
const (
	lagoRefundFailure       = "credit_note.refund_failure"
	lagoRefundFailureFilter = "credit_note.provider_refund_failure"
)

// lagoTraps adds hints for rules that look right but miss messages because
// of how Lago splits its events: a money rule on invoice.created misses
// one-off invoices and credit purchases.
func (c *compiler) lagoTraps(rule *Rule, whenNode ast.Node, pinned []string, refs []fieldRef) {
	has := func(t string) bool { return slices.Contains(pinned, t) }
	if has("invoice.created") && !has("invoice.one_off_created") && !has("invoice.paid_credit_added") && readsAmount(refs) {
		c.ds.Add(config.SeverityWarning, c.file, config.NodePos(whenNode), rule.Name, "when",
			`when: hint: one-off invoices and credit purchases come as invoice.one_off_created and invoice.paid_credit_added, never as invoice.created; to match every invoice amount write webhook_type in ["invoice.created", "invoice.one_off_created", "invoice.paid_credit_added"]`)
	}
}

// readsAmount reports whether an expression reads a money amount.
func readsAmount(refs []fieldRef) bool {
	for _, ref := range refs {
		if last := ref.path[len(ref.path)-1]; strings.HasSuffix(last, "amount_cents") {
			return true
		}
	}
	return false
}

// ValidRuleName reports whether name is a valid rule name: 1 to 128
// letters, digits, '-', '_' and '.', starting with a letter or digit. The
// name is an identifier in URLs, metrics labels and logs, so it can never
// hold a path, a query or markup.
func ValidRuleName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && (r == '-' || r == '_' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// fieldKind returns the JSON kind of a field path in the example payloads
// of the types given ("string", "number", "bool"), or "" when the types
// disagree or do not say.
func (c *compiler) fieldKind(types []string, path string) string {
	kind := ""
	for _, t := range types {
		k := c.o.Catalog.Kind(t, path)
		switch {
		case k == "" || k == "null":
			continue
		case kind == "":
			kind = k
		case kind != k:
			return ""
		}
	}
	switch kind {
	case "string", "number", "bool":
		return kind
	}
	return ""
}

// checkComparisons reports comparisons of a payload field with a literal
// of another kind: invoice.total_amount_cents > "1000000" fails on every
// message (an error), invoice.total_amount_cents == "0" is never true (a
// warning).
func (c *compiler) checkComparisons(rule *Rule, whenNode ast.Node, pinned []string) {
	for _, cmp := range comparisons(rule.cond.tree) {
		kind := c.fieldKind(pinned, strings.Join(cmp.path, "."))
		if kind == "" || kind == cmp.literalKind {
			continue
		}
		at := config.ScalarOffsetPos(c.lines, whenNode, cmp.offset)
		field := strings.Join(cmp.path, ".")
		hint := ""
		if kind == "number" && cmp.literalKind == "string" {
			if _, err := strconv.ParseFloat(cmp.literal, 64); err == nil {
				hint = fmt.Sprintf(" (write %s without quotes)", cmp.literal)
			}
		}
		if cmp.ordering {
			c.ds.Add(config.SeverityError, c.file, at, rule.Name, "when",
				"when: %s is a %s in %s payloads and cannot be compared with %s %s: the condition would fail on every message%s",
				field, kind, strings.Join(pinned, ", "), article(cmp.literalKind), cmp.text, hint)
			continue
		}
		c.ds.Add(config.SeverityWarning, c.file, at, rule.Name, "when",
			"when: %s is a %s in %s payloads, never equal to %s %s%s",
			field, kind, strings.Join(pinned, ", "), article(cmp.literalKind), cmp.text, hint)
	}
}

func article(kind string) string {
	return "a " + kind
}

// tryEmpty renders the targets of a rule that pins no Lago type on an
// empty message, and warns about a JSON block (Block Kit, an HTTP body
// sent as JSON) that is not JSON there: broken whatever the message, most
// likely. Only a warning: a value an empty message lacks may be what a
// real one fills in ({"n": {{ .count }}}), though toJson is safer there.
func (c *compiler) tryEmpty(r *Rule, node ast.Node, source string) {
	m := &Message{ID: "check", Source: source, ReceivedAt: c.o.Now(), Body: []byte("{}"), Data: map[string]any{}}
	m.prepare()
	for j, t := range r.targets {
		if _, err := t.render(m.Data, m.Body); errors.Is(err, errNotJSON) {
			line, _, _ := strings.Cut(c.rs.Scrub(err.Error()), "\n")
			c.ds.Add(config.SeverityWarning, c.file, config.PosIn(node, "send", j), r.Name, fmt.Sprintf("send[%d]", j),
				"send[%d] to %s renders invalid JSON for an empty message: %s", j, t.channel.Name, line)
		}
	}
}

// tryExamples runs each rule pinned to Lago types on Lago's example of
// each type, as `test` would, and warns about what fails there: a
// condition that errors at run time, a notification that would be
// dead-lettered (a required field, Block Kit that is not JSON, an email
// without a recipient). For check only: serving never pays for it.
func (c *compiler) tryExamples(docs []config.RuleDoc) {
	source := "check"
	if names := c.rs.SourceNames(); len(names) > 0 {
		source = names[0]
	}
	// A rule with errors is already reported; running it adds nothing.
	broken := map[string]bool{}
	for _, d := range c.ds.List {
		if d.Severity == config.SeverityError && d.Rule != "" {
			broken[d.Rule] = true
		}
	}
	for _, r := range c.rs.Rules {
		pinned := c.pinnedOf[r.Index]
		if r.Index >= len(docs) || broken[r.Name] {
			continue
		}
		node := docs[r.Index].Node
		if len(pinned) == 0 {
			c.tryEmpty(r, node, source)
			continue
		}
		for _, typ := range pinned {
			raw, ok := c.o.Catalog.Example(typ)
			if !ok {
				continue
			}
			var data map[string]any
			if json.Unmarshal(raw, &data) != nil {
				continue
			}
			m := &Message{ID: "check", Source: source, ReceivedAt: c.o.Now(), Body: raw, Data: data}
			m.prepare()
			if r.cond != nil {
				if _, err := r.cond.eval(m.Data); err != nil {
					line, _, _ := strings.Cut(c.rs.Scrub(err.Error()), "\n")
					c.ds.Add(config.SeverityWarning, c.file, config.PosIn(node, "when"), r.Name, "when",
						"when: fails on Lago's example of %s: %s (the rule would not match such a message)", typ, line)
				}
			}
			for j, t := range r.targets {
				if _, err := t.render(m.Data, m.Body); err != nil {
					line, _, _ := strings.Cut(c.rs.Scrub(err.Error()), "\n")
					c.ds.Add(config.SeverityWarning, c.file, config.PosIn(node, "send", j), r.Name, fmt.Sprintf("send[%d]", j),
						"send[%d] to %s fails on Lago's example of %s: %s (such a notification would be dead-lettered)", j, t.channel.Name, typ, line)
				}
			}
		}
	}
}
