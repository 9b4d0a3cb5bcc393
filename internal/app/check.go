package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/internal/api"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/router"
)

// ErrFailed is returned by commands that printed their own explanation and
// only need the process to exit 1.
var ErrFailed = errors.New("failed")

// ConfigOptions locate the configuration.
type ConfigOptions struct {
	Rules     string
	Templates string
	// DryRun turns unset variables into warnings.
	DryRun bool
}

func load(o ConfigOptions) (*router.Ruleset, []router.Diagnostic, error) {
	catalog, err := lago.Load()
	if err != nil {
		return nil, nil, err
	}
	return router.Load(router.LoadOptions{RulesPath: o.Rules, TemplatesDir: o.Templates, DryRun: o.DryRun, Catalog: catalog})
}

// Check validates the configuration and prints every problem with its
// file:line:column. It returns ErrFailed when there is at least one error.
func Check(o ConfigOptions, stdout, stderr io.Writer) error {
	rs, diags, err := load(o)
	for _, d := range diags {
		fmt.Fprintln(stderr, d.String())
	}
	if err != nil {
		var le *router.LoadError
		if errors.As(err, &le) {
			n := len(le.Errors())
			fmt.Fprintf(stderr, "%s: %d error%s\n", o.Rules, n, plural(n))
			return ErrFailed
		}
		fmt.Fprintln(stderr, err)
		return ErrFailed
	}
	warnings := len(diags)
	fmt.Fprintf(stdout, "%s: OK — %d rule%s, %d channel%s, %d source%s", o.Rules,
		len(rs.Rules), plural(len(rs.Rules)), len(rs.Channels), plural(len(rs.Channels)), len(rs.Sources), plural(len(rs.Sources)))
	if warnings > 0 {
		fmt.Fprintf(stdout, ", %d warning%s", warnings, plural(warnings))
	}
	fmt.Fprintln(stdout)
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
	// Live, when it names a store, is consulted for throttle windows,
	// digest groups and silences, to say what they would do now.
	Live StoreOptions
}

// Test routes each message file through the rules and prints which rules
// matched and every rendered notification. Nothing is sent.
func Test(o TestOptions, stdout, stderr io.Writer) error {
	if len(o.Messages) == 0 {
		fmt.Fprintln(stderr, "usage: switchboard test [--rules rules.yaml] [--templates templates/] MESSAGE.json [...]")
		return ErrFailed
	}
	// Secrets are not needed to show what would be sent.
	o.DryRun = true
	rs, diags, err := load(o.ConfigOptions)
	if err != nil {
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String())
		}
		return ErrFailed
	}
	env := api.TestEnv{}
	if o.Live.DataDir != "" || o.Live.DatabaseURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := openStore(ctx, o.Live)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ErrFailed
		}
		defer st.Close()
		env.Live = st
		env.Silenced = silencesOf(ctx, st)
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
			fmt.Fprintf(stderr, "%s: not a JSON object\n", path)
			failed = true
			continue
		}
		src := o.Source
		if src == "" {
			src = firstSource(rs)
		}
		res := api.TestMessageIn(context.Background(), rs, src, raw, data, env)
		if o.JSON {
			all = append(all, map[string]any{"file": path, "result": res})
			continue
		}
		printTest(stdout, path, data, res)
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(all)
	}
	if failed {
		return ErrFailed
	}
	return nil
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
		fmt.Fprintf(w, "   rule %q: condition error: %s\n", e.Rule, e.Error)
	}
	for _, m := range res.Matches {
		fmt.Fprintf(w, "   matched rule %q\n", m.Rule)
		for _, d := range m.Deliveries {
			fmt.Fprintf(w, "   -> %s (%s, %s)\n", d.To, d.ChannelType, d.Content)
			if d.Error != "" {
				fmt.Fprintf(w, "      ERROR: %s (this delivery would be dead-lettered)\n", d.Error)
				continue
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
	fmt.Fprintln(w)
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
