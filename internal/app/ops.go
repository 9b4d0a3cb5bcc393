package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/internal/secret"
	"github.com/switchboard-dev/switchboard/internal/store"
	"github.com/switchboard-dev/switchboard/notifiers"
	"github.com/switchboard-dev/switchboard/router"
)

// StoreOptions locate the store.
type StoreOptions struct {
	DataDir     string
	DatabaseURL secret.URL
}

func openStore(ctx context.Context, o StoreOptions) (*store.Store, error) {
	st, err := store.Open(ctx, store.Options{DataDir: o.DataDir, DatabaseURL: o.DatabaseURL.Reveal()})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", secretFree(err, o.DatabaseURL))
	}
	return st, nil
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
		return fmt.Errorf("--status must be one of %s", strings.Join(store.States, ", "))
	}
	st, err := openStore(ctx, o.StoreOptions)
	if err != nil {
		return err
	}
	defer st.Close()
	list, err := st.List(ctx, store.Filter{Status: o.Status, Rule: o.Rule, Limit: o.Limit})
	if err != nil {
		return err
	}
	if o.JSON {
		for i := range list {
			// HTTP paths may carry a credential in their query and header
			// values are secret fields.
			if list[i].Parts.Path != "" {
				list[i].Parts.Path = secret.RedactURL("http://x" + list[i].Parts.Path)[len("http://x"):]
			}
			for k := range list[i].Parts.Headers {
				list[i].Parts.Headers[k] = secret.Redacted
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tTYPE\tRULE\tCHANNEL\tSTATUS\tATTEMPTS\tLAST ERROR / REASON")
	for _, d := range list {
		note := d.LastError
		if note == "" {
			note = d.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.CreatedAt.UTC().Format(time.RFC3339),
			d.WebhookType, d.Rule, d.Channel, d.State, d.Attempts, truncate(note, 80))
	}
	return tw.Flush()
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
		return fmt.Errorf("give delivery IDs, or --all-dead and filters (--channel, --rule, --since, --rerender), not both")
	case len(o.IDs) == 0 && !o.AllDead && !filtered:
		return fmt.Errorf("give delivery IDs, --all-dead, or filters (--channel, --rule, --since)")
	case o.Since < 0:
		return fmt.Errorf("--since must be positive, e.g. 2h")
	}
	f := store.ReplayFilter{Channel: o.Channel, Rule: o.Rule}
	if o.Since > 0 {
		f.Since = time.Now().Add(-o.Since)
	}
	if o.Rerender {
		rs, _, err := router.Load(router.LoadOptions{RulesPath: o.Rules, TemplatesDir: o.Templates, DryRun: true})
		if err != nil {
			return fmt.Errorf("--rerender: load the rules: %w", err)
		}
		defer rs.Close()
		f.Rerender = func(d store.Delivery, body []byte) (notifiers.Parts, error) {
			return rs.Rerender(d.Rule, d.Channel, d.MessageID, d.Source, d.ReceivedAt, body)
		}
	}
	st, err := openStore(ctx, o.StoreOptions)
	if err != nil {
		return err
	}
	defer st.Close()
	var res store.ReplayResult
	switch {
	case filtered:
		res, err = st.ReplayMatching(ctx, f)
	case o.AllDead:
		res.Replayed, err = st.ReplayDead(ctx)
	default:
		res.Replayed, err = st.Replay(ctx, o.IDs)
	}
	n := res.Replayed
	fmt.Fprintf(stdout, "requeued %d deliver%s\n", n, map[bool]string{true: "y", false: "ies"}[n == 1])
	for _, fl := range res.Failed {
		fmt.Fprintf(stdout, "left dead %s: %s\n", fl.ID, fl.Error)
	}
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d dead letters could not be rendered again", len(res.Failed))
	}
	if len(o.IDs) > 0 && n < len(o.IDs) {
		return fmt.Errorf("%d of %d IDs were not found or not replayable", len(o.IDs)-n, len(o.IDs))
	}
	return nil
}
