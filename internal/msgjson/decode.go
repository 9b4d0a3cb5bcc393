// Package msgjson decodes message bodies into the map[string]any that
// rules and templates read, as encoding/json does, optionally only the
// parts a ruleset reads (router.Reads).
package msgjson

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/switchboard-dev/switchboard/router"
)

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// Decoder turns a message body into the map[string]any that
// json.Unmarshal makes of it, several times faster: no reflection, keys
// and plain strings sliced from one copy of the body, maps and slices
// made at their final size. Anything unusual (an escaped or non-UTF-8
// string, a number out of range, any syntax error) is left to
// json.Unmarshal, so the result is always encoding/json's own. A Decoder
// keeps scratch space between calls: one per goroutine (its zero value is
// ready to use).
type Decoder struct {
	s     string
	clone bool // s is the caller's bytes: copy the strings kept
	i     int
	depth int
	kvs   []kv  // pending members of the objects being read
	vals  []any // pending elements of the arrays being read
}

type kv struct {
	k string
	v any
}

// special marks the bytes that end a plain string's fast scan: the
// closing quote, an escape, a control character and non-ASCII bytes.
var special = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

// Object decodes body as a JSON object; ok is false when body is not one
// (json.Unmarshal fails or gives a nil map). With reads, the values no
// path of reads reaches are checked and left out; nil reads decodes
// everything.
func (d *Decoder) Object(body []byte, reads *router.Reads) (data map[string]any, ok bool) {
	d.i, d.depth, d.clone = 0, 0, reads != nil
	if d.clone {
		// Most of the body is skipped: read it in place and copy only
		// the strings kept.
		d.s = unsafe.String(unsafe.SliceData(body), len(body))
	} else {
		d.s = string(body)
	}
	d.space()
	if d.peek() == '{' {
		if m, ok := d.obj(reads); ok {
			if d.space(); d.i == len(d.s) {
				d.reset()
				return m, true
			}
		}
	}
	d.reset()
	if json.Unmarshal(body, &data) != nil || data == nil {
		return nil, false
	}
	return data, true
}

// reset drops the references to the last body.
func (d *Decoder) reset() {
	d.s = ""
	clear(d.kvs[:cap(d.kvs)])
	clear(d.vals[:cap(d.vals)])
	d.kvs, d.vals = d.kvs[:0], d.vals[:0]
}

func (d *Decoder) peek() byte {
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

func (d *Decoder) space() {
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return
		}
		d.i++
	}
}

// value reads the value at d.i; reads, if not nil, is the part of it
// that is needed.
func (d *Decoder) value(reads *router.Reads) (any, bool) {
	switch c := d.peek(); {
	case c == '{':
		m, ok := d.obj(reads)
		return m, ok
	case c == '[':
		return d.arr()
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, false
}

func (d *Decoder) literal(word string) bool {
	if strings.HasPrefix(d.s[d.i:], word) {
		d.i += len(word)
		return true
	}
	return false
}

func (d *Decoder) obj(reads *router.Reads) (map[string]any, bool) {
	if reads != nil && reads.Whole {
		reads = nil
	}
	d.i++ // {
	if d.depth++; d.depth > maxDepth {
		return nil, false
	}
	base := len(d.kvs)
	if d.space(); d.peek() == '}' {
		d.i++
		d.depth--
		return map[string]any{}, true
	}
	for {
		d.space()
		if d.peek() != '"' {
			return nil, false
		}
		k, ok := d.rawStr()
		if !ok {
			return nil, false
		}
		if d.space(); d.peek() != ':' {
			return nil, false
		}
		d.i++
		d.space()
		var sub *router.Reads
		if reads != nil {
			if sub = reads.Keys[k]; sub == nil {
				if !d.skip() {
					return nil, false
				}
				goto next
			}
		}
		{
			v, ok := d.value(sub)
			if !ok {
				return nil, false
			}
			if d.clone {
				k = strings.Clone(k)
			}
			d.kvs = append(d.kvs, kv{k, v})
		}
	next:
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			m := make(map[string]any, len(d.kvs)-base)
			for _, p := range d.kvs[base:] {
				m[p.k] = p.v // a repeated key: the last wins, as in encoding/json
			}
			clear(d.kvs[base:])
			d.kvs = d.kvs[:base]
			return m, true
		default:
			return nil, false
		}
	}
}

func (d *Decoder) arr() (any, bool) {
	d.i++ // [
	if d.depth++; d.depth > maxDepth {
		return nil, false
	}
	base := len(d.vals)
	if d.space(); d.peek() == ']' {
		d.i++
		d.depth--
		return []any{}, true
	}
	for {
		d.space()
		v, ok := d.value(nil)
		if !ok {
			return nil, false
		}
		d.vals = append(d.vals, v)
		d.space()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			a := make([]any, len(d.vals)-base)
			copy(a, d.vals[base:])
			clear(d.vals[base:])
			d.vals = d.vals[:base]
			return a, true
		default:
			return nil, false
		}
	}
}

// str reads the string at d.i (its opening quote).
func (d *Decoder) str() (string, bool) {
	s, ok := d.rawStr()
	if ok && d.clone {
		s = strings.Clone(s)
	}
	return s, ok
}

// rawStr is str, but the string may be part of the caller's bytes.
func (d *Decoder) rawStr() (string, bool) {
	start := d.i
	j := start + 1
	for j < len(d.s) && !special[d.s[j]] {
		j++
	}
	if j < len(d.s) && d.s[j] == '"' {
		d.i = j + 1
		return d.s[start+1 : j], true
	}
	// Escapes, control characters or non-ASCII: find the end, then take
	// a valid UTF-8 string without escapes as it is and leave the rest to
	// encoding/json (which also replaces invalid UTF-8).
	plain := true
	for j < len(d.s) {
		switch c := d.s[j]; {
		case c == '"':
			tok := d.s[start : j+1]
			d.i = j + 1
			if plain && utf8.ValidString(tok) {
				return tok[1 : len(tok)-1], true
			}
			var s string
			if json.Unmarshal([]byte(tok), &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			plain = false
			j += 2
		case c < 0x20:
			return "", false
		default:
			j++
		}
	}
	return "", false
}

// number reads a number as encoding/json does: the JSON grammar, then
// strconv.ParseFloat.
func (d *Decoder) number() (any, bool) {
	end, _, ok := d.numberEnd()
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(d.s[d.i:end], 64)
	if err != nil {
		return nil, false
	}
	d.i = end
	return f, true
}

// numberEnd checks the number at d.i against the JSON grammar and returns
// where it ends, and whether it may be out of float64's range.
func (d *Decoder) numberEnd() (end int, big, ok bool) {
	s, i := d.s, d.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return 0, false, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		big = true
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return 0, false, false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i, big || i-d.i > 300, true
}

// skip checks the value at d.i as encoding/json would decode it, without
// keeping it.
func (d *Decoder) skip() bool {
	switch c := d.peek(); {
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		d.i++
		if d.depth++; d.depth > maxDepth {
			return false
		}
		if d.space(); d.peek() == closing {
			d.i++
			d.depth--
			return true
		}
		for {
			d.space()
			if c == '{' {
				if d.peek() != '"' || !d.skipStr() {
					return false
				}
				if d.space(); d.peek() != ':' {
					return false
				}
				d.i++
				d.space()
			}
			if !d.skip() {
				return false
			}
			d.space()
			switch d.peek() {
			case ',':
				d.i++
			case closing:
				d.i++
				d.depth--
				return true
			default:
				return false
			}
		}
	case c == '"':
		return d.skipStr()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		end, big, ok := d.numberEnd()
		if !ok {
			return false
		}
		if big {
			if _, err := strconv.ParseFloat(d.s[d.i:end], 64); err != nil {
				return false
			}
		}
		d.i = end
		return true
	}
	return false
}

// skipStr checks the string at d.i (its opening quote): valid escapes,
// no control characters.
func (d *Decoder) skipStr() bool {
	s, j := d.s, d.i+1
	for j < len(s) {
		// The closing quote, then any escape or control character
		// before it: both searches are vectorised.
		if q := strings.IndexByte(s[j:], '"'); q >= 0 && strings.IndexByte(s[j:j+q], '\\') < 0 && !hasControl(s[j:j+q]) {
			d.i = j + q + 1
			return true
		}
		for j < len(s) && !special[s[j]] {
			j++
		}
		if j >= len(s) {
			return false
		}
		switch c := s[j]; {
		case c == '"':
			d.i = j + 1
			return true
		case c == '\\':
			if j+1 >= len(s) {
				return false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s) {
					return false
				}
				for _, h := range []byte(s[j+2 : j+6]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				j += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			j++ // non-ASCII
		}
	}
	return false
}

// hasControl reports whether s holds a byte below 0x20, which a JSON
// string may not.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
	}
	return false
}
