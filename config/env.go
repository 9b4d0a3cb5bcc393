package config

import (
	"fmt"
	"strings"
)

// This file is the one definition of the ${VAR} grammar of connection and
// secret fields: ${NAME} and ${NAME:-default}, where NAME is a letter or
// '_' followed by letters, digits and '_', and "$${" is a literal "${".
// Loading the rules file expands with it; the admin API checks what an
// editor writes with it.

// Env looks up an environment variable. Loading uses os.LookupEnv unless
// a test gives another.
type Env func(name string) (string, bool)

// Ref is one ${NAME} or ${NAME:-default} reference.
type Ref struct {
	Name string
	// Default is the text after ":-"; HasDefault tells ${X:-} from ${X}.
	Default    string
	HasDefault bool
}

// Expand replaces ${NAME} and ${NAME:-default} in s. "$${" is a literal
// "${". It returns the names that were unset (or set but empty) and had
// no default.
func Expand(s string, env Env) (out string, missing []string, err error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		if i > 0 && s[i-1] == '$' { // "$${" escapes
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", nil, fmt.Errorf("unclosed ${ (write $${ for a literal ${)")
		}
		name, def, hasDef := strings.Cut(s[i+2:i+end], ":-")
		if !ValidEnvName(name) {
			return "", nil, fmt.Errorf("invalid variable name %q in ${…}", name)
		}
		if v, ok := env(name); ok && v != "" {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		} else {
			// Unset, or set but empty: an empty secret is almost always
			// a mistake.
			missing = append(missing, name)
		}
		s = s[i+end+1:]
	}
	return b.String(), missing, nil
}

// ParseRef reads s as exactly one reference, "${NAME}" or
// "${NAME:-default}"; ok is false for anything else.
func ParseRef(s string) (r Ref, ok bool) {
	inner, found := strings.CutPrefix(s, "${")
	if !found {
		return Ref{}, false
	}
	inner, found = strings.CutSuffix(inner, "}")
	if !found || strings.Contains(inner, "}") {
		return Ref{}, false
	}
	name, def, hasDef := strings.Cut(inner, ":-")
	if !ValidEnvName(name) {
		return Ref{}, false
	}
	return Ref{Name: name, Default: def, HasDefault: hasDef}, true
}

// References returns the variable names s refers to, in order, as far as
// each reference's name reads (an unclosed reference counts). "$${" is
// literal text and not a reference.
func References(s string) []string {
	var out []string
	for i := 0; ; {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			return out
		}
		j += i
		k := j + 2
		if j > 0 && s[j-1] == '$' {
			i = k
			continue
		}
		for k < len(s) && isNameByte(s[k], k == j+2) {
			k++
		}
		if k > j+2 {
			out = append(out, s[j+2:k])
		}
		i = k
	}
}

// ValidEnvName reports whether s is a variable name: a letter or '_',
// then letters, digits and '_'.
func ValidEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

func isNameByte(c byte, first bool) bool {
	switch {
	case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return true
	case c >= '0' && c <= '9':
		return !first
	}
	return false
}
