package lago

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
)

//go:embed testdata/catalog.json testdata/*.json testdata/variants/*.json
var files embed.FS

const (
	catalogFile = "testdata/catalog.json"
	variantsDir = "testdata/variants"
)

// Type is one Lago webhook type.
type Type struct {
	// WebhookType is the value of the payload's webhook_type, e.g. "invoice.created".
	WebhookType string `json:"webhook_type"`
	// ObjectType is the value of the payload's object_type, e.g. "invoice".
	ObjectType string `json:"object_type"`
	// ObjectKey is the top-level key that holds the payload's object.
	ObjectKey string `json:"object_key"`
	// Summary says in one sentence when Lago sends this webhook.
	Summary string `json:"summary"`
	// Deprecated is true for types that current Lago versions no longer send.
	Deprecated bool `json:"deprecated"`
	// Group names the section the editor lists the type under, e.g. "Invoices".
	Group string `json:"group"`
}

// Field is one field path of a type's example payload, as the editor's
// field picker offers it.
type Field struct {
	// Path is the field's path in expr syntax, e.g. "invoice.total_amount_cents".
	Path string `json:"path"`
	// Kind is the JSON kind of the example value: string, number, bool,
	// object, array or null; "numeric string" for a string holding a
	// decimal number, as Lago writes alert values and credit amounts
	// ("3000.0"). Conditions compare those with numbers as numbers.
	Kind string `json:"kind"`
	// Example is the example's value for strings, numbers (float64), bools
	// and null; it is nil for objects and arrays.
	Example any `json:"example"`
}

// PathStatus is the answer of Lookup.
type PathStatus int

const (
	// Unknown means the catalog cannot tell whether the path exists: the
	// type is unknown, or the path goes through a null, an empty object,
	// an array or a free-form map such as metadata.
	Unknown PathStatus = iota
	// Exists means the path is present in the example or in one of the
	// older payload shapes of the type.
	Exists
	// Missing means the path cannot exist: an object on the way has no such
	// key in any known shape of the type, or the path goes below a string,
	// number or bool. In a rule condition this is almost always a typo.
	Missing
)

// String returns "unknown", "exists" or "missing".
func (s PathStatus) String() string {
	switch s {
	case Exists:
		return "exists"
	case Missing:
		return "missing"
	default:
		return "unknown"
	}
}

// Kinds of JSON values, as Field.Kind reports them.
const (
	kindString = "string"
	// kindNumericString is reported by Fields only; Lookup and the
	// shapes know plain strings.
	kindNumericString = "numeric string"
	kindNumber        = "number"
	kindBool          = "bool"
	kindObject        = "object"
	kindArray         = "array"
	kindNull          = "null"
)

// decimalString matches a number written as text with a decimal point,
// the way Rails serializes BigDecimal columns: "3000.0", "-12.5".
var decimalString = regexp.MustCompile(`^-?[0-9]+\.[0-9]+$`)

// isEnvelopeKey reports whether a top-level key is present in every Lago
// webhook, whatever its type.
func isEnvelopeKey(key string) bool {
	switch key {
	case "webhook_type", "object_type", "organization_id":
		return true
	}
	return false
}

// isFreeForm reports whether the object under a key holds user- or
// provider-defined keys, so a key below it can never be called a typo.
func isFreeForm(key string) bool {
	switch key {
	case "metadata", // customer, credit note, plan and wallet metadata
		"properties",           // event properties; charge properties per charge model
		"grouped_by",           // fee grouping values
		"grouped_usage",        // usage grouped by event properties
		"filters",              // fee filter values
		"values",               // charge filter values
		"presentation_by",      // presentation breakdown keys
		"config",               // entitlement privilege configuration
		"next_action",          // payment provider action; its shape depends on the action type
		"input_params",         // the parameters of a rejected event
		"transaction_metadata": // wallet transaction metadata
		return true
	}
	return false
}

// Catalog is the parsed, immutable catalog of Lago webhook types with their
// example payloads and field-path index. Build one with Load and share it:
// all methods are safe for concurrent use.
type Catalog struct {
	types    []Type
	index    map[string]int     // webhook type → position in types
	examples map[string]string  // webhook type → its fixture's embedded file
	shapes   map[string][]*node // webhook type → example first, then variants
	// fields are the field picker entries by webhook type, listed on the
	// first call of Fields: only the editor asks.
	fields     map[string][]Field
	fieldsOnce sync.Once
}

// node is one value of a parsed payload, with object keys in document order.
type node struct {
	kind     string
	keys     []string
	children map[string]*node
	value    any // strings, float64, bool or nil
}

// Load parses the embedded catalog and examples. It fails only when the
// embedded data is broken: a type without exactly one example, an example
// that does not match its catalog entry, or a file that is not valid JSON.
func Load() (*Catalog, error) {
	raw, err := files.ReadFile(catalogFile)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	var types []Type
	if err := json.Unmarshal(raw, &types); err != nil {
		return nil, fmt.Errorf("parse catalog: %w", err)
	}
	c := &Catalog{
		types:    types,
		index:    make(map[string]int, len(types)),
		examples: make(map[string]string, len(types)),
		shapes:   make(map[string][]*node, len(types)),
	}
	for i, t := range types {
		if t.WebhookType == "" || t.ObjectType == "" || t.ObjectKey == "" || t.Group == "" {
			return nil, fmt.Errorf("catalog entry %d (%q): empty webhook_type, object_type, object_key or group", i, t.WebhookType)
		}
		if _, dup := c.index[t.WebhookType]; dup {
			return nil, fmt.Errorf("catalog: duplicate type %q", t.WebhookType)
		}
		c.index[t.WebhookType] = i
	}
	if err := c.loadExamples(); err != nil {
		return nil, err
	}
	if err := c.loadVariants(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Catalog) loadExamples() error {
	names, err := files.ReadDir("testdata")
	if err != nil {
		return fmt.Errorf("list examples: %w", err)
	}
	for _, e := range names {
		name := e.Name()
		if e.IsDir() || name == path.Base(catalogFile) || !strings.HasSuffix(name, ".json") {
			continue
		}
		typ := strings.TrimSuffix(name, ".json")
		i, ok := c.index[typ]
		if !ok {
			return fmt.Errorf("example %s: no such type in the catalog", name)
		}
		t := c.types[i]
		raw, err := files.ReadFile("testdata/" + name)
		if err != nil {
			return fmt.Errorf("read example %s: %w", name, err)
		}
		root, err := parse(raw)
		if err != nil {
			return fmt.Errorf("parse example %s: %w", name, err)
		}
		if err := checkEnvelope(root, t.WebhookType); err != nil {
			return fmt.Errorf("example %s: %w", name, err)
		}
		if ot := root.children["object_type"]; ot.value != t.ObjectType {
			return fmt.Errorf("example %s: object_type %v, catalog says %q", name, ot.value, t.ObjectType)
		}
		if obj := root.children[t.ObjectKey]; obj == nil || obj.kind != kindObject {
			return fmt.Errorf("example %s: no object under %q", name, t.ObjectKey)
		}
		// The fixture is read again when asked for (it is embedded): a
		// copy of each would stay on the heap for nothing.
		c.examples[typ] = "testdata/" + name
		c.shapes[typ] = []*node{root}
	}
	for _, t := range c.types {
		if _, ok := c.examples[t.WebhookType]; !ok {
			return fmt.Errorf("type %s: no example", t.WebhookType)
		}
	}
	return nil
}

// loadVariants adds the older payload shapes: testdata/variants/<type>.<label>.json.
func (c *Catalog) loadVariants() error {
	names, err := files.ReadDir(variantsDir)
	if err != nil {
		return fmt.Errorf("list variants: %w", err)
	}
	for _, e := range names {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		raw, err := files.ReadFile(variantsDir + "/" + name)
		if err != nil {
			return fmt.Errorf("read variant %s: %w", name, err)
		}
		root, err := parse(raw)
		if err != nil {
			return fmt.Errorf("parse variant %s: %w", name, err)
		}
		wt, _ := root.childValue("webhook_type").(string)
		if _, ok := c.index[wt]; !ok || !strings.HasPrefix(name, wt+".") {
			return fmt.Errorf("variant %s: webhook_type %q does not name a catalog type matching the file name", name, wt)
		}
		if err := checkEnvelope(root, wt); err != nil {
			return fmt.Errorf("variant %s: %w", name, err)
		}
		c.shapes[wt] = append(c.shapes[wt], root)
	}
	return nil
}

func checkEnvelope(root *node, webhookType string) error {
	if root.kind != kindObject {
		return fmt.Errorf("not a JSON object")
	}
	if wt := root.childValue("webhook_type"); wt != webhookType {
		return fmt.Errorf("webhook_type %v, want %q", wt, webhookType)
	}
	return nil
}

// Types returns every webhook type in catalog order.
func (c *Catalog) Types() []Type {
	return slices.Clone(c.types)
}

// Type returns the catalog entry of a webhook type.
func (c *Catalog) Type(webhookType string) (Type, bool) {
	i, ok := c.index[webhookType]
	if !ok {
		return Type{}, false
	}
	return c.types[i], true
}

// Example returns a copy of the raw example payload of a webhook type.
func (c *Catalog) Example(webhookType string) ([]byte, bool) {
	name, ok := c.examples[webhookType]
	if !ok {
		return nil, false
	}
	raw, err := files.ReadFile(name)
	if err != nil {
		return nil, false // read once by Load: cannot happen
	}
	return raw, true
}

// Fields returns the field paths of a type's example in document order, for
// the editor's field picker: every object, scalar and array, but nothing
// inside an array (write invoice.fees[0].amount_cents by hand) and nothing
// inside a free-form map such as metadata. Every returned path Exists for
// Lookup. Unknown types have no fields.
func (c *Catalog) Fields(webhookType string) []Field {
	c.fieldsOnce.Do(func() {
		c.fields = make(map[string][]Field, len(c.shapes))
		for typ, shapes := range c.shapes {
			c.fields[typ] = fieldsOf(shapes[0])
		}
	})
	return slices.Clone(c.fields[webhookType])
}

// Kind returns the Kind of the field at path (in expr syntax) among the
// Fields of a type, or "" when Fields has no such path; unlike Fields it
// lists nothing.
func (c *Catalog) Kind(webhookType, path string) string {
	shapes, ok := c.shapes[webhookType]
	if !ok {
		return ""
	}
	kind, _ := kindAt(shapes[0], path)
	return kind
}

// kindAt is the Kind of the entry of fieldsOf(n) whose path is target
// (the last one, should two write the same path).
func kindAt(n *node, target string) (kind string, found bool) {
	for _, k := range n.keys {
		rest, ok := strings.CutPrefix(target, k)
		if !ok {
			continue
		}
		child := n.children[k]
		switch {
		case rest == "":
			kind, found = fieldKind(child), true
		case rest[0] == '.' && child.kind == kindObject && !isFreeForm(k):
			if kk, ok := kindAt(child, rest[1:]); ok {
				kind, found = kk, true
			}
		}
	}
	return kind, found
}

// fieldKind is a field's Kind: its JSON kind, or "numeric string".
func fieldKind(n *node) string {
	if s, ok := n.value.(string); ok && decimalString.MatchString(s) {
		return kindNumericString
	}
	return n.kind
}

// Lookup reports whether a field path, as the expression's AST gives it
// (["invoice", "total_amount_cents"]), can exist in a payload of a webhook
// type. The example and the older payload shapes of the type all count: a
// path that exists in any of them Exists. The envelope keys webhook_type,
// object_type and organization_id exist for every known type.
func (c *Catalog) Lookup(webhookType string, fieldPath []string) PathStatus {
	shapes, ok := c.shapes[webhookType]
	if !ok || len(fieldPath) == 0 {
		return Unknown
	}
	if len(fieldPath) == 1 && isEnvelopeKey(fieldPath[0]) {
		return Exists
	}
	status := Missing
	for _, root := range shapes {
		switch lookup(root, fieldPath) {
		case Exists:
			return Exists
		case Unknown:
			status = Unknown
		}
	}
	return status
}

func lookup(n *node, fieldPath []string) PathStatus {
	for i, key := range fieldPath {
		switch n.kind {
		case kindObject:
			if len(n.keys) == 0 || (i > 0 && isFreeForm(fieldPath[i-1])) {
				return Unknown
			}
			child, ok := n.children[key]
			if !ok {
				return Missing
			}
			n = child
		case kindArray, kindNull:
			return Unknown
		default:
			return Missing
		}
	}
	return Exists
}

func fieldsOf(root *node) []Field {
	var out []Field
	var walk func(prefix string, n *node)
	walk = func(prefix string, n *node) {
		for _, k := range n.keys {
			child := n.children[k]
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			f := Field{Path: p, Kind: fieldKind(child)}
			if child.kind != kindObject && child.kind != kindArray {
				f.Example = child.value
			}
			out = append(out, f)
			if child.kind == kindObject && !isFreeForm(k) {
				walk(p, child)
			}
		}
	}
	walk("", root)
	return out
}

func (n *node) childValue(key string) any {
	if n.kind != kindObject || n.children[key] == nil {
		return nil
	}
	return n.children[key].value
}

// parse decodes one JSON value keeping the order of object keys.
func parse(raw []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	n, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return n, nil
}

func parseValue(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &node{kind: kindObject, children: map[string]*node{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				if _, dup := n.children[key]; dup {
					return nil, fmt.Errorf("duplicate key %q", key)
				}
				child, err := parseValue(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.children[key] = child
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			for dec.More() {
				if _, err := parseValue(dec); err != nil {
					return nil, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return &node{kind: kindArray}, nil
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		return &node{kind: kindString, value: v}, nil
	case float64:
		return &node{kind: kindNumber, value: v}, nil
	case bool:
		return &node{kind: kindBool, value: v}, nil
	case nil:
		return &node{kind: kindNull}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}
