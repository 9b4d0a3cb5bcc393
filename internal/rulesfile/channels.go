package rulesfile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/switchboard-dev/switchboard/config"
)

// ErrNoChannel is returned when an edit names a channel the file does not
// hold.
var ErrNoChannel = errors.New("no such channel")

// ErrChannelsFlowStyle is returned when the channels mapping is written in
// flow style (channels: {ops: {…}}), which cannot be edited line by line.
var ErrChannelsFlowStyle = errors.New("the channels mapping is written in flow style ({…}); write it as a block mapping (one channel name per line) to edit it here")

// Channels is the channels section of a parsed rules file, ready for
// edits. Edits return the whole file's new contents and leave Channels
// unchanged; they touch only the lines of the channel concerned.
type Channels struct {
	// f holds the source and its lines; its rules fields are unused.
	f       *File
	entries spans
	// keyCol is the 0-based column of the channel names.
	keyCol int
	// step is how much deeper than its name a channel's settings are
	// indented.
	step int
	// line and col are the 0-based line and column of the channels key;
	// line is -1 when the file has none.
	line, col int
	// rulesLine is the 0-based line of the top-level rules key, -1 if
	// absent: a new channels section goes above it.
	rulesLine int
	// inline is set when the channels key carries a value on its own line
	// (`channels: {}`, `channels: ~`) that an added channel replaces.
	inline bool
}

// ParseChannels reads the channels mapping of src. It fails when src is
// not YAML or when the mapping cannot be edited line by line.
func ParseChannels(src []byte) (*Channels, error) {
	c := &Channels{f: lineIndex(src), line: -1, rulesLine: -1, keyCol: 2, step: 2}
	values, err := topLevel(src, 0)
	if err != nil {
		return nil, err
	}
	var section *ast.MappingValueNode
	for _, mv := range values {
		switch mv.Key.GetToken().Value {
		case "rules":
			c.rulesLine = mv.Key.GetToken().Position.Line - 1
		case "channels":
			section = mv
		}
	}
	if section == nil {
		return c, nil
	}
	c.line = section.Key.GetToken().Position.Line - 1
	c.col = section.Key.GetToken().Position.Column - 1
	c.keyCol = c.col + 2
	switch v := section.Value.(type) {
	case *ast.NullNode:
		c.inline = v.GetToken() != nil && v.GetToken().Position.Line-1 == c.line
	case *ast.MappingNode:
		if v.IsFlowStyle {
			if len(v.Values) > 0 {
				return nil, ErrChannelsFlowStyle
			}
			c.inline = true
			break
		}
		if err := c.readEntries(v.Values); err != nil {
			return nil, err
		}
	case *ast.MappingValueNode:
		if err := c.readEntries([]*ast.MappingValueNode{v}); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("parse rules file: channels is not a mapping")
	}
	return c, nil
}

// lineIndex returns a File that knows src's lines and nothing else.
func lineIndex(src []byte) *File {
	f := &File{src: src, lineStart: []int{0}}
	for i, b := range src {
		if b == '\n' {
			f.lineStart = append(f.lineStart, i+1)
		}
	}
	if len(src) > 0 && src[len(src)-1] != '\n' {
		f.lineStart = append(f.lineStart, len(src))
	}
	return f
}

func (c *Channels) readEntries(values []*ast.MappingValueNode) error {
	for i, mv := range values {
		tk := mv.Key.GetToken()
		first, col := tk.Position.Line-1, tk.Position.Column-1
		if first == c.line {
			return ErrChannelsFlowStyle
		}
		if i == 0 {
			c.keyCol = col
			if m, ok := mv.Value.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
				if d := m.Values[0].Key.GetToken().Position.Column - 1 - col; d > 0 {
					c.step = d
				}
			}
		} else if col != c.keyCol {
			return errors.New("parse rules file: the channels mapping is not evenly indented")
		}
		c.entries = append(c.entries, entry{name: tk.Value, node: mv.Value, first: first})
	}
	for i := range c.entries {
		var end int
		if i+1 < len(c.entries) {
			end = c.entries[i+1].first - 1
		} else {
			end = c.sectionEnd(c.entries[i].first) - 1
		}
		// Blank lines and comments at the names' column or left of it
		// that close the span belong to what follows.
		for end > c.entries[i].first && c.isGap(end) {
			end--
		}
		c.entries[i].last = end
	}
	return nil
}

func (c *Channels) isGap(i int) bool {
	col, blank, comment := c.f.indent(i)
	return blank || comment && col <= c.keyCol
}

// sectionEnd returns the first line after the channels mapping that
// follows line from: content at the names' column or left of it.
func (c *Channels) sectionEnd(from int) int {
	for i := from + 1; i < c.f.lines(); i++ {
		col, blank, comment := c.f.indent(i)
		if blank || comment {
			continue
		}
		if col <= c.keyCol {
			return i
		}
	}
	return c.f.lines()
}

// Names returns the names of the channels in file order.
func (c *Channels) Names() []string { return c.entries.names() }

func (c *Channels) find(name string) int { return c.entries.find(name) }

// Has reports whether the file holds a channel with this name.
func (c *Channels) Has(name string) bool { return c.find(name) >= 0 }

// Settings decodes the named channel's settings as written, before any
// ${VAR} expansion.
func (c *Channels) Settings(name string) (map[string]any, bool) {
	i := c.find(name)
	if i < 0 {
		return nil, false
	}
	var m map[string]any
	if config.NodeToValue(c.entries[i].node, &m) != nil {
		return nil, false
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, true
}

// Replace returns the file with the named channel's lines replaced by
// newName and settings, written in block style. Comments above the
// channel stay.
func (c *Channels) Replace(name, newName string, settings yaml.MapSlice) ([]byte, error) {
	i := c.find(name)
	if i < 0 {
		return nil, ErrNoChannel
	}
	item, err := c.item(newName, settings)
	if err != nil {
		return nil, err
	}
	from, to := c.f.span(c.entries[i].first, c.entries[i].last)
	if !bytes.HasSuffix(c.f.src[from:to], []byte("\n")) {
		item = bytes.TrimSuffix(item, []byte("\n"))
	}
	names := c.Names()
	names[i] = newName
	return c.checked(splice(c.f.src, from, to, item), names, newName, settings)
}

// Append returns the file with a channel added after the last one,
// separated by a blank line when the existing channels are. A file
// without a channels section gets one, above the rules.
func (c *Channels) Append(name string, settings yaml.MapSlice) ([]byte, error) {
	item, err := c.item(name, settings)
	if err != nil {
		return nil, err
	}
	var out []byte
	switch {
	case len(c.entries) > 0:
		at := c.f.lineStart[c.entries[len(c.entries)-1].last+1]
		var prefix []byte
		if !bytes.HasSuffix(c.f.src[:at], []byte("\n")) {
			prefix = append(prefix, '\n')
		}
		if c.blankBetween() {
			prefix = append(prefix, '\n')
		}
		out = splice(c.f.src, at, at, append(prefix, item...))
	case c.line >= 0:
		from, to := c.f.span(c.line, c.line)
		key := strings.TrimRight(c.f.line(c.line), "\r\n")
		if c.inline {
			key = c.keyOnly(key)
		}
		out = splice(c.f.src, from, to, append([]byte(key+"\n"), item...))
	default:
		section := append([]byte("channels:\n"), item...)
		if c.rulesLine >= 0 {
			at := c.f.lineStart[c.aboveComments(c.rulesLine)]
			out = splice(c.f.src, at, at, append(section, '\n'))
			break
		}
		out = append([]byte(nil), c.f.src...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, section...)
	}
	return c.checked(out, append(c.Names(), name), name, settings)
}

// keyOnly returns the channels key line without its inline value ({} or
// null), keeping a trailing comment.
func (c *Channels) keyOnly(line string) string {
	colon := strings.Index(line[c.col:], ":")
	if colon < 0 {
		return line
	}
	head, rest := line[:c.col+colon+1], line[c.col+colon+1:]
	if i := strings.Index(rest, " #"); i >= 0 {
		return head + rest[i:]
	}
	return head
}

// aboveComments returns the first of the comment lines directly above
// line (line itself when there are none): they describe it.
func (c *Channels) aboveComments(line int) int {
	for line > 0 {
		if _, _, comment := c.f.indent(line - 1); !comment {
			break
		}
		line--
	}
	return line
}

// Delete returns the file without the named channel. Comment lines
// directly above it (no blank line between) go with it, unless they
// directly follow the channels key, where they describe the section. One
// blank line that separated it from its neighbours goes too.
func (c *Channels) Delete(name string) ([]byte, error) {
	i := c.find(name)
	if i < 0 {
		return nil, ErrNoChannel
	}
	// Comments that reach up to the channels key describe the section:
	// they stay, and the channel counts as the first.
	first, last := c.entries.removal(c.f, i, c.line, c.keyCol, true)
	from, to := c.f.span(first, last)
	out := splice(c.f.src, from, to, nil)
	names := append(c.Names()[:i:i], c.Names()[i+1:]...)
	return c.checked(out, names, "", nil)
}

// blankBetween reports whether the last two channels are separated by a
// blank line (false for a single channel: channels are usually written
// one after the other).
func (c *Channels) blankBetween() bool { return c.entries.blankBetween(c.f, false) }

// item renders one channel at the file's indentation and checks that it
// reads back as given.
func (c *Channels) item(name string, settings yaml.MapSlice) ([]byte, error) {
	text, err := MarshalChannel(name, settings, c.step)
	if err != nil {
		return nil, err
	}
	pad := strings.Repeat(" ", c.keyCol)
	var b bytes.Buffer
	for _, l := range strings.SplitAfter(strings.TrimSuffix(string(text), "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			b.WriteString(l)
			continue
		}
		b.WriteString(pad + l)
	}
	b.WriteByte('\n')
	var back map[string]any
	if err := yaml.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 1 || !sameValue(back[name], settings) {
		return nil, fmt.Errorf("channel %q cannot be written as YAML that reads back the same", name)
	}
	return b.Bytes(), nil
}

// checked parses an edited file again and makes sure it holds exactly the
// channels names, with settings under name when name is set: an edit
// must never change more than it says.
func (c *Channels) checked(out []byte, names []string, name string, settings yaml.MapSlice) ([]byte, error) {
	back, err := ParseChannels(out)
	if err != nil {
		return nil, fmt.Errorf("the edited rules file does not parse: %w", err)
	}
	if !slices.Equal(back.Names(), names) {
		return nil, errors.New("the edit would change other channels of the rules file")
	}
	if name != "" {
		got, ok := back.Settings(name)
		if !ok || !sameValue(got, settings) {
			return nil, fmt.Errorf("channel %q does not read back as written", name)
		}
	}
	return out, nil
}

// MarshalChannel renders one channel as a YAML mapping of its name to
// its settings, in block style with the given indentation step; settings
// keep their order and multi-line strings become literal blocks.
func MarshalChannel(name string, settings yaml.MapSlice, step int) ([]byte, error) {
	if step < 1 {
		step = 2
	}
	if settings == nil {
		settings = yaml.MapSlice{}
	}
	q := &separatorQuoter{quoted: map[string]string{}}
	b, err := yaml.MarshalWithOptions(yaml.MapSlice{{Key: name, Value: q.walk(settings)}},
		yaml.Indent(step), yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return nil, fmt.Errorf("encode channel: %w", err)
	}
	return q.restore(b), nil
}

// separatorQuoter keeps U+2028, U+2029 and U+0085 out of the YAML the
// encoder writes (it writes them raw, where YAML 1.1 readers and text
// editors see line breaks): walk replaces each string holding one by a
// unique mark, restore puts the string back as a double-quoted scalar
// with the character escaped.
type separatorQuoter struct {
	quoted map[string]string
}

func (q *separatorQuoter) walk(v any) any {
	switch x := v.(type) {
	case string:
		if !strings.ContainsAny(x, "\u2028\u2029\u0085") {
			return x
		}
		mark := fmt.Sprintf("sb-quoted-%d-%x", len(q.quoted), rand.Uint64())
		q.quoted[mark] = strconv.QuoteToASCII(x)
		return mark
	case yaml.MapSlice:
		out := make(yaml.MapSlice, len(x))
		for i, it := range x {
			out[i] = yaml.MapItem{Key: it.Key, Value: q.walk(it.Value)}
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = q.walk(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = q.walk(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = q.walk(e)
		}
		return out
	}
	return v
}

func (q *separatorQuoter) restore(b []byte) []byte {
	for mark, s := range q.quoted {
		b = bytes.Replace(b, []byte(mark), []byte(s), 1)
	}
	return b
}

// sameValue reports whether a decoded YAML value equals v, comparing
// mappings without regard to order and numbers by value.
func sameValue(decoded, v any) bool {
	return reflect.DeepEqual(plain(decoded), plain(v))
}

// plain turns ordered mappings into maps and every number into a
// float64, so that values compare by meaning.
func plain(v any) any {
	switch x := v.(type) {
	case yaml.MapSlice:
		out := make(map[string]any, len(x))
		for _, it := range x {
			out[fmt.Sprint(it.Key)] = plain(it.Value)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) {
			return "NaN"
		}
		return f
	}
	return v
}
