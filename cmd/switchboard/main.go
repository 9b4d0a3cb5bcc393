// Command switchboard routes webhooks (Lago's and any JSON sender's)
// through YAML rules to Slack, email and HTTP.
//
//	switchboard serve      [flags]
//	switchboard check      [flags] [RULES.yaml...]
//	switchboard test       [flags] MESSAGE.json...
//	switchboard catalog    [flags] [WEBHOOK_TYPE]
//	switchboard deliveries [flags]
//	switchboard deliveries show [flags] DELIVERY_ID
//	switchboard replay     [flags] DELIVERY_ID... | --all-dead
//	switchboard backtest   [flags]
//	switchboard unmatched  [flags]
//	switchboard silence add|list|expire [flags] …
//	switchboard version
//	switchboard help [COMMAND]
//
// Every command describes itself with --help. Exit codes, for every
// command: 0 all good, 1 problems found (or the command failed), 2 the
// command line is wrong.
//
// The flags that locate things — --rules, --templates, --listen, --data,
// --database, --dry-run — take their defaults from SWITCHBOARD_RULES,
// SWITCHBOARD_TEMPLATES, SWITCHBOARD_LISTEN, SWITCHBOARD_DATA,
// SWITCHBOARD_DATABASE and SWITCHBOARD_DRY_RUN in every command that has
// them, and serve's SWITCHBOARD_MAX_CONNS_PER_CLIENT and
// SWITCHBOARD_REQUEST_MEMORY. SWITCHBOARD_ADMIN_TOKEN, SWITCHBOARD_EDITOR_VARS,
// SWITCHBOARD_LOG_LEVEL and SWITCHBOARD_LOG_FORMAT are read from the
// environment only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/router"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	// Nothing reads heap profiles (there is no profiling endpoint), yet
	// sampling one allocation in 512 KiB fills the runtime's profile hash
	// table: a start-up compiling 10,000 rules left about 1 MB of it
	// resident for the life of the process.
	runtime.MemProfileRate = 0
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes, the same for every command (as promtool's).
const (
	exitOK       = 0 // all good
	exitProblems = 1 // problems found, or the command failed
	exitUsage    = 2 // the command line is wrong
)

// command is one command (or subcommand) of the CLI: what it does, how it
// is called, its flags and how it runs. Help for every command is printed
// from this, in one style.
type command struct {
	name    string // "check", "silence add"
	summary string // one sentence: what it does
	args    string // the positional arguments, for the usage line
	details string // more, when a sentence is not enough
	example string // one or more example lines
	// flags declares the command's flags and returns the function that
	// runs it with the positional arguments.
	flags func(f *flagSet) func(args []string) error
}

// commands returns every command, in the order help lists them.
func commands(stdout, stderr io.Writer) []*command {
	return []*command{
		serveCommand(stderr),
		checkCommand(stdout, stderr),
		testCommand(stdout, stderr),
		catalogCommand(stdout),
		deliveriesCommand(stdout),
		deliveriesShowCommand(stdout),
		replayCommand(stdout),
		backtestCommand(stdout, stderr),
		unmatchedCommand(stdout, stderr),
		silenceAddCommand(stdout),
		silenceListCommand(stdout),
		silenceExpireCommand(stdout),
		{name: "version", summary: "Print the version of this binary.",
			example: "switchboard version",
			flags: func(*flagSet) func([]string) error {
				return func(args []string) error {
					if len(args) > 0 {
						return usageError("version takes no arguments")
					}
					fmt.Fprintln(stdout, "switchboard", buildVersion())
					return nil
				}
			}},
	}
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

const overview = `Switchboard routes webhooks through YAML rules to Slack, email and HTTP.

Usage:
  switchboard COMMAND [flags] [arguments]

Commands:
%s
Run "switchboard help COMMAND" or "switchboard COMMAND --help" for a command's
flags and an example. Exit codes, for every command: 0 all good, 1 problems
found (or the command failed), 2 the command line is wrong.
`

func printOverview(w io.Writer, cmds []*command) {
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&b, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, overview, b.String())
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands(stdout, stderr)
	if len(args) == 0 {
		printOverview(stderr, cmds)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "--help", "-help", "-h":
		return help(rest, cmds, stdout, stderr)
	case "--version", "-version", "-v":
		name = "version"
	case "deliveries":
		if len(rest) > 0 && rest[0] == "show" {
			name, rest = "deliveries show", rest[1:]
		}
	case "silence":
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			if len(rest) > 0 && isHelp(rest[0]) {
				printGroupHelp(stdout, cmds, "silence")
				return exitOK
			}
			fmt.Fprintln(stderr, "switchboard silence: give a subcommand: add, list or expire")
			printGroupHelp(stderr, cmds, "silence")
			return exitUsage
		}
		name, rest = "silence "+rest[0], rest[1:]
	}
	c := find(cmds, name)
	if c == nil {
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n", strings.Join(strings.Fields(name), " "))
		printOverview(stderr, cmds)
		return exitUsage
	}
	return execute(c, rest, stdout, stderr)
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help"
}

// help prints the overview, or the help of one command.
func help(args []string, cmds []*command, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printOverview(stdout, cmds)
		return exitOK
	}
	name := strings.Join(args, " ")
	if name == "help" {
		printOverview(stdout, cmds)
		return exitOK
	}
	if c := find(cmds, name); c != nil {
		printHelp(stdout, c)
		return exitOK
	}
	if name == "silence" {
		printGroupHelp(stdout, cmds, "silence")
		return exitOK
	}
	fmt.Fprintf(stderr, "switchboard help: unknown command %q\n\n", name)
	printOverview(stderr, cmds)
	return exitUsage
}

// printGroupHelp lists the subcommands of a group (silence).
func printGroupHelp(w io.Writer, cmds []*command, group string) {
	fmt.Fprintf(w, "Usage:\n")
	for _, c := range cmds {
		if strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(w, "  switchboard %-16s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "\nRun \"switchboard help %s SUBCOMMAND\" for its flags and an example.\n", group)
}

// printHelp prints a command's help: what it does, its usage with the
// positional arguments, its flags and an example.
func printHelp(w io.Writer, c *command) {
	f := newFlagSet(c.name)
	c.flags(f)
	fmt.Fprintf(w, "%s\n", c.summary)
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.details))
	}
	fmt.Fprintf(w, "\nUsage:\n  switchboard %s", c.name)
	if f.hasFlags() {
		fmt.Fprint(w, " [flags]")
	}
	if c.args != "" {
		fmt.Fprint(w, " "+c.args)
	}
	fmt.Fprintln(w)
	if f.hasFlags() {
		fmt.Fprintf(w, "\nFlags:\n")
		f.printDefaults(w)
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n")
		for _, line := range strings.Split(strings.TrimSpace(c.example), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// execute parses a command's flags and runs it, mapping its result to an
// exit code.
func execute(c *command, args []string, stdout, stderr io.Writer) int {
	f := newFlagSet(c.name)
	runFn := c.flags(f)
	pos, err := f.parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, c)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "switchboard %s: %v\nRun \"switchboard %s --help\" for usage.\n", c.name, err, c.name)
		return exitUsage
	}
	err = runFn(pos)
	var ue *app.UsageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "switchboard %s: %s\nRun \"switchboard %s --help\" for usage.\n", c.name, ue.Msg, c.name)
		return exitUsage
	case errors.Is(err, app.ErrFailed):
		return exitProblems
	default:
		fmt.Fprintf(stderr, "switchboard %s: %v\n", c.name, err)
		return exitProblems
	}
}

// usageError reports a wrong command line (exit 2).
func usageError(format string, args ...any) error {
	return &app.UsageError{Msg: fmt.Sprintf(format, args...)}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "dev+" + rev[:min(len(rev), 12)]
	if modified == "true" {
		v += "-dirty"
	}
	return v
}

// flagSet is a FlagSet that prints its flags with "--", names the
// environment variable of each setting, and accepts flags between
// positional arguments.
type flagSet struct {
	fs *flag.FlagSet
	// env maps a flag to the environment variable its default comes from.
	env map[string]string
	// set holds the flags given on the command line.
	set map[string]bool
	// defaults describes defaults that are not a plain value.
	defaults map[string]string
}

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs: fs, env: map[string]string{}, set: map[string]bool{}, defaults: map[string]string{}}
}

func envName(flagName string) string {
	return "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// setting declares a string flag whose default comes from its
// SWITCHBOARD_* variable.
func (f *flagSet) setting(name, def, help string) *string {
	env := envName(name)
	f.env[name] = env
	if v, ok := os.LookupEnv(env); ok && v != "" {
		def = v
	}
	return f.fs.String(name, def, help)
}

// boolSetting declares a boolean flag whose default comes from its
// SWITCHBOARD_* variable.
func (f *flagSet) boolSetting(name, help string) *bool {
	env := envName(name)
	f.env[name] = env
	def := false
	if v, ok := os.LookupEnv(env); ok {
		def, _ = strconv.ParseBool(v)
	}
	return f.fs.Bool(name, def, help)
}

func (f *flagSet) str(name, def, help string) *string { return f.fs.String(name, def, help) }
func (f *flagSet) boolean(name, help string) *bool    { return f.fs.Bool(name, false, help) }
func (f *flagSet) integer(name string, def int, help string) *int {
	return f.fs.Int(name, def, help)
}

// list declares a flag that may be given several times.
func (f *flagSet) list(name, help string) *[]string {
	var l listValue
	f.fs.Var(&l, name, help)
	return (*[]string)(&l)
}

type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// alias makes name another spelling of the flag target.
func (f *flagSet) alias(name, target string) {
	fl := f.fs.Lookup(target)
	f.fs.Var(fl.Value, name, "\x00"+target)
}

// given reports whether a flag was given on the command line.
func (f *flagSet) given(name string) bool { return f.set[name] }

func (f *flagSet) hasFlags() bool {
	has := false
	f.fs.VisitAll(func(*flag.Flag) { has = true })
	return has
}

// printDefaults lists the flags as --name VALUE, with their help, default
// and environment variable.
func (f *flagSet) printDefaults(w io.Writer) {
	type row struct{ left, right string }
	var rows []row
	width := 0
	f.fs.VisitAll(func(fl *flag.Flag) {
		if strings.HasPrefix(fl.Usage, "\x00") {
			return // an alias, listed with its flag
		}
		kind, usage := flag.UnquoteUsage(fl)
		left := "--" + fl.Name
		f.fs.VisitAll(func(a *flag.Flag) {
			if a.Usage == "\x00"+fl.Name {
				left += ", --" + a.Name
			}
		})
		if _, isBool := fl.Value.(interface{ IsBoolFlag() bool }); !isBool && kind != "" {
			left += " " + strings.ToUpper(kind)
		}
		var notes []string
		if d, ok := f.defaults[fl.Name]; ok {
			notes = append(notes, "default "+d)
		} else if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
			def := fl.DefValue
			if fl.Name == "database" {
				def = secret.RedactURL(def) // from SWITCHBOARD_DATABASE, with its password
			}
			notes = append(notes, "default "+def)
		}
		if env, ok := f.env[fl.Name]; ok {
			notes = append(notes, "env "+env)
		}
		if len(notes) > 0 {
			usage += " (" + strings.Join(notes, "; ") + ")"
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r.left, r.right)
	}
}

// parse parses flags that may be interleaved with positional arguments
// ("test msg.json --rules r.yaml") and returns the positional ones. "--"
// ends the flags.
func (f *flagSet) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			msg := err.Error()
			if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
				msg = "unknown flag --" + strings.TrimPrefix(name, "-")
			}
			return nil, errors.New(strings.Replace(msg, " for flag -", " for flag --", 1))
		}
		args = f.fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	f.fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return pos, nil
}

// Shared flags.

func configFlags(f *flagSet) (rules, templates *string) {
	rules = f.setting("rules", "rules.yaml", "the rules `FILE`")
	templates = f.setting("templates", "", "the templates `DIR`")
	f.defaults["templates"] = "templates/ next to the rules file"
	return
}

func storeFlags(f *flagSet) func() app.StoreOptions {
	data := f.setting("data", "./data", "the data `DIR` of the embedded SQLite store")
	database := f.setting("database", "", "a PostgreSQL `URL` (postgres://…), used instead of --data")
	return func() app.StoreOptions {
		return app.StoreOptions{DataDir: *data, DatabaseURL: secret.URL(*database)}
	}
}

func noArgs(name string, args []string) error {
	if len(args) > 0 {
		return usageError("%s takes no arguments (got %q)", name, args[0])
	}
	return nil
}

// newLogger returns the logger of serve; scrub, if set, is applied to
// every message and string or error value.
func newLogger(stderr io.Writer, scrub func(string) string) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(os.Getenv("SWITCHBOARD_LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if scrub != nil {
		opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			switch v := a.Value.Resolve(); {
			case v.Kind() == slog.KindString:
				a.Value = slog.StringValue(scrub(v.String()))
			case v.Kind() == slog.KindAny:
				if err, ok := v.Any().(error); ok {
					a.Value = slog.StringValue(scrub(err.Error()))
				}
			}
			return a
		}
	}
	if strings.ToLower(os.Getenv("SWITCHBOARD_LOG_FORMAT")) == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// The commands.

func serveCommand(stderr io.Writer) *command {
	return &command{
		name:    "serve",
		summary: "Receive webhooks, route them through the rules and deliver the notifications.",
		details: `Also serves /healthz, /readyz, /metrics and, with SWITCHBOARD_ADMIN_TOKEN
set, the admin API (/api/v1/) and the rule editor (/ui/). Logs go to stderr
(SWITCHBOARD_LOG_LEVEL debug|info|warn|error, SWITCHBOARD_LOG_FORMAT text|json).`,
		example: `switchboard serve --dry-run --rules rules.example.yaml
SWITCHBOARD_ADMIN_TOKEN=s3cret switchboard serve --rules /etc/switchboard/rules.yaml --data /var/lib/switchboard`,
		flags: func(f *flagSet) func([]string) error {
			rules, templates := configFlags(f)
			store := storeFlags(f)
			listen := f.setting("listen", ":8080", "the `ADDRESS` to listen on")
			dryRun := f.boolSetting("dry-run", "route and render for real, but log each notification instead of sending it")
			perClient := f.setting("max-conns-per-client", strconv.Itoa(app.DefaultMaxConnsPerClient),
				"most connections open at once from one client address; 0: no bound (behind a reverse proxy)")
			reqMem := f.setting("request-memory", "96MiB", "most bytes of request headers and bodies held at once; 0: no bound")
			return func(args []string) error {
				if err := noArgs("serve", args); err != nil {
					return err
				}
				maxConns, err := strconv.Atoi(*perClient)
				if err != nil || maxConns < 0 {
					return usageError("--max-conns-per-client: want a whole number >= 0, got %q", *perClient)
				}
				memory, err := router.ParseByteSize(*reqMem)
				if err != nil || memory < 0 {
					return usageError("--request-memory: want a size such as 96MiB, got %q", *reqMem)
				}
				// 0 means "no bound" on the command line, where app takes negative.
				if maxConns == 0 {
					maxConns = -1
				}
				if memory == 0 {
					memory = -1
				}
				so := store()
				// The database driver's errors name the user (and a URL
				// may carry a password): no log line shows them.
				var scrub func(string) string
				if so.DatabaseURL != "" {
					scrub = secret.URLScrubber(so.DatabaseURL.Reveal())
				}
				logger := newLogger(stderr, scrub)
				ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				hup := make(chan os.Signal, 1)
				signal.Notify(hup, syscall.SIGHUP)
				defer signal.Stop(hup)
				err = app.Serve(ctx, app.ServeOptions{
					Rules: *rules, Templates: app.TemplatesDir(*rules, *templates), Listen: *listen,
					DataDir: so.DataDir, DatabaseURL: so.DatabaseURL, DryRun: *dryRun,
					AdminToken: secret.String(os.Getenv("SWITCHBOARD_ADMIN_TOKEN")),
					EditorVars: os.Getenv("SWITCHBOARD_EDITOR_VARS"),
					Logger:     logger, Reload: hup,
					MaxConnsPerClient: maxConns, RequestMemory: memory,
				})
				if err != nil {
					logger.Error("switchboard stopped", "error", err)
					return app.ErrFailed
				}
				return nil
			}
		},
	}
}

func checkCommand(stdout, stderr io.Writer) *command {
	return &command{
		name:    "check",
		summary: "Check rules files: print every problem with its file:line:column.",
		args:    "[RULES.yaml...]",
		details: `Checks each file named (default: --rules) with its templates: syntax,
unknown keys, conditions (types, and field paths against Lago's payloads),
templates (functions, their arguments, fields), channels and durations, and
runs each rule on Lago's example of the types it pins. An unset ${VAR} is a
warning (serve needs it unless it runs with --dry-run); --require-env makes
it an error. Exit 0: no errors (warnings are printed); 1: at least one
error.`,
		example: `switchboard check rules.yaml
switchboard check --require-env /etc/switchboard/rules.yaml`,
		flags: func(f *flagSet) func([]string) error {
			rules, templates := configFlags(f)
			requireEnv := f.boolean("require-env", "make an unset ${VAR} an error, as serve without --dry-run does")
			// Accepted for old scripts: unset variables are warnings anyway.
			f.boolean("dry-run", "accepted for compatibility; unset variables are warnings unless --require-env")
			return func(files []string) error {
				if len(files) == 0 {
					files = []string{*rules}
				}
				return app.Check(app.CheckOptions{Files: files, Templates: *templates, RequireEnv: *requireEnv}, stdout, stderr)
			}
		},
	}
}

func testCommand(stdout, stderr io.Writer) *command {
	return &command{
		name:    "test",
		summary: "Route messages through the rules and print what each rule would send; nothing is sent.",
		args:    "MESSAGE.json...",
		details: `For each message: the rules that match and every rendered notification, why
the other rules did not match, and — from the store serve uses, when there
is one — what throttles, digests, quiet hours and silences would do now.
Exit 1 when a message cannot be read, a condition fails at run time, a
notification would be dead-lettered (a template that fails), or an
--expect-match / --expect-no-match expectation is not met.`,
		example: `switchboard catalog invoice.created > invoice.json
switchboard test --rules rules.yaml invoice.json
switchboard test --expect-match large-invoice --expect-no-match customers-to-crm invoice.json`,
		flags: func(f *flagSet) func([]string) error {
			rules, templates := configFlags(f)
			store := storeFlags(f)
			source := f.str("source", "", "the source `NAME` the messages come from")
			f.defaults["source"] = "the first source"
			asJSON := f.boolean("json", "print the results as JSON")
			expectMatch := f.list("expect-match", "exit 1 unless every message matches this `RULE` (repeatable)")
			expectNoMatch := f.list("expect-no-match", "exit 1 if a message matches this `RULE` (repeatable)")
			return func(msgs []string) error {
				if len(msgs) == 0 {
					return usageError("give at least one message file (MESSAGE.json)")
				}
				return app.Test(app.TestOptions{
					ConfigOptions: app.ConfigOptions{Rules: *rules, Templates: *templates},
					Source:        *source, JSON: *asJSON, Messages: msgs,
					// A store named on the command line must exist; one from
					// the environment (the Docker image sets SWITCHBOARD_DATA)
					// is consulted when it does.
					Live: store(), LiveRequired: f.given("data") || f.given("database"),
					ExpectMatch: *expectMatch, ExpectNoMatch: *expectNoMatch,
				}, stdout, stderr)
			}
		},
	}
}

func catalogCommand(stdout io.Writer) *command {
	return &command{
		name:    "catalog",
		summary: "List Lago's webhook types, or print the example payload of one.",
		args:    "[WEBHOOK_TYPE]",
		example: `switchboard catalog
switchboard catalog wallet.depleted_ongoing_balance > wallet.json`,
		flags: func(f *flagSet) func([]string) error {
			asJSON := f.boolean("json", "print JSON")
			return func(args []string) error {
				if len(args) > 1 {
					return usageError("give at most one webhook type")
				}
				typ := ""
				if len(args) == 1 {
					typ = args[0]
				}
				return app.Catalog(typ, *asJSON, stdout)
			}
		},
	}
}

func deliveriesCommand(stdout io.Writer) *command {
	return &command{
		name:    "deliveries",
		summary: "List deliveries, newest first, from the store serve uses.",
		details: `States: pending, in_flight, held, grouped (waiting); delivered, dead
(finished); digested, suppressed, silenced, dropped, collapsed (not sent by
decision); dry_run (logged by serve --dry-run, never sent).`,
		example: `switchboard deliveries --state dead --rule large-invoice
switchboard deliveries show 019a3c`,
		flags: func(f *flagSet) func([]string) error {
			store := storeFlags(f)
			state := f.str("status", "", "only deliveries in this `STATE`")
			f.alias("state", "status")
			rule := f.str("rule", "", "only deliveries of this `RULE`")
			limit := f.integer("limit", 100, "at most `N` deliveries")
			asJSON := f.boolean("json", "print JSON")
			return func(args []string) error {
				if err := noArgs("deliveries", args); err != nil {
					return err
				}
				return app.Deliveries(context.Background(), app.DeliveriesOptions{
					StoreOptions: store(), Status: *state, Rule: *rule, Limit: *limit, JSON: *asJSON,
				}, stdout)
			}
		},
	}
}

func deliveriesShowCommand(stdout io.Writer) *command {
	return &command{
		name:    "deliveries show",
		summary: "Show one delivery: what it sends, its state and every attempt.",
		args:    "DELIVERY_ID",
		details: "The ID may be shortened to any unique start of it.",
		example: "switchboard deliveries show 019a3c5e",
		flags: func(f *flagSet) func([]string) error {
			store := storeFlags(f)
			asJSON := f.boolean("json", "print JSON")
			return func(args []string) error {
				if len(args) != 1 {
					return usageError("give one delivery ID")
				}
				return app.DeliveryShow(context.Background(), store(), args[0], *asJSON, stdout)
			}
		},
	}
}

// replayFlags are the flags of `switchboard replay`.
type replayFlags struct {
	store            func() app.StoreOptions
	allDead          *bool
	channel, rule    *string
	since            *string
	rerender         *bool
	rules, templates *string
}

func (r *replayFlags) declare(f *flagSet) {
	r.store = storeFlags(f)
	r.allDead = f.boolean("all-dead", "requeue every dead letter")
	r.channel = f.str("channel", "", "requeue the dead letters of this `CHANNEL`")
	r.rule = f.str("rule", "", "requeue the dead letters of this `RULE`")
	r.since = f.str("since", "", "requeue the dead letters created this `DURATION` ago or later, e.g. 2h")
	r.rerender = f.boolean("rerender", "render them again with the current --rules and --templates instead of resending what was stored")
	r.rules, r.templates = configFlags(f)
}

func (r *replayFlags) options(ids []string) (app.ReplayOptions, error) {
	var since time.Duration
	if *r.since != "" {
		d, err := time.ParseDuration(*r.since)
		if err != nil || d <= 0 {
			return app.ReplayOptions{}, usageError("--since: want a duration such as 2h, got %q", *r.since)
		}
		since = d
	}
	return app.ReplayOptions{
		StoreOptions: r.store(), IDs: ids, AllDead: *r.allDead,
		Channel: *r.channel, Rule: *r.rule, Since: since, Rerender: *r.rerender,
		Rules: *r.rules, Templates: app.TemplatesDir(*r.rules, *r.templates),
	}, nil
}

func replayCommand(stdout io.Writer) *command {
	return &command{
		name:    "replay",
		summary: "Requeue finished deliveries (dead letters, or any sent or not sent) for a running server to send.",
		args:    "DELIVERY_ID... | --all-dead | --channel C --rule R --since 2h [--rerender]",
		details: `IDs may be shortened to any unique start of them. --channel, --rule and
--since select dead letters (created that long ago or later); with
--rerender they are rendered again with the current rules and templates.`,
		example: `switchboard replay 019a3c5e 019a3c61
switchboard replay --all-dead
switchboard replay --channel crm --since 2h --rerender`,
		flags: func(f *flagSet) func([]string) error {
			var r replayFlags
			r.declare(f)
			return func(ids []string) error {
				o, err := r.options(ids)
				if err != nil {
					return err
				}
				return app.Replay(context.Background(), o, stdout)
			}
		},
	}
}

func silenceAddCommand(stdout io.Writer) *command {
	return &command{
		name:    "silence add",
		summary: "Mute a rule, or the messages matching an expression, for a while.",
		details: `A silence of a rule the rules file does not have (or when it cannot be
read) is refused: it would mute nothing. Every running replica picks the
silence up within a second.`,
		example: `switchboard silence add --rule wallet-depleted --for 2h --reason "wallet migration"
switchboard silence add --when 'wallet.external_customer_id == "acme_1042"' --for 24h --reason "offboarding"`,
		flags: func(f *flagSet) func([]string) error {
			store := storeFlags(f)
			rules, templates := configFlags(f)
			rule := f.str("rule", "", "the `RULE` to mute")
			when := f.str("when", "", "mute only messages matching this `EXPRESSION` (the language of when)")
			dur := f.str("for", "", "how long: a `DURATION` such as 30m, 2h, 72h")
			starts := f.str("starts", "", "when the silence starts: an RFC 3339 `TIME`")
			f.defaults["starts"] = "now"
			reason := f.str("reason", "", "why: a `TEXT` for whoever wonders where the alerts went (required)")
			author := f.str("author", os.Getenv("USER"), "who adds it: a `NAME`")
			f.defaults["author"] = "$USER"
			force := f.boolean("force", "add the silence of --rule without checking the rules file")
			return func(args []string) error {
				if err := noArgs("silence add", args); err != nil {
					return err
				}
				return app.SilenceAdd(context.Background(), app.SilenceAddOptions{
					StoreOptions: store(), Rules: *rules, Templates: *templates, Force: *force,
					Rule: *rule, When: *when, For: *dur, Starts: *starts, Reason: *reason, Author: *author,
				}, stdout)
			}
		},
	}
}

func silenceListCommand(stdout io.Writer) *command {
	return &command{
		name:    "silence list",
		summary: "List the silences in force (with --all, also those ended in the last 30 days).",
		example: "switchboard silence list --all",
		flags: func(f *flagSet) func([]string) error {
			store := storeFlags(f)
			all := f.boolean("all", "include silences that ended in the last 30 days")
			asJSON := f.boolean("json", "print JSON")
			return func(args []string) error {
				if err := noArgs("silence list", args); err != nil {
					return err
				}
				return app.SilenceList(context.Background(), store(), *all, *asJSON, stdout)
			}
		},
	}
}

func silenceExpireCommand(stdout io.Writer) *command {
	return &command{
		name:    "silence expire",
		summary: "End silences now.",
		args:    "SILENCE_ID...",
		details: "IDs may be shortened to any unique start of them (sil-01a2).",
		example: "switchboard silence expire sil-01a2",
		flags: func(f *flagSet) func([]string) error {
			store := storeFlags(f)
			return func(ids []string) error {
				if len(ids) == 0 {
					return usageError("give at least one silence ID")
				}
				return app.SilenceExpire(context.Background(), store(), ids, stdout)
			}
		},
	}
}
