// Command switchboard routes webhooks (Lago's and any JSON sender's)
// through YAML rules to Slack, email and HTTP.
//
//	switchboard serve  [--rules rules.yaml] [--templates templates/] [--listen :8080] [--data ./data] [--database postgres://…] [--dry-run]
//	switchboard check  [--rules rules.yaml] [--templates templates/]
//	switchboard test   [--rules rules.yaml] [--templates templates/] MESSAGE.json [...]
//	switchboard deliveries [--data ./data | --database URL] [--status dead|pending|delivered] [--rule R]
//	switchboard replay     [--data ./data | --database URL] DELIVERY_ID... | --all-dead
//	switchboard silence add|list|expire [--data ./data | --database URL] …
//
// Every flag has an environment variable: SWITCHBOARD_RULES,
// SWITCHBOARD_TEMPLATES, SWITCHBOARD_LISTEN, SWITCHBOARD_DATA,
// SWITCHBOARD_DATABASE, SWITCHBOARD_DRY_RUN, SWITCHBOARD_ADMIN_TOKEN,
// SWITCHBOARD_EDITOR_VARS,
// SWITCHBOARD_MAX_CONNS_PER_CLIENT, SWITCHBOARD_REQUEST_MEMORY,
// SWITCHBOARD_LOG_LEVEL, SWITCHBOARD_LOG_FORMAT.
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
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/switchboard-dev/switchboard/internal/app"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/router"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Switchboard routes webhooks through YAML rules to Slack, email and HTTP.

Usage:
  switchboard serve      [--rules F] [--templates D] [--listen ADDR] [--data D | --database URL] [--dry-run]
  switchboard check      [--rules F] [--templates D]
  switchboard test       [--rules F] [--templates D] [--source S] [--json] MESSAGE.json [...]
  switchboard deliveries [--data D | --database URL] [--status STATE] [--rule R] [--limit N] [--json]
  switchboard replay     [--data D | --database URL] DELIVERY_ID... | --all-dead
  switchboard silence add    [--data D | --database URL] [--rule R] [--when EXPR] --for 2h --reason TEXT [--author NAME] [--starts TIME]
  switchboard silence list   [--data D | --database URL] [--all] [--json]
  switchboard silence expire [--data D | --database URL] SILENCE_ID...
  switchboard version

Run "switchboard COMMAND --help" for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(rest, stderr)
	case "check":
		err = check(rest, stdout, stderr)
	case "test":
		err = testCmd(rest, stdout, stderr)
	case "deliveries":
		err = deliveries(rest, stdout, stderr)
	case "replay":
		err = replay(rest, stdout, stderr)
	case "silence":
		err = silenceCmd(rest, stdout, stderr)
	case "version", "--version", "-version", "-v":
		fmt.Fprintln(stdout, "switchboard", buildVersion())
		return 0
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, app.ErrFailed):
		return 1
	default:
		fmt.Fprintln(stderr, "switchboard:", err)
		return 1
	}
}

var errUsage = errors.New("usage")

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// flags is a FlagSet whose defaults come from SWITCHBOARD_* variables.
type flags struct {
	*flag.FlagSet
}

func newFlags(name string, stderr io.Writer) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return flags{fs}
}

func envName(flagName string) string {
	return "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f flags) str(name, env, def, help string) *string {
	if env == "" {
		env = envName(name)
	}
	if v, ok := os.LookupEnv(env); ok && v != "" {
		def = v
	}
	return f.String(name, def, help+" (env "+env+")")
}

func (f flags) boolFlag(name, help string) *bool {
	env := envName(name)
	def := false
	if v, ok := os.LookupEnv(env); ok {
		def, _ = strconv.ParseBool(v)
	}
	return f.Bool(name, def, help+" (env "+env+")")
}

// parse parses flags that may be interleaved with positional arguments
// ("test msg.json --rules r.yaml") and returns the positional ones.
func (f flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func configFlags(f flags) (rules, templates *string) {
	rules = f.str("rules", "", "rules.yaml", "rules file")
	templates = f.str("templates", "", "templates", "templates directory")
	return
}

func storeFlags(f flags) (data, database *string) {
	data = f.str("data", "", "./data", "data directory for the embedded SQLite store")
	database = f.str("database", "", "", "PostgreSQL URL (postgres://…); overrides --data")
	return
}

func newLogger(stderr io.Writer) *slog.Logger {
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
	if strings.ToLower(os.Getenv("SWITCHBOARD_LOG_FORMAT")) == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func serve(args []string, stderr io.Writer) error {
	f := newFlags("serve", stderr)
	rules, templates := configFlags(f)
	data, database := storeFlags(f)
	listen := f.str("listen", "", ":8080", "listen address")
	dryRun := f.boolFlag("dry-run", "route and render for real, but log each notification instead of sending it")
	perClient := f.str("max-conns-per-client", "", strconv.Itoa(app.DefaultMaxConnsPerClient),
		"most connections open at once from one client address; 0: no bound (behind a reverse proxy)")
	reqMem := f.str("request-memory", "", "96MiB", "most bytes of request headers and bodies held at once; 0: no bound")
	if pos, err := f.parse(args); err != nil {
		return err
	} else if len(pos) > 0 {
		fmt.Fprintf(stderr, "serve takes no arguments (got %q)\n", pos)
		return errUsage
	}
	maxConns, err := strconv.Atoi(*perClient)
	if err != nil || maxConns < 0 {
		fmt.Fprintf(stderr, "--max-conns-per-client: want a whole number >= 0, got %q\n", *perClient)
		return errUsage
	}
	memory, err := router.ParseByteSize(*reqMem)
	if err != nil || memory < 0 {
		fmt.Fprintf(stderr, "--request-memory: want a size such as 96MiB, got %q\n", *reqMem)
		return errUsage
	}
	// 0 means "no bound" on the command line, where app takes negative.
	if maxConns == 0 {
		maxConns = -1
	}
	if memory == 0 {
		memory = -1
	}
	logger := newLogger(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	err = app.Serve(ctx, app.ServeOptions{
		Rules: *rules, Templates: *templates, Listen: *listen, DataDir: *data,
		DatabaseURL: secret.URL(*database), DryRun: *dryRun,
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

func check(args []string, stdout, stderr io.Writer) error {
	f := newFlags("check", stderr)
	rules, templates := configFlags(f)
	dryRun := f.boolFlag("dry-run", "treat unset environment variables as warnings")
	if _, err := f.parse(args); err != nil {
		return err
	}
	return app.Check(app.ConfigOptions{Rules: *rules, Templates: *templates, DryRun: *dryRun}, stdout, stderr)
}

func testCmd(args []string, stdout, stderr io.Writer) error {
	f := newFlags("test", stderr)
	rules, templates := configFlags(f)
	source := f.String("source", "", "source name the messages come from (default: the first source)")
	asJSON := f.Bool("json", false, "print results as JSON")
	data := f.String("data", "", "also consult this data directory's throttle windows, digest groups and silences")
	database := f.String("database", "", "also consult this PostgreSQL database's throttle windows, digest groups and silences")
	msgs, err := f.parse(args)
	if err != nil {
		return err
	}
	return app.Test(app.TestOptions{
		ConfigOptions: app.ConfigOptions{Rules: *rules, Templates: *templates},
		Source:        *source, JSON: *asJSON, Messages: msgs,
		Live: app.StoreOptions{DataDir: *data, DatabaseURL: secret.URL(*database)},
	}, stdout, stderr)
}

func deliveries(args []string, stdout, stderr io.Writer) error {
	f := newFlags("deliveries", stderr)
	data, database := storeFlags(f)
	status := f.String("status", "", "only deliveries in this state: pending, in_flight, held, grouped, delivered, dead, digested, suppressed, silenced, dropped, collapsed")
	rule := f.String("rule", "", "only deliveries of this rule")
	limit := f.Int("limit", 100, "at most this many")
	asJSON := f.Bool("json", false, "print JSON")
	if _, err := f.parse(args); err != nil {
		return err
	}
	return app.Deliveries(context.Background(), app.DeliveriesOptions{
		StoreOptions: app.StoreOptions{DataDir: *data, DatabaseURL: secret.URL(*database)},
		Status:       *status, Rule: *rule, Limit: *limit, JSON: *asJSON,
	}, stdout)
}

func replay(args []string, stdout, stderr io.Writer) error {
	f := newFlags("replay", stderr)
	data, database := storeFlags(f)
	allDead := f.Bool("all-dead", false, "requeue every dead letter")
	channel := f.String("channel", "", "requeue the dead letters of this channel")
	rule := f.String("rule", "", "requeue the dead letters of this rule")
	since := f.Duration("since", 0, "requeue the dead letters created this long ago or later, e.g. 2h")
	rerender := f.Bool("rerender", false, "render them again with the current --rules and --templates instead of resending what was stored")
	rules, templates := configFlags(f)
	ids, err := f.parse(args)
	if err != nil {
		return err
	}
	return app.Replay(context.Background(), app.ReplayOptions{
		StoreOptions: app.StoreOptions{DataDir: *data, DatabaseURL: secret.URL(*database)},
		IDs:          ids, AllDead: *allDead,
		Channel: *channel, Rule: *rule, Since: *since, Rerender: *rerender, Rules: *rules, Templates: *templates,
	}, stdout)
}

func silenceCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: switchboard silence add|list|expire [flags]")
		return errUsage
	}
	sub, args := args[0], args[1:]
	f := newFlags("silence "+sub, stderr)
	data, database := storeFlags(f)
	// Read after parsing.
	so := func() app.StoreOptions { return app.StoreOptions{DataDir: *data, DatabaseURL: secret.URL(*database)} }
	switch sub {
	case "add":
		rules := f.str("rules", "", "rules.yaml", "rules file: a silence of an unknown rule is refused when it is readable")
		rule := f.String("rule", "", "the rule to mute")
		when := f.String("when", "", "mute only messages matching this expression (the language of when)")
		dur := f.String("for", "", "how long, e.g. 30m, 2h, 72h")
		starts := f.String("starts", "", "when the silence starts (RFC 3339; default now)")
		reason := f.String("reason", "", "why (required)")
		author := f.String("author", os.Getenv("USER"), "who (default $USER)")
		rest, err := f.parse(args)
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "switchboard silence add: unexpected argument %q\n", rest[0])
			return errUsage
		}
		return app.SilenceAdd(context.Background(), app.SilenceAddOptions{
			StoreOptions: so(), Rules: *rules, Rule: *rule, When: *when, For: *dur, Starts: *starts,
			Reason: *reason, Author: *author,
		}, stdout)
	case "list":
		all := f.Bool("all", false, "include expired silences (of the last 30 days)")
		asJSON := f.Bool("json", false, "print JSON")
		if _, err := f.parse(args); err != nil {
			return err
		}
		return app.SilenceList(context.Background(), so(), *all, *asJSON, stdout)
	case "expire":
		ids, err := f.parse(args)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			fmt.Fprintln(stderr, "usage: switchboard silence expire SILENCE_ID...")
			return errUsage
		}
		return app.SilenceExpire(context.Background(), so(), ids, stdout)
	default:
		fmt.Fprintf(stderr, "switchboard silence: unknown subcommand %q (add, list, expire)\n", sub)
		return errUsage
	}
}
