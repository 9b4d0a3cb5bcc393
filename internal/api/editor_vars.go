package api

import (
	"github.com/switchboard-dev/switchboard/config"

	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// ParseEditorVars reads SWITCHBOARD_EDITOR_VARS: variable names or glob
// patterns (path.Match: CRM_*, SLACK_?_TOKEN) separated by commas or
// spaces. An empty value gives nil: the default, where the editor may
// use the variables the rules file already references.
func ParseEditorVars(s string) ([]string, error) {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("SWITCHBOARD_EDITOR_VARS: bad pattern %q", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// editorMayUse reports whether the admin API may write a reference to
// the variable name: it matches an operator's pattern, or, with none
// configured, the rules file (src) references it already. So an editor
// can never make the process reveal a variable the operator did not put
// within reach, such as AWS_SECRET_ACCESS_KEY or SWITCHBOARD_ADMIN_TOKEN.
func (a *API) editorMayUse(name string, src []byte) bool {
	if a.o.EditorVars == nil {
		return slices.Contains(config.References(string(src)), name)
	}
	for _, p := range a.o.EditorVars {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// checkReferences finds the references of settings (a channel as the
// API received it) the editor may not write: a variable the operator did
// not allow, and a reference inside a URL's host, where its value would
// leave through DNS. A URL that is one reference as a whole is allowed.
func (a *API) checkReferences(settings any, src []byte) []ErrorDetail {
	var errs []ErrorDetail
	var walk func(field, key string, v any)
	walk = func(field, key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(join(field, k), k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", field, i), key, e)
			}
		case string:
			for _, name := range config.References(x) {
				if !a.editorMayUse(name, src) {
					errs = append(errs, ErrorDetail{Field: field, Message: fmt.Sprintf(
						"${%s} is not a variable the editor may use: the operator allows them with SWITCHBOARD_EDITOR_VARS (by default, those the rules file already uses)", name)})
				}
			}
			if urlKeys(key) || key == "webhook_url" {
				if hostHasReference(x) {
					errs = append(errs, ErrorDetail{Field: field, Message: "a ${VAR} reference cannot be part of a URL's host: write the host, or the whole URL as one reference"})
				}
			}
		}
	}
	walk("", "", settings)
	return errs
}

// hostHasReference reports whether the authority of URL s holds a
// reference while s is not one reference as a whole.
func hostHasReference(s string) bool {
	if isRef(s) {
		return false
	}
	_, after, ok := strings.Cut(s, "://")
	if !ok {
		return strings.Contains(s, "${")
	}
	authority := after
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		authority = after[:i]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = authority[at+1:] // the userinfo may be references
	}
	return strings.Contains(authority, "${")
}
