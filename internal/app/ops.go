package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/internal/api"
	"github.com/switchboard-dev/switchboard/internal/fatigue"
	"github.com/switchboard-dev/switchboard/internal/lago"
	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/internal/wiring"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router"
)

// StoreOptions locate the store.
type StoreOptions struct {
	DataDir     string
	DatabaseURL secret.URL
}

// UsageError is a command line that cannot be run as written: the
// command exits 2, as for a flag it does not know.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// NoStoreError says that a command that works on an existing store found
// none where it looked; only serve creates a store.
type NoStoreError struct {
	// Path is the SQLite database file looked for.
	Path string
}

func (e *NoStoreError) Error() string {
	return fmt.Sprintf("no store at %s (serve creates it; give the directory serve uses with --data or SWITCHBOARD_DATA, or --database)", e.Path)
}

// openExistingStore opens the store serve keeps, never creating one: a
// command run in the wrong directory says where it looked instead of
// showing an empty new store.
func openExistingStore(ctx context.Context, o StoreOptions) (*store.Store, error) {
	if o.DatabaseURL == "" {
		dir := o.DataDir
		if dir == "" {
			dir = "data"
		}
		path := filepath.Join(dir, store.FileName)
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		if _, err := os.Stat(path); err != nil {
			return nil, &NoStoreError{Path: path}
		}
	}
	st, err := store.Open(ctx, store.Options{DataDir: o.DataDir, DatabaseURL: o.DatabaseURL.Reveal()})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", secretFree(err, o.DatabaseURL))
	}
	return st, nil
}

// expandID resolves an ID or the start of one (as listings show it).
func expandID(ctx context.Context, st *store.Store, kind, id string) (string, error) {
	full, err := st.ExpandID(ctx, kind, id)
	var amb *store.AmbiguousIDError
	switch {
	case err == nil:
		return full, nil
	case errors.As(err, &amb):
		return "", err
	case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrSilenceNotFound):
		what := "delivery"
		if kind == store.SilenceIDs {
			what = "silence"
		}
		return "", fmt.Errorf("%s: no %s with this ID", id, what)
	}
	return "", err
}

// DeliveriesOptions are the settings of `switchboard deliveries`.
type DeliveriesOptions struct {
	StoreOptions
	Status string
	Rule   string
	Limit  int
	JSON   bool
}

// Deliveries lists deliveries, newest first.
func Deliveries(ctx context.Context, o DeliveriesOptions, stdout io.Writer) error {
	if o.Status != "" && !store.ValidState(o.Status) {
		return usagef("--status must be one of %s", strings.Join(store.States, ", "))
	}
	st, err := openExistingStore(ctx, o.StoreOptions)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.List(ctx, store.Filter{Status: o.Status, Rule: o.Rule, Limit: o.Limit})
	if err != nil {
		return err
	}
	if o.JSON {
		// The API's shape; paths and headers are left out (they may
		// carry credentials).
		out := make([]api.DeliveryJSON, 0, len(list))
		for _, d := range list {
			out = append(out, api.NewDeliveryJSON(d))
		}
		return encodeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tTYPE\tRULE\tCHANNEL\tSTATE\tATTEMPTS\tLAST ERROR / REASON")
	for _, d := range list {
		note := d.LastError
		if note == "" {
			note = fatigue.ReasonText(d.State, d.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.CreatedAt.UTC().Format(time.RFC3339),
			d.WebhookType, d.Rule, d.Channel, d.State, d.Attempts, truncate(note, 80))
	}
	return tw.Flush()
}

// DeliveryShow prints one delivery (given by its ID or the start of it)
// with what it sends and every attempt.
func DeliveryShow(ctx context.Context, o StoreOptions, id string, asJSON bool, stdout io.Writer) error {
	st, err := openExistingStore(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	full, err := expandID(ctx, st, store.DeliveryIDs, id)
	if err != nil {
		return err
	}
	d, attempts, err := st.Get(ctx, full)
	if err != nil {
		return err
	}
	out := api.NewDeliveryJSON(d)
	p := d.Parts
	// The query of an HTTP path may carry a credential; header values
	// are secret fields.
	if p.Path != "" {
		p.Path = secret.RedactURL("http://x" + p.Path)[len("http://x"):]
	}
	kind := "slack"
	switch {
	case len(p.To) > 0 || p.Subject != "" || p.HTML != "":
		kind = "email"
	case p.Body != "" || p.Path != "" || p.ContentType != "":
		kind = "http"
	}
	out.Parts = api.PartsMap(kind, p)
	if asJSON {
		return encodeJSON(stdout, map[string]any{"delivery": out, "attempts": attempts})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("ID", d.ID)
	row("State", d.State)
	row("Rule", d.Rule)
	row("Channel", d.Channel)
	row("Message", d.MessageID+" ("+d.WebhookType+" from "+d.Source+")")
	row("Created", d.CreatedAt.UTC().Format(time.RFC3339))
	if out.NextAttempt != nil {
		row("Next attempt", out.NextAttempt.UTC().Format(time.RFC3339))
	}
	if d.DeliveredAt != nil {
		row("Delivered", d.DeliveredAt.UTC().Format(time.RFC3339))
	}
	row("Last error", d.LastError)
	row("Reason", fatigue.ReasonText(d.State, d.Reason))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, k := range sortedParts(out.Parts) {
		v := out.Parts[k]
		if strings.Contains(v, "\n") {
			fmt.Fprintf(stdout, "%s:\n%s\n", k, indent(strings.TrimRight(v, "\n"), "  "))
		} else {
			fmt.Fprintf(stdout, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintf(stdout, "Attempts: %d\n", len(attempts))
	if len(attempts) > 0 {
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tSTARTED\tDURATION\tOUTCOME\tBY\tERROR")
		for _, a := range attempts {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", a.No, a.StartedAt.UTC().Format(time.RFC3339), a.Duration.Round(time.Millisecond),
				a.Outcome, a.Owner, a.Error)
		}
		return tw.Flush()
	}
	return nil
}

func sortedParts(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && partOrder(keys[j]) < partOrder(keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ReplayOptions are the settings of `switchboard replay`.
type ReplayOptions struct {
	StoreOptions
	// IDs requeues these deliveries (dead, delivered, or not sent by
	// decision).
	IDs []string
	// The start of an ID is enough when it is unique.
	// AllDead requeues every dead letter, or, with filters, every one
	// they select.
	AllDead bool
	// Channel, Rule and Since (dead letters created that long ago or
	// later) select dead letters; they cannot be combined with IDs.
	Channel string
	Rule    string
	Since   time.Duration
	// Rerender renders the selected dead letters again with the rules
	// file Rules and the templates in Templates instead of resending what
	// was stored.
	Rerender         bool
	Rules, Templates string
}

// Replay requeues dead (or delivered) deliveries: by ID, every dead
// letter, or the dead letters of a channel, a rule and a time range,
// rendered again when asked. A running server picks them up on its next
// poll.
func Replay(ctx context.Context, o ReplayOptions, stdout io.Writer) error {
	filtered := o.Channel != "" || o.Rule != "" || o.Since != 0 || o.Rerender
	switch {
	case len(o.IDs) > 0 && (o.AllDead || filtered):
		return usagef("give delivery IDs, or --all-dead and filters (--channel, --rule, --since, --rerender), not both")
	case len(o.IDs) == 0 && !o.AllDead && !filtered:
		return usagef("give delivery IDs, --all-dead, or filters (--channel, --rule, --since)")
	case o.Since < 0:
		return usagef("--since must be positive, e.g. 2h")
	}
	f := store.ReplayFilter{Channel: o.Channel, Rule: o.Rule}
	if o.Since > 0 {
		f.Since = time.Now().Add(-o.Since)
	}
	if o.Rerender {
		rs, _, err := router.Load(router.LoadOptions{Builder: wiring.Builder{}, RulesPath: o.Rules, TemplatesDir: o.Templates, DryRun: true})
		if err != nil {
			return fmt.Errorf("--rerender: load the rules: %w", err)
		}
		defer rs.Close()
		f.Rerender = func(d store.StoredDelivery, body []byte) (notifiers.Parts, error) {
			return rs.Rerender(d.Rule, d.Channel, d.MessageID, d.Source, d.ReceivedAt, body)
		}
	}
	st, err := openExistingStore(ctx, o.StoreOptions)
	if err != nil {
		return err
	}
	defer st.Close()
	var res store.ReplayResult
	switch {
	case filtered, o.AllDead:
		res, err = st.ReplayMatching(ctx, f)
	default:
		ids := make([]string, 0, len(o.IDs))
		var errs []error
		for _, id := range o.IDs {
			full, err := expandID(ctx, st, store.DeliveryIDs, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			ids = append(ids, full)
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		res.Replayed, err = st.Replay(ctx, ids)
	}
	if err != nil {
		return err
	}
	n := res.Replayed
	fmt.Fprintf(stdout, "requeued %d deliver%s\n", n, map[bool]string{true: "y", false: "ies"}[n == 1])
	for _, fl := range res.Failed {
		fmt.Fprintf(stdout, "left dead %s: %s\n", fl.ID, fl.Error)
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d dead letters left dead", len(res.Failed))
	}
	if len(o.IDs) > 0 && n < len(o.IDs) {
		return fmt.Errorf("%d of %d deliveries were not replayable (only finished ones are: dead, delivered, suppressed, silenced, dropped, collapsed; "+
			"a dead letter whose template failed has nothing to send: replay it with --rerender and --channel/--rule/--since)", len(o.IDs)-n, len(o.IDs))
	}
	return nil
}

// Catalog prints Lago's webhook types, or with a type, its summary and
// example payload.
func Catalog(typ string, asJSON bool, stdout io.Writer) error {
	c, err := lago.Load()
	if err != nil {
		return err
	}
	if typ == "" {
		if asJSON {
			return encodeJSON(stdout, map[string]any{"types": c.Types()})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WEBHOOK TYPE\tOBJECT\tWHEN LAGO SENDS IT")
		for _, t := range c.Types() {
			summary := t.Summary
			if t.Deprecated {
				summary = "(deprecated) " + summary
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.WebhookType, t.ObjectKey, summary)
		}
		return tw.Flush()
	}
	t, ok := c.Type(typ)
	if !ok {
		return fmt.Errorf("%q is not a Lago webhook type (switchboard catalog lists them)", typ)
	}
	ex, _ := c.Example(typ)
	if asJSON {
		return encodeJSON(stdout, map[string]any{"type": t, "example": json.RawMessage(ex)})
	}
	// The payload alone, to save and give to `switchboard test`.
	_, err = stdout.Write(ex)
	if len(ex) > 0 && ex[len(ex)-1] != '\n' {
		fmt.Fprintln(stdout)
	}
	return err
}
