package app

import (
	"github.com/switchboard-dev/switchboard/config"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/api"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/router"
)

// ErrFailed is returned by commands that printed their own explanation and
// only need the process to exit 1.
var ErrFailed = errors.New("failed")

// ConfigOptions locate the configuration.
type ConfigOptions struct {
	Rules string
	// Templates is the templates directory; empty means "templates" next
	// to the rules file.
	Templates string
	// DryRun turns unset variables into warnings.
	DryRun bool
	// CheckOnly compiles for `check` (see router.LoadOptions.CheckOnly).
	CheckOnly bool
}

// TemplatesDir returns the templates directory of a rules file: dir if
// given, else "templates" next to the rules file, so that a command run
// from another directory finds the templates the file was written with.
func TemplatesDir(rules, dir string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(filepath.Dir(rules), "templates")
}

func load(o ConfigOptions) (*router.Ruleset, []config.Diagnostic, error) {
	catalog, err := lago.Load()
	if err != nil {
		return nil, nil, err
	}
	return router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: o.Rules, TemplatesDir: TemplatesDir(o.Rules, o.Templates),
		DryRun: o.DryRun, CheckOnly: o.CheckOnly, Catalog: catalog})
}

// CheckOptions are the settings of `switchboard check`.
type CheckOptions struct {
	// Files are the rules files to check.
	Files []string
	// Templates is the templates directory for every file; empty means
	// "templates" next to each file.
	Templates string
	// RequireEnv makes an unset ${VAR} an error, as serve (without
	// --dry-run) has it; otherwise it is a warning.
	RequireEnv bool
}

// Check validates each rules file and prints every problem with its
// file:line:column. It returns ErrFailed when a file has an error.
func Check(o CheckOptions, stdout, stderr io.Writer) error {
	failed := false
	for _, file := range o.Files {
		rs, diags, err := load(ConfigOptions{Rules: file, Templates: o.Templates, CheckOnly: !o.RequireEnv})
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		if err != nil {
			failed = true
			var le *config.LoadError
			if errors.As(err, &le) {
				n := len(le.Errors())
				fmt.Fprintf(stderr, "%s: %d error%s\n", file, n, plural(n))
				continue
			}
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
			continue
		}
		warnings := len(diags)
		fmt.Fprintf(stdout, "%s: OK — %d rule%s, %d channel%s, %d source%s", file,
			len(rs.Rules), plural(len(rs.Rules)), len(rs.Channels), plural(len(rs.Channels)), len(rs.Sources), plural(len(rs.Sources)))
		if warnings > 0 {
			fmt.Fprintf(stdout, ", %d warning%s", warnings, plural(warnings))
		}
		fmt.Fprintln(stdout)
		rs.Close()
	}
	if failed {
		return ErrFailed
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// TestOptions are the settings of `switchboard test`.
type TestOptions struct {
	ConfigOptions
	// Source is the source name the messages are taken to come from.
	Source string
	// JSON prints machine-readable results.
	JSON     bool
	Messages []string
	// Live is consulted for throttle windows, digest groups and silences,
	// to say what they would do now. LiveRequired makes a missing store an
	// error; otherwise a missing store is noted and skipped.
	Live         StoreOptions
	LiveRequired bool
	// ExpectMatch and ExpectNoMatch are rule names every message must
	// match, and must not match (for CI).
	ExpectMatch, ExpectNoMatch []string
}

// Test routes each message file through the rules and prints which rules
// matched, why the others did not, and every rendered notification.
// Nothing is sent. It returns ErrFailed when a message cannot be read, a
// condition fails at run time, a notification would be dead-lettered, or
// an expectation is not met.
func Test(o TestOptions, stdout, stderr io.Writer) error {
	// Secrets are not needed to show what would be sent.
	o.CheckOnly = true
	rs, diags, err := load(o.ConfigOptions)
	if err != nil {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		var le *config.LoadError
		if errors.As(err, &le) {
			n := len(le.Errors())
			fmt.Fprintf(stderr, "%s: %d error%s\n", o.Rules, n, plural(n))
		} else {
			fmt.Fprintln(stderr, err)
		}
		return ErrFailed
	}
	defer rs.Close()
	for _, name := range append(append([]string(nil), o.ExpectMatch...), o.ExpectNoMatch...) {
		if _, ok := rs.Rule(name); !ok {
			fmt.Fprintf(stderr, "%s: no rule named %q\n", o.Rules, name)
			return ErrFailed
		}
	}
	env := api.TestEnv{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := openExistingStore(ctx, o.Live)
	switch {
	case err == nil:
		defer st.Close()
		env.Live = st
		env.Silenced = silencesOf(ctx, st)
	case errors.As(err, new(*NoStoreError)) && !o.LiveRequired:
		if !o.JSON {
			fmt.Fprintf(stderr, "note: %v; throttle windows, digest groups and silences not consulted\n", err)
		}
	default:
		fmt.Fprintln(stderr, err)
		return ErrFailed
	}
	failed := false
	var all []map[string]any
	for _, path := range o.Messages {
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, errors.Unwrap(err))
			failed = true
			continue
		}
		var data map[string]any
		if err := json.Unmarshal(raw, &data); err != nil || data == nil {
			fmt.Fprintf(stderr, "%s\n", jsonProblem(path, raw, err))
			failed = true
			continue
		}
		src := o.Source
		if src == "" {
			src = firstSource(rs)
		}
		res := api.TestMessageIn(ctx, rs, src, raw, data, env)
		problems := testProblems(res, o.ExpectMatch, o.ExpectNoMatch)
		if len(problems) > 0 {
			failed = true
		}
		if o.JSON {
			all = append(all, map[string]any{"file": path, "result": res, "problems": problems})
			continue
		}
		printTest(stdout, path, data, res)
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", path, p)
		}
	}
	if o.JSON {
		if all == nil {
			all = []map[string]any{}
		}
		_ = encodeJSON(stdout, all)
	}
	if failed {
		return ErrFailed
	}
	return nil
}

// testProblems lists what makes a tested message fail: conditions that
// errored, notifications that would be dead-lettered, and expectations
// not met. Never nil.
func testProblems(res api.TestResult, expectMatch, expectNoMatch []string) []string {
	out := []string{}
	for _, e := range res.Errors {
		out = append(out, fmt.Sprintf("rule %q: condition error: %s", e.Rule, firstLine(errors.New(e.Error))))
	}
	matched := map[string]bool{}
	for _, m := range res.Matches {
		matched[m.Rule] = true
		escalation := ""
		for _, d := range m.Deliveries {
			if d.Error != "" {
				out = append(out, fmt.Sprintf("rule %q: the notification to %s would be dead-lettered: %s", m.Rule, d.To, d.Error))
			}
			// An escalation that failed to render reads "… to CHANNEL:
			// ERROR: why"; every delivery of the rule repeats it.
			if _, why, ok := strings.Cut(d.Escalation, ": ERROR: "); ok && escalation == "" {
				escalation = why
				out = append(out, fmt.Sprintf("rule %q: its escalation would be dead-lettered when due: %s", m.Rule, why))
			}
		}
	}
	for _, r := range expectMatch {
		if !matched[r] {
			out = append(out, fmt.Sprintf("expected rule %q to match; it did not", r))
		}
	}
	for _, r := range expectNoMatch {
		if matched[r] {
			out = append(out, fmt.Sprintf("expected rule %q not to match; it did", r))
		}
	}
	return out
}

// encodeJSON writes v indented, with & < > as they are (conditions hold
// && and templates <https://…|links>).
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func firstSource(rs *router.Ruleset) string {
	if names := rs.SourceNames(); len(names) > 0 {
		return names[0]
	}
	return "test"
}

func printTest(w io.Writer, path string, data map[string]any, res api.TestResult) {
	typ, _ := data["webhook_type"].(string)
	if typ == "" {
		typ = "(no webhook_type)"
	}
	fmt.Fprintf(w, "== %s  %s\n", path, typ)
	if len(res.Matches) == 0 {
		fmt.Fprintln(w, "   no rule matched")
	}
	for _, e := range res.Errors {
		fmt.Fprintf(w, "   rule %q: condition error: %s\n", e.Rule, firstLine(errors.New(e.Error)))
	}
	for _, m := range res.Matches {
		fmt.Fprintf(w, "   matched rule %q\n", m.Rule)
		for _, d := range m.Deliveries {
			fmt.Fprintf(w, "   -> %s (%s, %s)\n", d.To, d.ChannelType, d.Content)
			if d.Error != "" {
				fmt.Fprintf(w, "      ERROR: %s (this delivery would be dead-lettered)\n", d.Error)
				continue
			}
			if d.Conversation != "" {
				fmt.Fprintf(w, "      conversation: %s\n", d.Conversation)
			}
			if d.Escalation != "" {
				fmt.Fprintf(w, "      escalation: %s\n", d.Escalation)
			}
			if d.Decision != "" && (d.Decision != api.DecisionSend || d.Reason != "") {
				fmt.Fprintf(w, "      now: %s", d.Decision)
				if d.Reason != "" {
					fmt.Fprintf(w, " (%s)", d.Reason)
				}
				fmt.Fprintln(w)
			}
			keys := make([]string, 0, len(d.Parts))
			for k := range d.Parts {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return partOrder(keys[i]) < partOrder(keys[j]) })
			for _, k := range keys {
				v := d.Parts[k]
				if strings.Contains(v, "\n") {
					fmt.Fprintf(w, "      %s:\n%s\n", k, indent(strings.TrimRight(v, "\n"), "        "))
				} else {
					fmt.Fprintf(w, "      %s: %s\n", k, v)
				}
			}
		}
	}
	printNotMatched(w, res)
	fmt.Fprintln(w)
}

// printNotMatched says why rules did not match: the first condition that
// was false or failed. Rules whose every condition failed on another
// webhook type are summed up in one line, so that a file of many rules
// stays readable.
func printNotMatched(w io.Writer, res api.TestResult) {
	otherType := 0
	errored := map[string]bool{}
	for _, e := range res.Errors {
		errored[e.Rule] = true
	}
	for _, e := range res.Explain {
		if e.Matched || errored[e.Rule] {
			continue
		}
		if !e.Enabled {
			fmt.Fprintf(w, "   not matched %q: the rule is disabled\n", e.Rule)
			continue
		}
		why := ""
		for _, c := range e.Parts {
			if c.Error != "" {
				why = fmt.Sprintf("%s failed: %s", c.Expr, c.Error)
				break
			}
			if c.Result != nil && !*c.Result {
				why = c.Expr + " is false"
				break
			}
		}
		if why == "" && e.Error != "" {
			why = "condition error: " + e.Error
		}
		if why == "" {
			why = "the condition is false"
		}
		if len(e.Parts) > 0 && strings.HasPrefix(e.Parts[0].Expr, "webhook_type") && e.Parts[0].Result != nil && !*e.Parts[0].Result {
			otherType++
			continue
		}
		fmt.Fprintf(w, "   not matched %q: %s\n", e.Rule, why)
	}
	if otherType > 0 {
		fmt.Fprintf(w, "   not matched: %d rule%s for other webhook types\n", otherType, plural(otherType))
	}
}

func partOrder(k string) string {
	order := []string{"to", "cc", "subject", "path", "content_type", "text", "blocks", "html", "body"}
	for i, o := range order {
		if k == o {
			return fmt.Sprintf("%02d", i)
		}
	}
	return "99" + k
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// jsonProblem says why a message file is not a JSON object, with the
// line and column of a syntax error.
func jsonProblem(path string, raw []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		before := raw[:min(int(se.Offset), len(raw))]
		line := 1 + strings.Count(string(before), "\n")
		col := len([]rune(string(before[strings.LastIndexByte(string(before), '\n')+1:])))
		return fmt.Sprintf("%s:%d:%d: not valid JSON: %v", path, line, max(col, 1), se)
	}
	return path + ": not a JSON object"
}
