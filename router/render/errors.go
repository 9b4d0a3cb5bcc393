package render

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a template problem with a position inside the template's text
// (or the template file). Line and Column are 1-based; Column counts
// characters and is 0 when unknown, Line is 0 when the problem concerns
// the whole template.
type Error struct {
	Name   string
	Line   int
	Column int
	Msg    string
}

// Error returns "name:line:col: msg", leaving out a position it lacks.
func (e *Error) Error() string {
	switch {
	case e.Line <= 0:
		return e.Name + ": " + e.Msg
	case e.Column <= 0:
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Column, e.Msg)
}

// parseError turns text/template/parse's "template: name:LINE: msg" into an
// *Error, finding the column the parser does not report.
func parseError(name, src string, err error) *Error {
	msg := err.Error()
	prefix := "template: " + name + ":"
	if !strings.HasPrefix(msg, prefix) {
		return &Error{Name: name, Msg: strings.TrimPrefix(msg, "template: ")}
	}
	rest := msg[len(prefix):]
	line, rest := leadingInt(rest)
	col := -1
	if strings.HasPrefix(rest, ":") {
		if c, r := leadingInt(rest[1:]); c >= 0 {
			col, rest = c, r
		}
	}
	e := &Error{Name: name, Line: max(line, 0), Msg: strings.TrimPrefix(strings.TrimPrefix(rest, ": "), "template: ")}
	if col >= 0 {
		e.Column = runeColumn(src, e.Line, col)
	}
	switch {
	case e.Msg == "unclosed action" || e.Msg == "unclosed comment":
		// Reported where the input ended; the opening "{{" is what to fix.
		if i := strings.LastIndex(src, "{{"); i >= 0 {
			e.Line, e.Column = lineCol(src, i)
		}
	case strings.HasPrefix(e.Msg, `unexpected "{" in `):
		// An action left open runs into the next one: point at the first.
		if q, ok := unclosedBefore(src, e.Line); ok {
			e.Line, e.Column = lineCol(src, q)
			e.Msg = `unclosed action (no "}}" before the next "{{")`
		} else {
			e.Column = guessColumn(src, e.Line, e.Msg)
		}
	case e.Msg == "unexpected EOF":
		e.Msg = "unexpected EOF (an {{ if }}, {{ range }}, {{ with }}, {{ block }} or {{ define }} lacks its {{ end }})"
	case e.Column == 0:
		e.Column = guessColumn(src, e.Line, e.Msg)
	}
	return e
}

// unclosedBefore finds the action that is still open when the first "{{"
// of line starts: the previous "{{" with no "}}" after it.
func unclosedBefore(src string, line int) (int, bool) {
	start := 0
	for i := 1; i < line; i++ {
		j := strings.IndexByte(src[start:], '\n')
		if j < 0 {
			return 0, false
		}
		start += j + 1
	}
	end := len(src)
	if j := strings.IndexByte(src[start:], '\n'); j >= 0 {
		end = start + j
	}
	for p := start; p < end; p++ {
		i := strings.Index(src[p:end], "{{")
		if i < 0 {
			break
		}
		p += i
		q := strings.LastIndex(src[:p], "{{")
		if q >= 0 && !strings.Contains(src[q:p], "}}") {
			return q, true
		}
	}
	return 0, false
}

// leadingInt reads a decimal number at the start of s; -1 when there is
// none.
func leadingInt(s string) (int, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1, s
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return -1, s
	}
	return n, s[i:]
}

// guessColumn finds, on line, the column of what the parser's message
// names: a function, a variable, a keyword or a token inside an action.
// It returns 0 when it cannot tell.
func guessColumn(src string, line int, msg string) int {
	text, ok := lineText(src, line)
	if !ok {
		return 0
	}
	// Compiled here, not in package variables: this runs only on errors.
	quotedToken := regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	angledToken := regexp.MustCompile(`<([^<>]+)>`)
	keywordToken := regexp.MustCompile(`\{\{([a-z]+)\}\}`)
	at := -1
	switch {
	case strings.HasPrefix(msg, "multiple definition of template "):
		// The second definition is the culprit.
		name := strings.TrimPrefix(msg, "multiple definition of template ")
		re := regexp.MustCompile(`\{\{-?\s*define\s+` + regexp.QuoteMeta(name))
		if locs := re.FindAllStringIndex(text, -1); len(locs) > 0 {
			at = locs[len(locs)-1][0]
		}
	case keywordToken.MatchString(msg):
		kw := keywordToken.FindStringSubmatch(msg)[1]
		re := regexp.MustCompile(`\{\{-?\s*` + kw + `\b`)
		if loc := re.FindStringIndex(text); loc != nil {
			at = loc[0]
		}
	case strings.HasPrefix(msg, "missing value for "):
		kw := strings.TrimPrefix(msg, "missing value for ")
		re := regexp.MustCompile(`\{\{-?\s*` + regexp.QuoteMeta(kw) + `\b`)
		if loc := re.FindStringIndex(text); loc != nil {
			at = loc[0]
		}
	case quotedToken.MatchString(msg):
		tok, err := strconv.Unquote(quotedToken.FindString(msg))
		if err == nil {
			at = findInAction(text, tok)
		}
	case angledToken.MatchString(msg):
		at = findInAction(text, angledToken.FindStringSubmatch(msg)[1])
	}
	if at < 0 && strings.Count(text, "{{") == 1 {
		at = strings.Index(text, "{{")
	}
	if at < 0 {
		return 0
	}
	return utf8.RuneCountInString(text[:at]) + 1
}

// findInAction returns the byte offset of tok in text after the first
// "{{", preferring an occurrence that is a whole word; -1 if absent.
func findInAction(text, tok string) int {
	if tok == "" {
		return -1
	}
	start := strings.Index(text, "{{")
	if start < 0 {
		return -1
	}
	first := -1
	for i := start; i < len(text); {
		j := strings.Index(text[i:], tok)
		if j < 0 {
			break
		}
		j += i
		if first < 0 {
			first = j
		}
		if !isWordByte(text, j-1) && !isWordByte(text, j+len(tok)) {
			return j
		}
		i = j + 1
	}
	return first
}

func isWordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c == '.' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lineText returns the 1-based line of src, without its newline.
func lineText(src string, line int) (string, bool) {
	if line <= 0 {
		return "", false
	}
	for i := 1; i < line; i++ {
		j := strings.IndexByte(src, '\n')
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
	if j := strings.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return src, true
}

// lineCol turns a byte offset into a 1-based line and character column.
func lineCol(src string, pos int) (line, col int) {
	pos = min(max(pos, 0), len(src))
	before := src[:pos]
	line = 1 + strings.Count(before, "\n")
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, utf8.RuneCountInString(before) + 1
}

// runeColumn turns Go's 0-based byte column on line into a 1-based
// character column.
func runeColumn(src string, line, byteCol int) int {
	text, ok := lineText(src, line)
	if !ok || byteCol > len(text) {
		return byteCol + 1
	}
	return utf8.RuneCountInString(text[:byteCol]) + 1
}

// execError is a rendering failure with a short message; it unwraps to
// the underlying error (a function's error, for instance).
type execError struct {
	msg string
	err error
}

func (e *execError) Error() string { return e.msg }
func (e *execError) Unwrap() error { return e.err }

// execError shortens text/template's execution errors:
//
//	template: x:3:12: executing "x" at <required "…" (__get . "a")>: error calling required: a missing
//
// becomes "template: x:3:13: required: a missing", with a 1-based character
// column and without the internal calls the rewritten tree contains.
func (t *Template) execError(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("template: %s: %w", t.name, err)
	}
	msg := strings.TrimPrefix(err.Error(), "template: ")
	loc, rest, ok := strings.Cut(msg, ": executing \"")
	if !ok {
		return &execError{msg: "template: " + tidyMessage(msg), err: err}
	}
	if i := strings.Index(rest, " at <"); i >= 0 {
		if j := strings.Index(rest[i:], ">: "); j >= 0 {
			rest = rest[i+j+len(">: "):]
		}
	}
	if name, line, col, ok := splitLocation(loc); ok && name == t.name {
		loc = fmt.Sprintf("%s:%d:%d", name, line, runeColumn(t.src, line, col))
	}
	return &execError{msg: "template: " + loc + ": " + tidyMessage(rest), err: err}
}

// splitLocation splits "name:line:col".
func splitLocation(loc string) (name string, line, col int, ok bool) {
	i := strings.LastIndexByte(loc, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(loc[:i], ':')
	if j < 0 {
		return "", 0, 0, false
	}
	line, err1 := strconv.Atoi(loc[j+1 : i])
	col, err2 := strconv.Atoi(loc[i+1:])
	if err1 != nil || err2 != nil {
		return "", 0, 0, false
	}
	return loc[:j], line, col, true
}

// tidyMessage drops "error calling" and names the internal functions by
// what the template author wrote.
func tidyMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "error calling ")
	msg = strings.ReplaceAll(msg, fnRange+":", "range:")
	msg = strings.ReplaceAll(msg, fnRange, "range")
	msg = strings.ReplaceAll(msg, fnTick, "range")
	msg = strings.ReplaceAll(msg, fnOut, "output")
	msg = strings.ReplaceAll(msg, fnGet, "field")
	msg = strings.ReplaceAll(msg, fnShow, "field")
	msg = strings.ReplaceAll(msg, fnStr, "print")
	return msg
}
